// Package ripestat reads RIPEstat bgp-updates responses: the JSON the
// data call writes (https://stat.ripe.net/data/bgp-updates/data.json?
// resource=PREFIX&starttime=...&endtime=..., saved as it comes, plain,
// gzip or bzip2), the RIS collectors' updates for one resource, which is
// how incidents are often shared. Each announcement and withdrawal becomes
// one bgpfeed.Update, as the MRT reader gives them, so `score` and `dump`
// take these files as inputs.
//
// What the format does not carry is made up the same way for every
// update: the collector is "rrc" and the two digits of source_id; the
// peer's AS is the first AS of its announcements' paths (a withdrawal
// carries no path; a peer that only withdraws has AS 0); the ORIGIN
// attribute, next hop, MED and LOCAL_PREF are absent (IGP, unset).
// Several files are merged into one stream in time order (one second
// resolution), each file's updates in their seq order within a second.
// An update that cannot be read (a bad prefix, path or type) is skipped
// and counted, as the MRT reader does a bad record.
package ripestat

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// ErrNotRIPEstat is returned for a file that is not a bgp-updates
// response.
var ErrNotRIPEstat = errors.New("ripestat: not a RIPEstat bgp-updates response (no data.updates)")

// Options configure a Reader.
type Options struct {
	// Interner shares paths with other readers (nil: the Reader's own).
	Interner *bgpfeed.Interner
}

// Reader replays the updates of one or more responses in time order.
type Reader struct {
	us    []bgpfeed.Update
	i     int
	stats mrt.Stats
}

type response struct {
	Data *struct {
		Updates []update `json:"updates"`
	} `json:"data"`
}

type update struct {
	Seq       int64  `json:"seq"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Attrs     struct {
		SourceID     string            `json:"source_id"`
		TargetPrefix string            `json:"target_prefix"`
		Path         []json.RawMessage `json:"path"`
		Community    []string          `json:"community"`
	} `json:"attrs"`
}

// Is reports whether the file at path looks like a JSON document (its
// first byte after blanks, decompressed, is '{'): an MRT file cannot
// start so before 2035.
func Is(path string) (bool, error) {
	zr, err := mrt.OpenFile(path)
	if err != nil {
		return false, err
	}
	defer zr.Close()
	br := bufio.NewReader(zr)
	for {
		c, err := br.ReadByte()
		if err != nil {
			return false, nil
		}
		if !strings.ContainsRune(" \t\r\n", rune(c)) {
			return c == '{', nil
		}
	}
}

// maxFile bounds a response's size, decompressed: the data call pages its
// answers, so a file is at most a few hundred MB.
const maxFile = 1 << 30

// Open reads the responses at paths whole.
func Open(paths []string, opts Options) (*Reader, error) {
	in := opts.Interner
	if in == nil {
		in = bgpfeed.NewInterner(0)
	}
	r := &Reader{stats: mrt.Stats{Skipped: map[string]int64{}}}
	type keyed struct {
		u   bgpfeed.Update
		seq int64
		n   int // position over all files, for a stable order
	}
	var all []keyed
	peerAS := map[string]uint32{}
	var files [][]update
	for _, p := range paths {
		ups, err := readFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, ups)
		for i := range ups {
			a := &ups[i].Attrs
			if _, ok := peerAS[a.SourceID]; !ok && ups[i].Type == "A" && len(a.Path) > 0 {
				if asn, err := strconv.ParseUint(string(a.Path[0]), 10, 32); err == nil {
					peerAS[a.SourceID] = uint32(asn)
				}
			}
		}
	}
	r.stats.Files = len(paths)
	var key []byte
	for fi, ups := range files {
		for i := range ups {
			r.stats.Records++
			u, err := convert(&ups[i], peerAS, in, &key)
			if err != nil {
				r.stats.Skipped["update"]++
				if len(r.stats.Samples) < 20 {
					r.stats.Samples = append(r.stats.Samples, mrt.RecordError{File: paths[fi], Offset: int64(i), Kind: "update", Err: err})
				}
				continue
			}
			all = append(all, keyed{u, ups[i].Seq, len(all)})
		}
	}
	slices.SortFunc(all, func(a, b keyed) int {
		return cmp.Or(a.u.Time.Compare(b.u.Time), cmp.Compare(a.seq, b.seq), cmp.Compare(a.n, b.n))
	})
	r.us = make([]bgpfeed.Update, len(all))
	for i := range all {
		r.us[i] = all[i].u
	}
	return r, nil
}

func readFile(path string) ([]update, error) {
	zr, err := mrt.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("ripestat: %w", err)
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("ripestat: %s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("ripestat: %s: over %d bytes", path, maxFile)
	}
	var resp response
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&resp); err != nil {
		return nil, fmt.Errorf("ripestat: %s: %w", path, err)
	}
	if resp.Data == nil || resp.Data.Updates == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotRIPEstat, path)
	}
	return resp.Data.Updates, nil
}

// convert makes the Update of one response entry.
func convert(e *update, peerAS map[string]uint32, in *bgpfeed.Interner, key *[]byte) (bgpfeed.Update, error) {
	var u bgpfeed.Update
	t, err := time.Parse("2006-01-02T15:04:05", e.Timestamp)
	if err != nil {
		return u, fmt.Errorf("timestamp %q: %w", e.Timestamp, err)
	}
	rrc, ip, ok := strings.Cut(e.Attrs.SourceID, "-")
	if !ok || len(rrc) == 0 {
		return u, fmt.Errorf("source_id %q: want RRC-PEERADDRESS", e.Attrs.SourceID)
	}
	peer, err := netip.ParseAddr(ip)
	if err != nil {
		return u, fmt.Errorf("source_id %q: %w", e.Attrs.SourceID, err)
	}
	pfx, err := netip.ParsePrefix(e.Attrs.TargetPrefix)
	if err != nil || pfx.Masked() != pfx {
		return u, fmt.Errorf("target_prefix %q: not a prefix", e.Attrs.TargetPrefix)
	}
	u = bgpfeed.Update{Time: t.UTC(), Source: "rrc" + rrc, Format: bgpfeed.FormatRIPEstat, PeerAddr: peer.Unmap(), PeerASN: peerAS[e.Attrs.SourceID], Prefix: pfx}
	switch e.Type {
	case "W":
		u.Kind = bgpfeed.KindWithdraw
		return u, nil
	case "A":
	default:
		return u, fmt.Errorf("type %q: want A or W", e.Type)
	}
	segs, err := parsePath(e.Attrs.Path)
	if err != nil {
		return u, err
	}
	at := &bgpfeed.Attrs{OriginType: bgpfeed.OriginIGP}
	*key = bgpfeed.AppendKey((*key)[:0], segs)
	at.Path = in.Intern(*key, segs)
	for _, c := range e.Attrs.Community {
		hi, lo, ok := strings.Cut(c, ":")
		a, err1 := strconv.ParseUint(hi, 10, 16)
		b, err2 := strconv.ParseUint(lo, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			continue // a large or extended community: not kept
		}
		at.Communities = append(at.Communities, uint32(a)<<16|uint32(b))
	}
	u.Kind, u.Attrs = bgpfeed.KindAnnounce, at
	return u, nil
}

// parsePath reads a path of AS numbers, an AS set written as an array of
// them.
func parsePath(p []json.RawMessage) ([]bgpfeed.Segment, error) {
	if len(p) == 0 {
		return nil, errors.New("announcement without a path")
	}
	var segs []bgpfeed.Segment
	for _, x := range p {
		if len(x) > 0 && x[0] == '[' {
			var set []uint32
			if err := json.Unmarshal(x, &set); err != nil || len(set) == 0 {
				return nil, fmt.Errorf("path element %s: not an AS set", x)
			}
			segs = append(segs, bgpfeed.Segment{Type: bgpfeed.SegSet, ASNs: set})
			continue
		}
		asn, err := strconv.ParseUint(string(x), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("path element %s: not an AS number", x)
		}
		if n := len(segs); n > 0 && segs[n-1].Type == bgpfeed.SegSequence {
			segs[n-1].ASNs = append(segs[n-1].ASNs, uint32(asn))
		} else {
			segs = append(segs, bgpfeed.Segment{Type: bgpfeed.SegSequence, ASNs: []uint32{uint32(asn)}})
		}
	}
	return segs, nil
}

// Next returns the next update in time order, io.EOF after the last.
func (r *Reader) Next(ctx context.Context) (bgpfeed.Update, error) {
	if r.i&1023 == 0 {
		if err := ctx.Err(); err != nil {
			return bgpfeed.Update{}, err
		}
	}
	if r.i >= len(r.us) {
		return bgpfeed.Update{}, io.EOF
	}
	u := r.us[r.i]
	r.us[r.i] = bgpfeed.Update{}
	r.i++
	return u, nil
}

// Progress is the updates returned and their total.
func (r *Reader) Progress() (done, total int64) { return int64(r.i), int64(len(r.us)) }

// Stats are the files, entries (as Records) and skipped entries read.
func (r *Reader) Stats() mrt.Stats { return r.stats }

// Close releases the updates.
func (r *Reader) Close() error { r.us = nil; return nil }

var _ bgpfeed.Source = (*Reader)(nil)
