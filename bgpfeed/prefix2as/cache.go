package prefix2as

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/internal/atomicfile"
)

// A table cache keeps the parsed entries of a table file in a compact
// binary form, under the SHA-256 of the file's bytes: reading a table
// again (batch scoring of one archive after another, with the same
// baseline) then decodes a few bytes per entry instead of decompressing
// and parsing its text, about five times faster (BenchmarkCachedTable).
// The cache answers exactly as the text does: the same entries in the
// same order (with the paths of multi-origin lines), the same skipped
// lines, the same time (the file's, as Open gives it). A cache file that
// does not check out (another version, a wrong length or CRC) is not
// used, and the text is read and the file written again.
//
// Layout: magic, version, the source's SHA-256, the body's length and
// CRC-32C, then the body: the lines read, the skipped lines (count, then
// each sample's line number and message), the entries (count, then each
// as a kind byte, the address, the prefix length and the origin, or the
// path's segments for an entry of a multi-origin line).

const (
	cacheMagic   = "bgpsentry-prefix2as\n"
	cacheVersion = 1
	cacheHead    = len(cacheMagic) + 1 + sha256.Size + 8 + 4
)

// Entry kinds in the cache: bit 0 is the family (1: IPv6), bit 1 marks an
// entry with its own path (a multi-origin line).
const (
	kindV6      = 1
	kindComplex = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CacheStatus says what OpenCached did with the cache.
type CacheStatus int

const (
	CacheOff     CacheStatus = iota // no cache directory
	CacheHit                        // entries read from the cache
	CacheMiss                       // text read; the cache is written at the end
	CacheWritten                    // text read and the cache written
	CacheFailed                     // text read; the cache could not be written (CacheStatus gives why)
)

func (c CacheStatus) String() string {
	return [...]string{"off", "hit", "miss", "written", "failed"}[c]
}

// tableCache is a Reader's side of its cache: the entries to replay on a
// hit, or those to write on a miss.
type tableCache struct {
	status CacheStatus
	err    error
	path   string // the cache file
	key    [sha256.Size]byte
	// On a hit: the cache file, read through d, and the entries left.
	f    *os.File
	d    cacheDecoder
	left uint64
	// On a miss: the entries encoded so far, and whether the text can be
	// cached (no time change from a header line).
	rec      []byte
	n        uint64
	cachable bool
}

// OpenCached is Open with a table cache in dir (none if dir is empty): on
// a hit, the entries come from the cache; otherwise the text is read and,
// once read to its end, cached.
func OpenCached(path string, in *bgpfeed.Interner, dir string) (*Reader, error) {
	r, err := Open(path, in)
	if err != nil || dir == "" {
		return r, err
	}
	c := &tableCache{status: CacheMiss}
	r.tc = c
	key, err := HashFile(path)
	if err != nil {
		c.status, c.err = CacheFailed, err
		return r, nil
	}
	c.key = key
	c.path = filepath.Join(dir, hex.EncodeToString(key[:16])+".p2a")
	if f, err := openCache(c.path, key); err == nil {
		if err := r.useCache(f); err == nil {
			c.status = CacheHit
			UsedCacheFile(c.path)
			return r, nil
		}
		f.Close()
	}
	c.cachable = true
	return r, nil
}

// CacheStatus is what the cache did: off, hit, miss (not read to its end
// yet), written or failed (with the error).
func (r *Reader) CacheStatus() (CacheStatus, error) {
	if r.tc == nil {
		return CacheOff, nil
	}
	return r.tc.status, r.tc.err
}

// HashFile is the SHA-256 of a file's bytes (a table cache's key).
func HashFile(path string) ([sha256.Size]byte, error) {
	var key [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return key, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return key, err
	}
	copy(key[:], h.Sum(nil))
	return key, nil
}

// openCache opens the cache file at path if it is one of this version,
// for the source key, with a body of the length and CRC it says (read
// once to check, then again to use: from the page cache, without holding
// it whole), positioned at its body.
func openCache(path string, key [sha256.Size]byte) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	err = func() error {
		h := make([]byte, cacheHead)
		if _, err := io.ReadFull(f, h); err != nil || string(h[:len(cacheMagic)]) != cacheMagic {
			return errors.New("not a table cache")
		}
		h = h[len(cacheMagic):]
		if h[0] != cacheVersion {
			return fmt.Errorf("table cache version %d, want %d", h[0], cacheVersion)
		}
		if !bytes.Equal(h[1:1+sha256.Size], key[:]) {
			return errors.New("table cache of another file")
		}
		h = h[1+sha256.Size:]
		n, sum := binary.LittleEndian.Uint64(h), binary.LittleEndian.Uint32(h[8:])
		crc := crc32.New(castagnoli)
		m, err := io.Copy(crc, f)
		if err != nil {
			return err
		}
		if uint64(m) != n || crc.Sum32() != sum {
			return errors.New("table cache truncated or corrupt")
		}
		_, err = f.Seek(int64(cacheHead), io.SeekStart)
		return err
	}()
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// useCache reads the head of a checked cache body (lines, skipped lines,
// entry count) into r, which then reads its entries from f.
func (r *Reader) useCache(f *os.File) error {
	d := cacheDecoder{src: f}
	d.fill()
	lines := d.uvarint()
	skipped := d.uvarint()
	var samples []LineError
	for ns := d.uvarint(); ns > 0 && d.err == nil; ns-- {
		d.fill()
		line := d.uvarint()
		msg := d.bytes()
		samples = append(samples, LineError{File: r.name, Line: int(line), Err: errors.New(string(msg))})
	}
	left := d.uvarint()
	if d.err != nil {
		return d.err
	}
	r.line, r.skipped, r.samples = int(lines), int64(skipped), samples
	r.tc.f, r.tc.d, r.tc.left = f, d, left
	return nil
}

// readCached is read on a cache hit.
func (r *Reader) readCached(ctx context.Context, dst []Entry, want int) ([]Entry, error) {
	c := r.tc
	start := len(dst)
	if c.left == 0 {
		if r.entries == 0 && len(dst) == 0 {
			return dst, fmt.Errorf("%w in %s (%d lines skipped)", ErrNoEntries, r.name, r.skipped)
		}
		return dst, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	d := &c.d
	for ; c.left > 0 && len(dst)-start < want; c.left-- {
		d.fill()
		kind := d.byte()
		var pfx netip.Prefix
		if kind&kindV6 != 0 {
			var a [16]byte
			d.take(a[:])
			pfx = netip.PrefixFrom(netip.AddrFrom16(a), int(d.byte()))
		} else {
			var a [4]byte
			d.take(a[:])
			pfx = netip.PrefixFrom(netip.AddrFrom4(a), int(d.byte()))
		}
		if kind&kindComplex == 0 {
			asn := uint32(d.uvarint())
			if d.err != nil {
				break
			}
			dst = append(dst, r.origin(pfx, asn))
			continue
		}
		var segs []bgpfeed.Segment
		for ns := d.uvarint(); ns > 0 && d.err == nil; ns-- {
			seg := bgpfeed.Segment{Type: bgpfeed.SegmentType(d.byte())}
			for na := d.uvarint(); na > 0 && d.err == nil; na-- {
				seg.ASNs = append(seg.ASNs, uint32(d.uvarint()))
			}
			segs = append(segs, seg)
		}
		if d.err != nil {
			break
		}
		dst = append(dst, r.pathEntry(pfx, segs))
	}
	if c.left == 0 && d.err == nil {
		if d.fill(); len(d.b) != 0 {
			d.err = errors.New("bytes after the last entry")
		}
	}
	if d.err != nil {
		// The CRC matched, so this is a bug, not a bad disk.
		c.left = 0
		return dst[:start], fmt.Errorf("prefix2as: %s: table cache %s: %v", r.name, c.path, d.err)
	}
	return dst, nil
}

// record encodes the entries a text read added, for the cache.
func (r *Reader) record(es []Entry) {
	c := r.tc
	for _, e := range es {
		at := len(c.rec)
		kind := byte(0)
		a := e.Prefix.Addr()
		if a.Is6() {
			kind |= kindV6
		}
		// A multi-origin line's entries have ASN 0 and paths of their
		// own; a single-origin line of AS 0 has no path or the shared one.
		single := e.Attrs == nil || e.ASN != 0 || e.Attrs == r.attrs[0]
		if !single {
			kind |= kindComplex
		}
		c.rec = append(c.rec, kind)
		if a.Is6() {
			b := a.As16()
			c.rec = append(c.rec, b[:]...)
		} else {
			b := a.As4()
			c.rec = append(c.rec, b[:]...)
		}
		c.rec = append(c.rec, byte(e.Prefix.Bits()))
		if single {
			c.rec = binary.AppendUvarint(c.rec, uint64(e.ASN))
		} else {
			segs := e.Attrs.Path.Segments
			c.rec = binary.AppendUvarint(c.rec, uint64(len(segs)))
			for _, s := range segs {
				c.rec = append(c.rec, byte(s.Type))
				c.rec = binary.AppendUvarint(c.rec, uint64(len(s.ASNs)))
				for _, x := range s.ASNs {
					c.rec = binary.AppendUvarint(c.rec, uint64(x))
				}
			}
		}
		c.n++
		if len(c.rec)-at > maxEntry {
			c.cachable, c.rec = false, nil // an entry too long for the reader's window
			return
		}
	}
}

// cacheDone is called when a text read ends (r.done is set): a table
// read to its end is cached.
func (r *Reader) cacheDone() {
	c := r.tc
	if c == nil || !c.cachable {
		return
	}
	c.cachable = false
	if !errors.Is(r.done, io.EOF) || errors.Is(r.done, ErrNoEntries) {
		c.rec = nil
		return
	}
	r.writeCache()
}

// writeCache writes the cache file of a text read to its end: to a temporary
// file renamed into place, so that a reader never sees half of one.
func (r *Reader) writeCache() {
	c := r.tc
	var body []byte
	body = binary.AppendUvarint(body, uint64(r.line))
	body = binary.AppendUvarint(body, uint64(r.skipped))
	body = binary.AppendUvarint(body, uint64(len(r.samples)))
	for _, s := range r.samples {
		body = binary.AppendUvarint(body, uint64(s.Line))
		msg := s.Err.Error()
		body = binary.AppendUvarint(body, uint64(len(msg)))
		body = append(body, msg...)
	}
	body = binary.AppendUvarint(body, c.n)
	body = append(body, c.rec...)
	c.rec = nil
	head := make([]byte, 0, cacheHead)
	head = append(head, cacheMagic...)
	head = append(head, cacheVersion)
	head = append(head, c.key[:]...)
	head = binary.LittleEndian.AppendUint64(head, uint64(len(body)))
	head = binary.LittleEndian.AppendUint32(head, crc32.Checksum(body, castagnoli))
	err := WriteCacheFile(c.path, func(w io.Writer) error {
		if _, err := w.Write(head); err != nil {
			return err
		}
		_, err := w.Write(body)
		return err
	})
	if err != nil {
		c.status, c.err = CacheFailed, fmt.Errorf("table cache: %w", err)
		return
	}
	c.status = CacheWritten
}

// WriteCacheFile writes a file of a cache directory (the table caches, or
// another cache kept beside them, under one of CacheExts): to a temporary
// file renamed into place, so that a reader never sees half of one, and
// never over a file that may be mapped. The directory is made if need be,
// then kept under MaxCacheBytes (evicting the files used least recently,
// this one excepted).
func WriteCacheFile(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := atomicfile.Write(path, false, write)
	if err != nil {
		return err
	}
	evict(dir, path, MaxCacheBytes)
	return nil
}

// UsedCacheFile marks a cache file used (evicted last).
func UsedCacheFile(path string) {
	now := time.Now()
	os.Chtimes(path, now, now)
}

// CacheExts are the name endings of the files of a cache directory that
// eviction counts: table caches (.p2a) and table images (.img, written by
// bgpsentry's commands with features.State.SealTableImage).
var CacheExts = []string{".p2a", ".img"}

// MaxCacheBytes bounds a table cache directory: past it, the caches used
// least recently go (a hit marks a cache used).
var MaxCacheBytes int64 = 2 << 30

// evict removes the table caches of dir used least recently (by
// modification time), keep excepted, until they take at most max bytes.
// Errors are ignored: another process may be evicting too.
func evict(dir, keep string, max int64) {
	var files []string
	for _, ext := range CacheExts {
		fs, err := filepath.Glob(filepath.Join(dir, "*"+ext))
		if err != nil {
			return
		}
		files = append(files, fs...)
	}
	type cached struct {
		path string
		size int64
		used time.Time
	}
	var cs []cached
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		cs = append(cs, cached{f, st.Size(), st.ModTime()})
		total += st.Size()
	}
	slices.SortFunc(cs, func(a, b cached) int { return a.used.Compare(b.used) })
	for _, c := range cs {
		if total <= max {
			return
		}
		if c.path == keep {
			continue
		}
		if os.Remove(c.path) == nil {
			total -= c.size
		}
	}
}

// cacheDecoder reads a cache body from src through a window of its
// bytes, b, kept at least maxEntry long while src has more (fill): an
// entry is decoded from a slice, and the body is never held whole.
type cacheDecoder struct {
	b   []byte
	buf []byte
	src io.Reader
	eof bool
	err error
}

// maxEntry bounds an entry's encoding: a table with a longer one is not
// cached.
const maxEntry = 256 << 10

var errShort = errors.New("table cache: entry cut short")

// fill makes the window at least maxEntry long, or all that is left.
func (d *cacheDecoder) fill() {
	if len(d.b) >= maxEntry || d.eof || d.err != nil {
		return
	}
	if d.buf == nil {
		d.buf = make([]byte, 4*maxEntry)
	}
	n := copy(d.buf, d.b)
	for n < len(d.buf) {
		m, err := d.src.Read(d.buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			d.eof = true
			break
		}
		if err != nil {
			d.err = err
			break
		}
	}
	d.b = d.buf[:n]
}

func (d *cacheDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *cacheDecoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *cacheDecoder) take(b []byte) {
	if d.err != nil || len(d.b) < len(b) {
		d.err = errShort
		return
	}
	copy(b, d.b)
	d.b = d.b[len(b):]
}

// bytes reads a length-prefixed string (a skipped line's message).
func (d *cacheDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	b := make([]byte, n)
	d.take(b)
	return b
}
