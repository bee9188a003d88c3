package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

func runDump(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dump", "[--stats] FILE|DIR|GLOB...",
		`Decodes MRT archives (RIPE RIS, RouteViews, BIRD/OpenBGPD/Quagga dumps;
BGP4MP, BGP4MP_ET, TABLE_DUMP, TABLE_DUMP_V2, with ADD-PATH; gzip, bzip2 or
plain, detected from the content) and prints every element in the one-line
format of 'bgpdump -m', so the output can be diffed against bgpdump. Several
files are merged in timestamp order; directories are read recursively.
RIPEstat bgp-updates responses (JSON files, not mixed with MRT in one run)
are read too. With --stats it prints a summary instead. Malformed records are skipped,
counted by kind and reported with their file and byte offset on stderr.`, stderr)
	stats := fs.Bool("stats", false, "print a summary (records, announcements, withdrawals, peers, prefixes, skipped records, time range) instead of the elements")
	workers := fs.Int("workers", 0, "decoding goroutines (0 = one per CPU)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	r, err := openUpdates(fs.Args(), mrt.Options{Workers: *workers})
	if err != nil {
		return err
	}
	defer r.Close()
	w := bufio.NewWriterSize(stdout, 1<<20)
	defer w.Flush()
	var sum summary
	sum.start = time.Now()
	var line []byte
	for {
		u, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if *stats {
			sum.add(&u)
			continue
		}
		line = mrt.AppendBGPDump(line[:0], &u)
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	st := r.Stats()
	if *stats {
		sum.print(w, &st)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	reportSkips(stderr, &st)
	return nil
}

// reportSkips writes what was skipped to stderr (always, so no loss is silent).
func reportSkips(w io.Writer, st *mrt.Stats) {
	for _, f := range st.SkippedFiles {
		fmt.Fprintf(w, "bgpsentry: skipped %s: not an MRT file\n", f)
	}
	if st.TotalSkipped() == 0 {
		return
	}
	var parts []string
	for _, k := range st.SkippedKinds() {
		parts = append(parts, fmt.Sprintf("%s=%d", k, st.Skipped[k]))
	}
	fmt.Fprintf(w, "bgpsentry: skipped %d records: %s\n", st.TotalSkipped(), strings.Join(parts, " "))
	for _, s := range st.Samples {
		fmt.Fprintf(w, "  %s\n", s.Error())
	}
}

type peerKey struct {
	addr netip.Addr
	asn  uint32
}

// summary is what `dump --stats` counts.
type summary struct {
	start                 time.Time
	elements, ann, wd, st int64
	table, local          int64
	first, last           time.Time
	peers                 map[peerKey]struct{}
	prefixes              map[netip.Prefix]struct{}
	v4, v6                int64
}

func (s *summary) add(u *bgpfeed.Update) {
	if s.peers == nil {
		s.peers = make(map[peerKey]struct{})
		s.prefixes = make(map[netip.Prefix]struct{})
	}
	s.elements++
	if s.first.IsZero() || u.Time.Before(s.first) {
		s.first = u.Time
	}
	if u.Time.After(s.last) {
		s.last = u.Time
	}
	s.peers[peerKey{u.PeerAddr, u.PeerASN}] = struct{}{}
	switch u.Kind {
	case bgpfeed.KindAnnounce:
		s.ann++
		if u.Table {
			s.table++
		}
	case bgpfeed.KindWithdraw:
		s.wd++
	case bgpfeed.KindState:
		s.st++
		return
	}
	if u.Local {
		s.local++
	}
	if _, ok := s.prefixes[u.Prefix]; !ok {
		s.prefixes[u.Prefix] = struct{}{}
		if u.Prefix.Addr().Is4() {
			s.v4++
		} else {
			s.v6++
		}
	}
}

func (s *summary) print(w io.Writer, st *mrt.Stats) {
	el := time.Since(s.start)
	fmt.Fprintf(w, "files            %d\n", st.Files)
	fmt.Fprintf(w, "records          %d\n", st.Records)
	fmt.Fprintf(w, "elements         %d\n", s.elements)
	fmt.Fprintf(w, "  announcements  %d (RIB table entries %d, collector-sent %d)\n", s.ann, s.table, s.local)
	fmt.Fprintf(w, "  withdrawals    %d\n", s.wd)
	fmt.Fprintf(w, "  state changes  %d\n", s.st)
	fmt.Fprintf(w, "bgp messages     open=%d update=%d notification=%d keepalive=%d route-refresh=%d\n",
		st.Messages[1], st.Messages[2], st.Messages[3], st.Messages[4], st.Messages[5])
	fmt.Fprintf(w, "peers            %d\n", len(s.peers))
	fmt.Fprintf(w, "prefixes         %d (IPv4 %d, IPv6 %d)\n", len(s.prefixes), s.v4, s.v6)
	fmt.Fprintf(w, "non-unicast NLRI %d (left out)\n", st.NonUnicast)
	if !s.first.IsZero() {
		fmt.Fprintf(w, "time range       %s .. %s (%s)\n", s.first.Format(time.RFC3339), s.last.Format(time.RFC3339), s.last.Sub(s.first))
	}
	fmt.Fprintf(w, "skipped records  %d", st.TotalSkipped())
	for _, k := range st.SkippedKinds() {
		fmt.Fprintf(w, " %s=%d", k, st.Skipped[k])
	}
	fmt.Fprintln(w)
	if len(st.SkippedFiles) > 0 {
		fmt.Fprintf(w, "skipped files    %d (not MRT)\n", len(st.SkippedFiles))
	}
	if sec := el.Seconds(); sec > 0 {
		fmt.Fprintf(w, "decoded in       %s (%.0f elements/s)\n", el.Round(time.Millisecond), float64(s.elements)/sec)
	}
}
