package features

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// A table image is a lazy table (LearnOriginsLazy) as it stands when it
// is sealed, before any entry is learned: the sorted entries with their
// index (buckets, parents), the groups to learn, the origin counts, the
// entry times, the paths of the entries that are not one AS, the origins
// kept for the inference, and the state counters the table moved. Written
// once (SealTableImage), it is mapped into memory the next time
// (LoadTableImage) and its arrays used in place: a baseline of a million
// entries then costs a checksum and a check of its index instead of being
// read, sorted and indexed again. The state answers exactly as if the
// tables had been loaded (TestTableImageSame).
//
// Layout: the head (magic, version, a byte-order mark, the key the caller
// gives, e.g. a digest of the tables, the body's length and CRC-32C), then
// the body: sixteen counts, then the sections they size, each starting on
// an 8-byte boundary, in this machine's byte order (the mark refuses an
// image of another): times (Unix ns), collect, note, paths (varints), and
// per family (IPv4, IPv6) entries, parents, buckets, groups, counts.

const (
	imageMagic   = "bgpsentry-tableimage\n"
	imageVersion = 2 // 2: the entry times of pyasn tables are their RIB's (prefix2as headerTime), not the file's
	imageMark    = 0x01020304
	// magic, version, 2 bytes of padding, mark, key, length, CRC.
	imageHead   = len(imageMagic) + 1 + 2 + 4 + sha256.Size + 8 + 4
	imageCounts = 16
)

var imageCRC = crc32.MakeTable(crc32.Castagnoli)

// ErrNoImage is SealTableImage's error when the state holds no lazy table
// alone (nothing to write).
var ErrNoImage = errors.New("features: no lazy table alone to write as a table image")

// SealTableImage seals the lazy table (SealTable), writing it to w as a
// table image with key and note (any bytes the loader wants back) once
// its index is finished and before any entry is learned. The table is
// sealed whatever the writer does; ErrNoImage if there is no table to
// write (none, sealed already, or the state learned more than it).
func (s *State) SealTableImage(w io.Writer, key [sha256.Size]byte, note []byte) error {
	lt := s.lazy
	if lt == nil || lt.sealed {
		return ErrNoImage
	}
	if s.prefixes.Len() != 0 || len(s.origins) != 0 {
		s.SealTable()
		return ErrNoImage
	}
	var err error
	s.sealLazyThen(func() { err = writeImage(w, s, lt, key, note) })
	return err
}

// imageHeader is the body's first section.
type imageHeader [imageCounts]uint64

const (
	ihObserved = iota
	ihLearned
	ihNow
	ihPending
	ihTimes
	ihCollect
	ihNote
	ihPaths
	ihEs4
	ihGroups4
	ihCounts4
	ihEs6
	ihGroups6
	ihCounts6
	ihSize4
	ihSize6
)

// asBytes is the memory of s.
func asBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// pad8 is how many bytes bring n to a multiple of 8.
func pad8(n int) int { return (8 - n%8) % 8 }

func writeImage(w io.Writer, s *State, lt *lazyTable, key [sha256.Size]byte, note []byte) error {
	var times []int64
	for _, t := range lt.times {
		times = append(times, t.UnixNano())
	}
	var paths []byte
	paths = binary.AppendUvarint(paths, uint64(len(lt.paths)))
	for _, p := range lt.paths {
		paths = binary.AppendUvarint(paths, uint64(len(p.Segments)))
		for _, sg := range p.Segments {
			paths = append(paths, byte(sg.Type))
			paths = binary.AppendUvarint(paths, uint64(len(sg.ASNs)))
			for _, a := range sg.ASNs {
				paths = binary.AppendUvarint(paths, uint64(a))
			}
		}
	}
	counts := func(c *originCounts) []uint32 {
		var out []uint32
		c.each(func(asn uint32, n int32) { out = append(out, asn, uint32(n)) })
		return out
	}
	c4, c6 := counts(lt.v4.counts), counts(lt.v6.counts)
	var h imageHeader
	h[ihObserved], h[ihLearned], h[ihNow] = uint64(s.observed), uint64(s.learned), uint64(s.now)
	h[ihPending], h[ihTimes], h[ihCollect] = uint64(lt.pending), uint64(len(times)), uint64(len(lt.collect))
	h[ihNote], h[ihPaths] = uint64(len(note)), uint64(len(paths))
	h[ihEs4], h[ihGroups4], h[ihCounts4] = uint64(len(lt.v4.es)), uint64(len(lt.v4.groups)), uint64(len(c4)/2)
	h[ihEs6], h[ihGroups6], h[ihCounts6] = uint64(len(lt.v6.es)), uint64(len(lt.v6.groups)), uint64(len(c6)/2)
	h[ihSize4], h[ihSize6] = uint64(unsafe.Sizeof(lazyEntry[lk4]{})), uint64(unsafe.Sizeof(lazyEntry[lk6]{}))
	sections := [][]byte{asBytes(h[:]), asBytes(times), asBytes(lt.collect), note, paths,
		asBytes(lt.v4.es), asBytes(lt.v4.parent), asBytes(lt.v4.bucket), asBytes(lt.v4.groups), asBytes(c4),
		asBytes(lt.v6.es), asBytes(lt.v6.parent), asBytes(lt.v6.bucket), asBytes(lt.v6.groups), asBytes(c6)}
	var zeros [8]byte
	crc, n := uint32(0), 0
	for _, sec := range sections {
		crc = crc32.Update(crc, imageCRC, sec)
		crc = crc32.Update(crc, imageCRC, zeros[:pad8(len(sec))])
		n += len(sec) + pad8(len(sec))
	}
	head := make([]byte, 0, imageHead)
	head = append(head, imageMagic...)
	head = append(head, imageVersion, 0, 0)
	head = binary.NativeEndian.AppendUint32(head, imageMark)
	head = append(head, key[:]...)
	head = binary.NativeEndian.AppendUint64(head, uint64(n))
	head = binary.NativeEndian.AppendUint32(head, crc)
	if _, err := w.Write(head); err != nil {
		return err
	}
	for _, sec := range sections {
		if _, err := w.Write(sec); err != nil {
			return err
		}
		if _, err := w.Write(zeros[:pad8(len(sec))]); err != nil {
			return err
		}
	}
	return nil
}

// imageReader takes the sections of a body, checking their bounds.
type imageReader struct {
	b   []byte
	off int
	err error
}

func (r *imageReader) take(n uint64, size int) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off)/uint64(size) {
		r.err = errors.New("a section runs past the end")
		return nil
	}
	l := int(n) * size
	sec := r.b[r.off : r.off+l]
	r.off += l + pad8(l)
	if r.off > len(r.b) {
		r.off = len(r.b)
	}
	return sec
}

// sliceOf is the section b (of a length and alignment checked by take
// and LoadTableImage) as n values of T, in place.
func sliceOf[T any](b []byte) []T {
	var z T
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/int(unsafe.Sizeof(z)))
}

// LoadTableImage gives a fresh state (nothing observed) the lazy table of
// the image at path, written by SealTableImage with the same key, and
// returns the image's note. The image's arrays are used in place (mapped
// read-only copy-on-write where the system can, read otherwise). An image
// that does not check out (another version, key or byte order, a wrong
// length or CRC, an index that does not hold) is refused with an error
// and the state is left as it was. Seal the table (SealTable) or observe
// updates next, as after LearnOriginsLazy.
func (s *State) LoadTableImage(path string, key [sha256.Size]byte, in *bgpfeed.Interner) ([]byte, error) {
	if s.observed != 0 || s.prefixes.Len() != 0 || s.lazy != nil {
		return nil, errors.New("features: a table image is for a fresh state")
	}
	data, release, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("table image: %w", err)
	}
	lt, note, h, err := decodeImage(data, key, in)
	if err != nil {
		if release != nil {
			release(data)
		}
		return nil, fmt.Errorf("table image %s: %w", path, err)
	}
	if release != nil {
		// The arrays live in the mapping: unmapped with the table.
		runtime.AddCleanup(lt, release, data)
	}
	s.lazy = lt
	for _, t := range lt.times {
		s.noteTable(t)
	}
	s.observed, s.learned = int64(h[ihObserved]), int64(h[ihLearned])
	if now := int64(h[ihNow]); now > s.now {
		s.now = now
	}
	for _, p := range lt.paths {
		s.collectPath(p) // as LearnOriginsLazy did, in order
	}
	return note, nil
}

func decodeImage(data []byte, key [sha256.Size]byte, in *bgpfeed.Interner) (*lazyTable, []byte, imageHeader, error) {
	var h imageHeader
	if len(data) < imageHead || string(data[:len(imageMagic)]) != imageMagic {
		return nil, nil, h, errors.New("not a table image")
	}
	hd := data[len(imageMagic):]
	if hd[0] != imageVersion {
		return nil, nil, h, fmt.Errorf("version %d, want %d", hd[0], imageVersion)
	}
	hd = hd[3:]
	if binary.NativeEndian.Uint32(hd) != imageMark {
		return nil, nil, h, errors.New("written on a machine of another byte order")
	}
	hd = hd[4:]
	if !bytes.Equal(hd[:sha256.Size], key[:]) {
		return nil, nil, h, errors.New("the image of other tables")
	}
	hd = hd[sha256.Size:]
	n, sum := binary.NativeEndian.Uint64(hd), binary.NativeEndian.Uint32(hd[8:])
	body := data[imageHead:]
	if uint64(len(body)) != n || crc32.Checksum(body, imageCRC) != sum {
		return nil, nil, h, errors.New("truncated or corrupt")
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(body)))%8 != 0 {
		return nil, nil, h, errors.New("not aligned in memory")
	}
	r := &imageReader{b: body}
	copy(h[:], sliceOf[uint64](r.take(imageCounts, 8)))
	if r.err != nil {
		return nil, nil, h, r.err
	}
	if h[ihSize4] != uint64(unsafe.Sizeof(lazyEntry[lk4]{})) || h[ihSize6] != uint64(unsafe.Sizeof(lazyEntry[lk6]{})) {
		return nil, nil, h, errors.New("entries of another layout")
	}
	lt := &lazyTable{in: in, sealed: false}
	for _, t := range sliceOf[int64](r.take(h[ihTimes], 8)) {
		lt.times = append(lt.times, time.Unix(0, t).UTC())
	}
	lt.collect = sliceOf[uint32](r.take(h[ihCollect], 4))
	note := bytes.Clone(r.take(h[ihNote], 1))
	paths := r.take(h[ihPaths], 1)
	lt.v4.es = sliceOf[lazyEntry[lk4]](r.take(h[ihEs4], int(h[ihSize4])))
	lt.v4.parent = sliceOf[int32](r.take(h[ihEs4], 4))
	lt.v4.bucket = sliceOf[uint32](r.take(1<<16+1, 4))
	lt.v4.groups = sliceOf[int32](r.take(h[ihGroups4], 4))
	c4 := sliceOf[uint32](r.take(h[ihCounts4], 8))
	lt.v6.es = sliceOf[lazyEntry[lk6]](r.take(h[ihEs6], int(h[ihSize6])))
	lt.v6.parent = sliceOf[int32](r.take(h[ihEs6], 4))
	lt.v6.bucket = sliceOf[uint32](r.take(1<<16+1, 4))
	lt.v6.groups = sliceOf[int32](r.take(h[ihGroups6], 4))
	c6 := sliceOf[uint32](r.take(h[ihCounts6], 8))
	if r.err != nil {
		return nil, nil, h, r.err
	}
	if r.off != len(body) {
		return nil, nil, h, errors.New("bytes after the last section")
	}
	var err error
	if lt.paths, err = decodePaths(paths, in); err != nil {
		return nil, nil, h, err
	}
	lt.v4.counts, lt.v6.counts = countsOf(c4), countsOf(c6)
	if err := checkFamily(&lt.v4, 32, lt); err != nil {
		return nil, nil, h, fmt.Errorf("IPv4: %w", err)
	}
	if err := checkFamily(&lt.v6, 128, lt); err != nil {
		return nil, nil, h, fmt.Errorf("IPv6: %w", err)
	}
	if h[ihPending] != uint64(len(lt.v4.es)+len(lt.v6.es)) || h[ihObserved] > math.MaxInt64 || h[ihLearned] > h[ihObserved] {
		return nil, nil, h, errors.New("counters that do not match the entries")
	}
	lt.pending = int(h[ihPending])
	lt.v4.final, lt.v6.final = true, true
	return lt, note, h, nil
}

// decodePaths reads the paths of the complex entries, interned in in.
func decodePaths(b []byte, in *bgpfeed.Interner) ([]*bgpfeed.Path, error) {
	bad := errors.New("a path that does not decode")
	next := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return math.MaxUint64
		}
		b = b[n:]
		return v
	}
	np := next()
	if np > uint64(len(b)) {
		return nil, bad
	}
	paths := make([]*bgpfeed.Path, 0, np)
	var key []byte
	for range np {
		ns := next()
		if ns > uint64(len(b)) {
			return nil, bad
		}
		segs := make([]bgpfeed.Segment, ns)
		for i := range segs {
			if len(b) == 0 {
				return nil, bad
			}
			segs[i].Type = bgpfeed.SegmentType(b[0])
			b = b[1:]
			na := next()
			if na > uint64(len(b)) {
				return nil, bad
			}
			segs[i].ASNs = make([]uint32, na)
			for j := range segs[i].ASNs {
				a := next()
				if a > math.MaxUint32 {
					return nil, bad
				}
				segs[i].ASNs[j] = uint32(a)
			}
		}
		key = bgpfeed.AppendKey(key[:0], segs)
		paths = append(paths, in.Intern(key, segs))
	}
	if len(b) != 0 {
		return nil, bad
	}
	return paths, nil
}

// countsOf rebuilds origin counts from (ASN, count) pairs.
func countsOf(pairs []uint32) *originCounts {
	c := &originCounts{big: make(map[uint32]int32)}
	for i := 0; i+1 < len(pairs); i += 2 {
		c.add(pairs[i], int32(pairs[i+1]))
	}
	return c
}

// checkFamily checks what the lookups and the learning rely on, so that
// no image can make them fail: entries in (address, length) order, each a
// masked prefix with a time and (if not one AS) a path; buckets that find
// them; parents before their children and covering them; groups at the
// first entry of each prefix with several entries or a path.
func checkFamily[K lazyKey[K]](f *lazyFamily[K], maxBits uint8, lt *lazyTable) error {
	es := f.es
	if len(f.bucket) != 1<<16+1 || f.bucket[1<<16] != uint32(len(es)) {
		return errors.New("buckets of another size")
	}
	for b := 0; b < 1<<16; b++ {
		if f.bucket[b] > f.bucket[b+1] {
			return errors.New("buckets out of order")
		}
	}
	g := 0 // the next group
	// prev is es[i-1] compared with es[i], next es[i] with es[i+1]: one
	// comparison an entry (the key methods are not inlined here).
	prev := -1
	for i := range es {
		e := &es[i]
		next := -1
		if i+1 < len(es) {
			next = e.cmp(es[i+1].key, es[i+1].bits)
		}
		if e.bits > maxBits || e.key.mask(e.bits) != e.key {
			return fmt.Errorf("entry %d: not a prefix", i)
		}
		if int(e.t) >= len(lt.times) || e.state&^lazyComplex != lazyPending {
			return fmt.Errorf("entry %d: bad time or state", i)
		}
		if e.state&lazyComplex != 0 && int(e.val) >= len(lt.paths) {
			return fmt.Errorf("entry %d: no such path", i)
		}
		if top := e.key.top16(); f.bucket[top] > uint32(i) || uint32(i) >= f.bucket[top+1] {
			return fmt.Errorf("entry %d: not in its bucket", i)
		}
		if p := f.parent[i]; p < -1 || int(p) >= i || (p >= 0 && !f.covers(int(p), e.key, e.bits)) {
			return fmt.Errorf("entry %d: bad parent", i)
		}
		if prev > 0 {
			return fmt.Errorf("entry %d: out of order", i)
		}
		first := prev < 0 // a prefix's first entry
		prev = next
		if first {
			if g < len(f.groups) && int(f.groups[g]) == i {
				g++
				continue
			}
			if e.state&lazyComplex != 0 || next == 0 {
				return fmt.Errorf("entry %d: a prefix to learn that no group names", i)
			}
			continue
		}
		// A prefix's next entry: its first is the last group.
		if g == 0 || es[f.groups[g-1]].cmp(e.key, e.bits) != 0 {
			return fmt.Errorf("entry %d: a prefix to learn that no group names", i)
		}
	}
	if g != len(f.groups) {
		return errors.New("groups out of order or not at a prefix's first entry")
	}
	return nil
}
