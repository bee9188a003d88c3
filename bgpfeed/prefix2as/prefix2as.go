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
	"bytes"
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
	br       *bufio.Reader
	long     []byte // a line longer than br's buffer
	done     error  // io.EOF or the read error, once met
	interner *bgpfeed.Interner
	when     time.Time
	line     int
	pending  []Entry // read by Next
	pi       int
	// pendingWhen is the time of the pending entries.
	pendingWhen time.Time
	entries     int64
	skipped     int64
	samples     []LineError
	key         []byte
	source      string
	// attrs shares the attributes of single-origin entries per origin: a
	// table repeats each origin on many lines, and Attrs are immutable.
	attrs map[uint32]*bgpfeed.Attrs
	// cache holds recent entries of attrs, by ASN modulo its size: a
	// lookup in a map of a hundred thousand origins misses the CPU cache.
	cache *[1 << 12]attrsCache
	// size is the file's size (0 unknown), compressed whether it is.
	size       int64
	compressed bool
	// noAttrs: single-origin entries without Attrs (ReadOrigins).
	noAttrs bool
	// tc is the table cache (OpenCached), nil without one.
	tc *tableCache
}

type attrsCache struct {
	asn uint32
	at  *bgpfeed.Attrs
}

// Entry is one (prefix, origin) entry of a table: what Next returns as an
// Update, without the Update.
type Entry struct {
	Prefix netip.Prefix
	Attrs  *bgpfeed.Attrs // a one-segment path, shared between entries
	// ASN is the origin of a single-origin line, the one AS of Attrs'
	// path (0 for the lines of several origins). ReadOrigins leaves Attrs
	// nil for a single-origin line: its path is then the AS_SEQUENCE of
	// ASN alone (even of AS 0).
	ASN uint32
}

// maxLine bounds a line's length.
const maxLine = 1 << 20

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
	if st, err := f.Stat(); err == nil {
		r.size = st.Size()
	}
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
	zr, c, err := mrt.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("prefix2as: %s: %w", name, err)
	}
	if in == nil {
		in = bgpfeed.NewInterner(0)
	}
	rd := &Reader{name: name, br: bufio.NewReaderSize(zr, 256<<10), interner: in, source: "prefix2as:" + filepath.Base(name),
		attrs: map[uint32]*bgpfeed.Attrs{}, cache: new([1 << 12]attrsCache), compressed: c != mrt.Plain}
	rd.when = headerTime(rd.br)
	return rd, nil
}

// headerTime is the time of the RIB a table was made from, as its leading
// comment lines name it (pyasn: "; Original file : rib.20080501.0644.bz2",
// "; Original source: rib.20260730.1400.bz2"), read without consuming
// anything; zero when they name none. Open falls back to the file's
// modification time: a table read from a cache (TableCache) knows no
// other, and the entries of one file must have one time either way.
func headerTime(br *bufio.Reader) time.Time {
	head, _ := br.Peek(4096) // what there is, at the end of a short file
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != ';' && line[0] != '#' {
			break // the entries begin
		}
		if t, ok := ribTime(line); ok {
			return t
		}
	}
	return time.Time{}
}

// ribTime is the time of a RIB file name in a comment line
// ("rib.20080501.0644.bz2"), ok false when it names none.
func ribTime(line []byte) (time.Time, bool) {
	m := ribDate.FindSubmatch(line)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102 1504", string(m[1])+" "+string(m[2]))
	return t, err == nil
}

// SizeHint estimates how many entries the file holds, from its size (0
// when unknown): a loader can reserve room for them.
func (r *Reader) SizeHint() int {
	// A pyasn line takes about 20 bytes, 3.5 gzip-compressed (the 2026
	// RouteViews tables).
	if r.compressed {
		return int(r.size / 3)
	}
	return int(r.size / 18)
}

// Time is the time given to the entries.
func (r *Reader) Time() time.Time { return r.when }

// Next returns the next entry, io.EOF at the end, or ErrNoEntries when the
// whole file had no valid line.
func (r *Reader) Next(ctx context.Context) (bgpfeed.Update, error) {
	for r.pi >= len(r.pending) {
		var err error
		r.pending, r.pi = r.pending[:0], 0
		// One line at a time (a line may hold several entries), all at
		// the same time.
		if r.pending, r.pendingWhen, err = r.read(ctx, r.pending, 1); err != nil {
			return bgpfeed.Update{}, err
		}
	}
	e := r.pending[r.pi]
	r.pi++
	r.entries++
	return r.entry(r.pendingWhen, e.Prefix, e.Attrs), nil
}

// ReadEntries appends the next entries to dst, about cap(dst)-len(dst) of
// them (at least one), and returns them with their time (Time, which
// entries of one call share). At the end it returns io.EOF, or
// ErrNoEntries when the whole file had no valid line. It reads faster than
// Next: no Update is built.
func (r *Reader) ReadEntries(ctx context.Context, dst []Entry) ([]Entry, time.Time, error) {
	n := len(dst)
	dst, when, err := r.read(ctx, dst, max(cap(dst)-n, 1))
	r.entries += int64(len(dst) - n)
	if err != nil && len(dst) > n {
		err = nil // the error comes with the next call
	}
	return dst, when, err
}

// ReadOrigins is ReadEntries, but the entries of single-origin lines may
// come without Attrs (nil), with only their ASN: building and interning a
// path for each of a table's hundred thousand origins is most of the
// cost of reading it, for a reader that needs the origin only.
func (r *Reader) ReadOrigins(ctx context.Context, dst []Entry) ([]Entry, time.Time, error) {
	r.noAttrs = true
	defer func() { r.noAttrs = false }()
	return r.ReadEntries(ctx, dst)
}

// read appends the entries of the next lines to dst until it has added at
// least want, or r.when changes (then it stops after the line that
// changed it), and returns the time of the entries added. It returns
// io.EOF or the error met (kept for the next calls) only when it added
// nothing.
func (r *Reader) read(ctx context.Context, dst []Entry, want int) ([]Entry, time.Time, error) {
	if r.tc != nil && r.tc.status == CacheHit {
		dst, err := r.readCached(ctx, dst, want)
		return dst, r.when, err
	}
	start := len(dst)
	when := r.when
	for i := 0; len(dst)-start < want; i++ {
		if r.done != nil {
			if len(dst) > start {
				return dst, when, nil
			}
			return dst, when, r.done
		}
		if i&255 == 0 {
			if err := ctx.Err(); err != nil {
				return dst, when, err
			}
		}
		b, err := r.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if r.entries+int64(len(dst)-start) == 0 {
					err = fmt.Errorf("%w in %s (%d lines skipped)", ErrNoEntries, r.name, r.skipped)
				}
			} else {
				err = fmt.Errorf("prefix2as: %s: line %d: %w", r.name, r.line+1, err)
			}
			r.done = err
			r.cacheDone()
			continue
		}
		r.line++
		var perr error
		n := len(dst)
		dst, perr = r.parseLine(b, dst)
		if r.tc != nil && r.tc.cachable {
			r.record(dst[n:])
		}
		if perr != nil {
			r.skipped++
			if len(r.samples) < 20 {
				r.samples = append(r.samples, LineError{File: r.name, Line: r.line, Err: perr})
			}
		}
		if r.when != when {
			if r.tc != nil {
				r.tc.cachable, r.tc.rec = false, nil // entries of two times: not cached
			}
			if len(dst) > start {
				return dst, when, nil
			}
			when = r.when
		}
	}
	return dst, when, nil
}

// readLine returns the next line, its newline included, valid until the
// next call.
func (r *Reader) readLine() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.long = append(r.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(r.long) > maxLine {
				return nil, bufio.ErrTooLong
			}
			b, err = r.br.ReadSlice('\n')
			r.long = append(r.long, b...)
		}
		b = r.long
	}
	if errors.Is(err, io.EOF) && len(b) > 0 {
		err = nil // the last line, without a newline
	}
	return b, err
}

// parseLine parses one raw line and appends its entries to dst. The
// common lines (plain IPv4 or IPv6 prefix, one AS number, ASCII) are
// parsed from the bytes, without allocating; anything else (comments,
// several origins, unusual spellings, errors) goes through the string
// parser, parseText, which is the reference (FuzzParseLine checks both
// agree).
func (r *Reader) parseLine(b []byte, dst []Entry) ([]Entry, error) {
	line, ascii := trimASCII(b)
	if !ascii {
		return r.parseText(strings.TrimSpace(string(b)), dst)
	}
	if len(line) == 0 {
		return dst, nil
	}
	if line[0] == ';' || line[0] == '#' {
		return r.parseText(string(line), dst)
	}
	if pfx, asn, ok := parseFast(line); ok {
		return append(dst, r.origin(pfx, asn)), nil
	}
	return r.parseText(string(line), dst)
}

// parseText parses one line, trimmed, and appends its entries to dst:
// comments (where it looks for the RIB time), blank lines, and entries.
func (r *Reader) parseText(line string, dst []Entry) ([]Entry, error) {
	if line == "" || line[0] == ';' || line[0] == '#' {
		if r.when.IsZero() && line != "" {
			if t, ok := ribTime([]byte(line)); ok { // a comment: rare
				r.when = t
			}
		}
		return dst, nil
	}
	return r.parse(line, dst)
}

// trimASCII trims the white space strings.TrimSpace trims from an ASCII
// line; ascii is false (and line nil) when b is not all ASCII.
func trimASCII(b []byte) (line []byte, ascii bool) {
	for _, c := range b {
		if c >= 0x80 {
			return nil, false
		}
	}
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b, true
}

// origin is the entry of a single-origin line.
func (r *Reader) origin(pfx netip.Prefix, asn uint32) Entry {
	if r.noAttrs {
		return Entry{Prefix: pfx, ASN: asn}
	}
	return Entry{Prefix: pfx, ASN: asn, Attrs: r.originAttrs(asn)}
}

// originAttrs returns the shared attributes of a single-origin entry.
func (r *Reader) originAttrs(asn uint32) *bgpfeed.Attrs {
	c := &r.cache[asn%uint32(len(r.cache))]
	if c.at != nil && c.asn == asn {
		return c.at
	}
	at := r.attrs[asn]
	if at == nil {
		segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: []uint32{asn}}}
		r.key = bgpfeed.AppendKey(r.key[:0], segs)
		at = &bgpfeed.Attrs{Path: r.interner.Intern(r.key, segs), OriginType: bgpfeed.OriginIGP}
		r.attrs[asn] = at
	}
	c.asn, c.at = asn, at
	return at
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

// parse parses an entry line and appends its entries to dst.
func (r *Reader) parse(line string, dst []Entry) ([]Entry, error) {
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
		return dst, fmt.Errorf("want 'prefix<TAB>asn' or 'addr<TAB>len<TAB>asn', got %d fields", nf)
	}
	if err != nil {
		return dst, err
	}
	if pfx.Masked() != pfx {
		return dst, fmt.Errorf("prefix %s has host bits set", pfx)
	}
	if !strings.ContainsAny(asField, "_,") {
		// One origin: the common line, with attributes shared per origin.
		asn, err := parseASN(asField)
		if err != nil {
			return dst, err
		}
		return append(dst, r.origin(pfx, asn)), nil
	}
	// A bad origin after good ones: the line counts as skipped, and the
	// entries before it stay.
	for _, moas := range strings.Split(asField, "_") {
		var asns []uint32
		for _, a := range strings.Split(moas, ",") {
			v, err := parseASN(a)
			if err != nil {
				return dst, err
			}
			asns = append(asns, v)
		}
		seg := bgpfeed.Segment{Type: bgpfeed.SegSequence, ASNs: asns}
		if len(asns) > 1 {
			seg.Type = bgpfeed.SegSet
		}
		dst = append(dst, r.pathEntry(pfx, []bgpfeed.Segment{seg}))
	}
	return dst, nil
}

// pathEntry is an entry of a multi-origin line, with its own path.
func (r *Reader) pathEntry(pfx netip.Prefix, segs []bgpfeed.Segment) Entry {
	r.key = bgpfeed.AppendKey(r.key[:0], segs)
	return Entry{Prefix: pfx, Attrs: &bgpfeed.Attrs{Path: r.interner.Intern(r.key, segs), OriginType: bgpfeed.OriginIGP}}
}

func (r *Reader) entry(when time.Time, pfx netip.Prefix, at *bgpfeed.Attrs) bgpfeed.Update {
	return bgpfeed.Update{
		Time: when, Source: r.source, Format: bgpfeed.FormatPrefix2AS, Kind: bgpfeed.KindAnnounce,
		Table: true, Prefix: pfx, Attrs: at,
	}
}

// Entries is the number of entries returned so far.
func (r *Reader) Entries() int64 { return r.entries }

// Skipped is the number of malformed lines so far, with the first few.
func (r *Reader) Skipped() (int64, []LineError) { return r.skipped, r.samples }

// Close closes the file.
func (r *Reader) Close() error {
	if r.tc != nil && r.tc.f != nil {
		r.tc.f.Close()
		r.tc.f = nil
	}
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

var _ bgpfeed.Source = (*Reader)(nil)

// parseFast parses the common entry line from its bytes: "a.b.c.d/n asn",
// "a.b.c.d n asn" or the same with an IPv6 address, blank-separated, the
// address in its usual spelling, n and asn plain decimal numbers. ok is
// false for anything else, valid or not: the caller then uses parse.
func parseFast(line []byte) (pfx netip.Prefix, asn uint32, ok bool) {
	var f [3][]byte
	n := 0
	for len(line) > 0 {
		if line[0] == ' ' || line[0] == '\t' {
			line = line[1:]
			continue
		}
		if n == len(f) {
			return pfx, 0, false
		}
		i := 0
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		f[n], line = line[:i], line[i:]
		n++
	}
	var addr, bits []byte
	switch n {
	case 2:
		i := 0
		for i < len(f[0]) && f[0][i] != '/' {
			i++
		}
		if i == len(f[0]) {
			return pfx, 0, false
		}
		addr, bits = f[0][:i], f[0][i+1:]
	case 3:
		addr, bits = f[0], f[1]
	default:
		return pfx, 0, false
	}
	a, ok := parseAddr(addr)
	if !ok {
		return pfx, 0, false
	}
	b, ok := parseDec(bits, 3)
	if !ok || b > uint64(a.BitLen()) {
		return pfx, 0, false
	}
	as, ok := parseDec(f[n-1], 10)
	if !ok || as > 1<<32-1 {
		return pfx, 0, false
	}
	pfx = netip.PrefixFrom(a, int(b))
	if pfx.Masked() != pfx {
		return pfx, 0, false
	}
	return pfx, uint32(as), true
}

// parseDec parses 1 to maxDigits decimal digits without a leading zero
// (but "0").
func parseDec(b []byte, maxDigits int) (uint64, bool) {
	if len(b) == 0 || len(b) > maxDigits || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseAddr parses a dotted-quad IPv4 address, or an IPv6 address of hex
// groups with at most one "::" (no embedded IPv4, no zone).
func parseAddr(b []byte) (netip.Addr, bool) {
	for _, c := range b {
		if c == ':' {
			return parseAddr6(b)
		}
	}
	var ip [4]byte
	for i := range ip {
		if i > 0 {
			if len(b) == 0 || b[0] != '.' {
				return netip.Addr{}, false
			}
			b = b[1:]
		}
		j := 0
		for j < len(b) && b[j] != '.' {
			j++
		}
		v, ok := parseDec(b[:j], 3)
		if !ok || v > 255 {
			return netip.Addr{}, false
		}
		ip[i], b = byte(v), b[j:]
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

func parseAddr6(b []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // where "::" stands, in bytes of ip
	i := 0         // bytes of ip filled
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis, b = 0, b[2:]
	}
	for len(b) > 0 {
		v, n := 0, 0
		for n < len(b) && n < 5 {
			c := b[n]
			switch {
			case '0' <= c && c <= '9':
				v = v<<4 | int(c-'0')
			case 'a' <= c && c <= 'f':
				v = v<<4 | int(c-'a'+10)
			case 'A' <= c && c <= 'F':
				v = v<<4 | int(c-'A'+10)
			default:
				goto done
			}
			n++
		}
	done:
		if n == 0 || n > 4 || i == 16 {
			return netip.Addr{}, false
		}
		ip[i], ip[i+1] = byte(v>>8), byte(v)
		i += 2
		if b = b[n:]; len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return netip.Addr{}, false // '.', '%', a trailing ':'
		}
		if b = b[1:]; b[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis, b = i, b[1:]
		}
	}
	switch {
	case ellipsis < 0 && i != 16:
		return netip.Addr{}, false
	case ellipsis >= 0:
		if i == 16 {
			return netip.Addr{}, false // "::" must stand for a group at least
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	}
	return netip.AddrFrom16(ip), true
}
