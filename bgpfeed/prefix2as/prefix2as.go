// Package prefix2as reads prefix-to-origin tables (pyasn IPASN .dat files
// and CAIDA RouteViews prefix2as files, gzip, bzip2 or plain) as a baseline
// of table entries, the same shape as a RIB dump replayed by bgpfeed/mrt:
// one announcement per (prefix, origin), marked Table, with a one-AS path.
//
// Accepted lines:
//
//	203.0.113.0/24<TAB>64500          pyasn
//	203.0.113.0<TAB>24<TAB>64500      CAIDA prefix2as
//	203.0.113.0<TAB>24<TAB>64500_64501  CAIDA multi-origin (one entry each)
//	203.0.113.0<TAB>24<TAB>64500,64501  CAIDA AS_SET origin
//
// Lines starting with ';' or '#' are comments. A malformed line is skipped
// and counted with its line number.
package prefix2as

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// ErrNoEntries is returned when a file holds no valid line at all.
var ErrNoEntries = errors.New("prefix2as: no prefix-origin entries")

// LineError is one skipped line.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("prefix2as: %s:%d: %v", e.File, e.Line, e.Err) }

// Reader streams a prefix-to-origin table as table-entry Updates.
type Reader struct {
	name     string
	closer   io.Closer
	sc       *bufio.Scanner
	interner *bgpfeed.Interner
	when     time.Time
	line     int
	pending  []bgpfeed.Update
	entries  int64
	skipped  int64
	samples  []LineError
	key      []byte
	source   string
	// attrs shares the attributes of single-origin entries per origin: a
	// table repeats each origin on many lines, and Attrs are immutable.
	attrs map[uint32]*bgpfeed.Attrs
}

// Open opens a table file. The entries' time is taken from the RIB file
// name in a pyasn header ("rib.20080501.0644.bz2"), else the file's
// modification time.
func Open(path string, in *bgpfeed.Interner) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prefix2as: %w", err)
	}
	r, err := NewReader(path, f, in)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	if r.when.IsZero() {
		if st, err := f.Stat(); err == nil {
			r.when = st.ModTime().UTC()
		}
	}
	return r, nil
}

var ribDate = regexp.MustCompile(`(\d{8})\.(\d{4})`)

// NewReader reads a table from r; name appears in Source and errors.
func NewReader(name string, r io.Reader, in *bgpfeed.Interner) (*Reader, error) {
	zr, _, err := mrt.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("prefix2as: %s: %w", name, err)
	}
	if in == nil {
		in = bgpfeed.NewInterner(0)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &Reader{name: name, sc: sc, interner: in, source: "prefix2as:" + filepath.Base(name), attrs: map[uint32]*bgpfeed.Attrs{}}, nil
}

// Time is the time given to the entries.
func (r *Reader) Time() time.Time { return r.when }

// Next returns the next entry, io.EOF at the end, or ErrNoEntries when the
// whole file had no valid line.
func (r *Reader) Next(ctx context.Context) (bgpfeed.Update, error) {
	for len(r.pending) == 0 {
		if err := ctx.Err(); err != nil {
			return bgpfeed.Update{}, err
		}
		if !r.sc.Scan() {
			if err := r.sc.Err(); err != nil {
				return bgpfeed.Update{}, fmt.Errorf("prefix2as: %s: line %d: %w", r.name, r.line+1, err)
			}
			if r.entries == 0 {
				return bgpfeed.Update{}, fmt.Errorf("%w in %s (%d lines skipped)", ErrNoEntries, r.name, r.skipped)
			}
			return bgpfeed.Update{}, io.EOF
		}
		r.line++
		line := strings.TrimSpace(r.sc.Text())
		if line == "" || line[0] == ';' || line[0] == '#' {
			if r.when.IsZero() && line != "" {
				if m := ribDate.FindStringSubmatch(line); m != nil {
					if t, err := time.Parse("20060102 1504", m[1]+" "+m[2]); err == nil {
						r.when = t
					}
				}
			}
			continue
		}
		if err := r.parse(line); err != nil {
			r.skipped++
			if len(r.samples) < 20 {
				r.samples = append(r.samples, LineError{File: r.name, Line: r.line, Err: err})
			}
		}
	}
	u := r.pending[0]
	r.pending = r.pending[1:]
	r.entries++
	return u, nil
}

// fields splits line at runs of blanks into at most len(out) fields and
// returns how many there are (len(out)+1 when there are more).
func fields(line string, out []string) int {
	n := 0
	for line != "" {
		i := strings.IndexAny(line, " \t")
		if i == 0 {
			line = line[1:]
			continue
		}
		if n == len(out) {
			return n + 1
		}
		if i < 0 {
			out[n] = line
			return n + 1
		}
		out[n] = line[:i]
		n++
		line = line[i+1:]
	}
	return n
}

func parseASN(a string) (uint32, error) {
	if len(a) > 2 && (a[0] == 'A' || a[0] == 'a') && (a[1] == 'S' || a[1] == 's') {
		a = a[2:]
	}
	v, err := strconv.ParseUint(a, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("origin %q is not an AS number", a)
	}
	return uint32(v), nil
}

func (r *Reader) parse(line string) error {
	var fb [3]string
	nf := fields(line, fb[:])
	f := fb[:min(nf, 3)]
	var pfx netip.Prefix
	var asField string
	var err error
	switch nf {
	case 2:
		pfx, err = netip.ParsePrefix(f[0])
		asField = f[1]
	case 3:
		var addr netip.Addr
		addr, err = netip.ParseAddr(f[0])
		if err == nil {
			var bits int
			bits, err = strconv.Atoi(f[1])
			if err == nil {
				pfx = netip.PrefixFrom(addr, bits)
				if !pfx.IsValid() {
					err = fmt.Errorf("prefix length %s out of range", f[1])
				}
			}
		}
		asField = f[2]
	default:
		return fmt.Errorf("want 'prefix<TAB>asn' or 'addr<TAB>len<TAB>asn', got %d fields", nf)
	}
	if err != nil {
		return err
	}
	if pfx.Masked() != pfx {
		return fmt.Errorf("prefix %s has host bits set", pfx)
	}
	r.pending = r.pending[:0]
	if !strings.ContainsAny(asField, "_,") {
		// One origin: the common line, with attributes shared per origin.
		asn, err := parseASN(asField)
		if err != nil {
			return err
		}
		at := r.attrs[asn]
		if at == nil {
			segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: []uint32{asn}}}
			r.key = bgpfeed.AppendKey(r.key[:0], segs)
			at = &bgpfeed.Attrs{Path: r.interner.Intern(r.key, segs), OriginType: bgpfeed.OriginIGP}
			r.attrs[asn] = at
		}
		r.pending = append(r.pending, r.entry(pfx, at))
		return nil
	}
	for _, moas := range strings.Split(asField, "_") {
		var asns []uint32
		for _, a := range strings.Split(moas, ",") {
			v, err := parseASN(a)
			if err != nil {
				return err
			}
			asns = append(asns, v)
		}
		seg := bgpfeed.Segment{Type: bgpfeed.SegSequence, ASNs: asns}
		if len(asns) > 1 {
			seg.Type = bgpfeed.SegSet
		}
		segs := []bgpfeed.Segment{seg}
		r.key = bgpfeed.AppendKey(r.key[:0], segs)
		r.pending = append(r.pending, r.entry(pfx, &bgpfeed.Attrs{Path: r.interner.Intern(r.key, segs), OriginType: bgpfeed.OriginIGP}))
	}
	return nil
}

func (r *Reader) entry(pfx netip.Prefix, at *bgpfeed.Attrs) bgpfeed.Update {
	return bgpfeed.Update{
		Time: r.when, Source: r.source, Format: bgpfeed.FormatPrefix2AS, Kind: bgpfeed.KindAnnounce,
		Table: true, Prefix: pfx, Attrs: at,
	}
}

// Entries is the number of entries returned so far.
func (r *Reader) Entries() int64 { return r.entries }

// Skipped is the number of malformed lines so far, with the first few.
func (r *Reader) Skipped() (int64, []LineError) { return r.skipped, r.samples }

// Close closes the file.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

var _ bgpfeed.Source = (*Reader)(nil)
