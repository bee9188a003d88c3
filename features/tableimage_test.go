package features

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// imageFixture is a random test table (lazyTestTable) with its interner,
// the two batches' states to build from it, and a table image of it.
type imageFixture struct {
	r    *rand.Rand
	in   *bgpfeed.Interner
	path func(set bool, asns ...uint32) *bgpfeed.Path
	es   []TableEntry
	t0   time.Time
	key  [sha256.Size]byte
	file string // the image
}

func newImageFixture(t testing.TB, seed uint64, n int) *imageFixture {
	f := &imageFixture{r: rand.New(rand.NewPCG(seed, 11)), in: bgpfeed.NewInterner(0),
		t0: time.Date(2026, 7, 30, 0, 0, 0, 0, time.UTC), key: sha256.Sum256([]byte{byte(seed)})}
	f.path = func(set bool, asns ...uint32) *bgpfeed.Path {
		segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: asns}}
		if set {
			segs[0].Type = bgpfeed.SegSet
		}
		return f.in.Intern(bgpfeed.AppendKey(nil, segs), segs)
	}
	f.es = lazyTestTable(f.r, f.path, n)
	if seed%2 == 0 { // in order, as real tables are; else sorted when sealed
		slices.SortStableFunc(f.es, func(a, b TableEntry) int {
			if !a.Prefix.IsValid() || !b.Prefix.IsValid() {
				return cmp.Compare(b2f(a.Prefix.IsValid()), b2f(b.Prefix.IsValid()))
			}
			if c := a.Prefix.Masked().Addr().Compare(b.Prefix.Masked().Addr()); c != 0 {
				return c
			}
			return a.Prefix.Bits() - b.Prefix.Bits()
		})
	}
	w := f.lazy()
	var img bytes.Buffer
	if err := w.SealTableImage(&img, f.key, []byte("the note")); err != nil {
		t.Fatal(err)
	}
	f.file = filepath.Join(t.TempDir(), "table.img")
	if err := os.WriteFile(f.file, img.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *imageFixture) learned() *State {
	s := NewState(Config{Young: time.Hour})
	k := len(f.es) * 3 / 5
	s.LearnTable(f.t0, f.es[:k])
	s.LearnTable(f.t0.Add(time.Hour), f.es[k:])
	return s
}

func (f *imageFixture) lazy() *State {
	s := NewState(Config{Young: time.Hour})
	k := len(f.es) * 3 / 5
	s.LearnOriginsLazy(f.t0, originEntries(f.es[:k]), f.in)
	s.LearnOriginsLazy(f.t0.Add(time.Hour), originEntries(f.es[k:]), f.in)
	return s
}

// TestTableImageSame: a state given a table image answers a stream of
// updates exactly as one that learned the table (every vector and
// candidate; the same counters, origins, links, inference paths and
// prefixes at the end), and so does the state that wrote the image; the
// note comes back; the image holds the entries as the state has them.
func TestTableImageSame(t *testing.T) {
	for seed := range uint64(4) {
		f := newImageFixture(t, seed, 6000)
		b := NewState(Config{Young: time.Hour})
		note, err := b.LoadTableImage(f.file, f.key, f.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(note) != "the note" {
			t.Fatalf("note %q", note)
		}
		if b.lazy == nil || b.lazy.sealed || len(b.lazy.v4.es) == 0 || len(b.lazy.v6.es) == 0 {
			t.Fatal("no lazy table of both families from the image")
		}
		if seed == 0 {
			data, err := os.ReadFile(f.file)
			if err != nil {
				t.Fatal(err)
			}
			sec := asBytes(b.lazy.v4.es)
			if i := bytes.Index(data, sec); i < 0 {
				t.Fatal("the image does not hold the entries as the state has them")
			}
		}
		if seed == 3 {
			// A table after the image is learned at once, after it.
			extra := lazyTestTable(f.r, f.path, 300)
			b.LearnOriginsLazy(f.t0.Add(90*time.Minute), originEntries(extra), f.in)
			a := f.learned()
			a.LearnTable(f.t0.Add(90*time.Minute), extra)
			sameAnswers(t, seed, f.r, a, b, append(slices.Clip(f.es), extra...), f.path, f.t0)
			continue
		}
		sameAnswers(t, seed, f.r, f.learned(), b, f.es, f.path, f.t0)
		// The state that wrote the image: sealed, it answers the same.
		w := f.lazy()
		if err := w.SealTableImage(new(bytes.Buffer), f.key, nil); err != nil {
			t.Fatal(err)
		}
		if w.lazy == nil || !w.lazy.sealed {
			t.Fatal("SealTableImage did not seal")
		}
		sameAnswers(t, seed, rand.New(rand.NewPCG(seed, 12)), f.learned(), w, f.es, f.path, f.t0)
	}
}

// TestTableImageNone: no image of a state without a lazy table alone; the
// table is sealed anyway; a loaded image needs a fresh state.
func TestTableImageNone(t *testing.T) {
	f := newImageFixture(t, 0, 200)
	if err := NewState(Config{}).SealTableImage(new(bytes.Buffer), f.key, nil); !errors.Is(err, ErrNoImage) {
		t.Fatalf("empty state: %v", err)
	}
	s := f.lazy()
	s.SealTable()
	if err := s.SealTableImage(new(bytes.Buffer), f.key, nil); !errors.Is(err, ErrNoImage) {
		t.Fatalf("sealed: %v", err)
	}
	s = f.lazy()
	s.LearnTable(f.t0, f.es[:1]) // a table learned at once seals the lazy one
	var out bytes.Buffer
	if err := s.SealTableImage(&out, f.key, nil); !errors.Is(err, ErrNoImage) || out.Len() != 0 {
		t.Fatalf("after LearnTable: %v, %d bytes", err, out.Len())
	}
	ok := NewState(Config{})
	if _, err := ok.LoadTableImage(f.file, f.key, f.in); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.LoadTableImage(f.file, f.key, f.in); err == nil {
		t.Fatal("a second image into one state")
	}
	used := NewState(Config{})
	used.Observe(&bgpfeed.Update{Time: f.t0, Kind: bgpfeed.KindState, PeerAddr: netip.MustParseAddr("192.0.2.1")}, nil)
	if _, err := used.LoadTableImage(f.file, f.key, f.in); err == nil {
		t.Fatal("an image into a state that has observed an update")
	}
}

// fixImage sets an image's head to the length and CRC of its body, so
// that a changed body reaches the checks behind them.
func fixImage(img []byte) {
	body := img[imageHead:]
	binary.NativeEndian.PutUint64(img[imageHead-12:], uint64(len(body)))
	binary.NativeEndian.PutUint32(img[imageHead-4:], crc32.Checksum(body, imageCRC))
}

// TestTableImageBad: an image that does not check out is refused with an
// error that says why, and the state is left fresh (a table then loads
// the usual way).
func TestTableImageBad(t *testing.T) {
	f := newImageFixture(t, 0, 3000)
	good, err := os.ReadFile(f.file)
	if err != nil {
		t.Fatal(err)
	}
	s := NewState(Config{})
	if _, err := s.LoadTableImage(f.file, f.key, f.in); err != nil {
		t.Fatal(err)
	}
	// The first IPv4 entry's offset in the body, from the sections' sizes.
	h := (*imageHeader)(unsafe.Pointer(&good[imageHead]))
	es4 := imageHead + imageCounts*8
	for _, n := range []uint64{h[ihTimes] * 8, h[ihCollect] * 4, h[ihNote], h[ihPaths]} {
		es4 += int(n) + pad8(int(n))
	}
	size4 := int(h[ihSize4])
	edit := func(fn func(b []byte)) []byte {
		b := bytes.Clone(good)
		fn(b)
		fixImage(b)
		return b
	}
	cases := []struct {
		name string
		data []byte
		key  [sha256.Size]byte
		want string
	}{
		{"empty", nil, f.key, "not a table image"},
		{"garbage", []byte(strings.Repeat("garbage ", 100)), f.key, "not a table image"},
		{"truncated head", good[:imageHead-1], f.key, "not a table image"},
		{"truncated body", good[:len(good)-8], f.key, "truncated or corrupt"},
		{"trailing bytes", append(bytes.Clone(good), 0), f.key, "truncated or corrupt"},
		{"flipped bit", func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 4; return b }(), f.key, "truncated or corrupt"},
		{"other tables", good, sha256.Sum256([]byte("other")), "the image of other tables"},
		{"other version", func() []byte { b := bytes.Clone(good); b[len(imageMagic)]++; return b }(), f.key, "version"},
		{"other byte order", func() []byte {
			b := bytes.Clone(good)
			slices.Reverse(b[len(imageMagic)+3 : len(imageMagic)+7])
			return b
		}(), f.key, "byte order"},
		{"section past the end", edit(func(b []byte) { binary.NativeEndian.PutUint64(b[imageHead+ihPaths*8:], 1<<40) }), f.key, "past the end"},
		{"bytes after the sections", edit(func(b []byte) { binary.NativeEndian.PutUint64(b[imageHead+ihCounts6*8:], h[ihCounts6]-1) }), f.key, "after the last section"},
		{"other layout", edit(func(b []byte) { binary.NativeEndian.PutUint64(b[imageHead+ihSize4*8:], 16) }), f.key, "another layout"},
		{"counters", edit(func(b []byte) { binary.NativeEndian.PutUint64(b[imageHead+ihPending*8:], h[ihPending]+1) }), f.key, "counters"},
		{"entries out of order", edit(func(b []byte) {
			i := 100
			for s.lazy.v4.es[i].cmp(s.lazy.v4.es[i+1].key, s.lazy.v4.es[i+1].bits) == 0 {
				i++
			}
			e := b[es4+size4*i:]
			tmp := bytes.Clone(e[:size4])
			copy(e[:size4], e[size4:2*size4])
			copy(e[size4:2*size4], tmp)
		}), f.key, "IPv4: entry"},
		{"unmasked entry", edit(func(b []byte) { b[es4+size4*50] |= 1 }), f.key, "not a prefix"},
		{"no such time", edit(func(b []byte) { binary.NativeEndian.PutUint16(b[es4+size4*7+8:], 9) }), f.key, "bad time or state"},
		{"learned entry", edit(func(b []byte) { b[es4+size4*7+11] = lazyDone }), f.key, "bad time or state"},
		{"bad paths", edit(func(b []byte) {
			p := imageHead + imageCounts*8
			for _, n := range []uint64{h[ihTimes] * 8, h[ihCollect] * 4, h[ihNote]} {
				p += int(n) + pad8(int(n))
			}
			_, w := binary.Uvarint(b[p:])
			for i := range w { // the most paths its width says: more than there are bytes
				b[p+i] = 0xff
			}
			b[p+w-1] = 0x7f
		}), f.key, "path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.img")
			if err := os.WriteFile(file, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s := NewState(Config{})
			_, err := s.LoadTableImage(file, c.key, f.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one with %q", err, c.want)
			}
			if s.lazy != nil || s.observed != 0 || s.learned != 0 {
				t.Fatal("a refused image changed the state")
			}
			s.LearnOriginsLazy(f.t0, originEntries(f.es), f.in)
			if s.lazy == nil || s.Prefixes() == 0 {
				t.Fatal("no table after a refused image")
			}
		})
	}
	if _, err := NewState(Config{}).LoadTableImage(filepath.Join(t.TempDir(), "none.img"), f.key, f.in); err == nil {
		t.Fatal("no error for a missing image")
	}
}

// FuzzTableImage: whatever the body of an image (its head's length and
// CRC made right), loading it fails with an error or gives a table the
// state can seal, look prefixes up in, materialize and save.
func FuzzTableImage(fz *testing.F) {
	// Small tables: the fuzzer minimizes what it finds by running it again.
	f := newImageFixture(fz, 2, 40)
	good, err := os.ReadFile(f.file)
	if err != nil {
		fz.Fatal(err)
	}
	fz.Add(good[imageHead:])
	fz.Add(newImageFixture(fz, 3, 12).mustRead(fz)[imageHead:])
	dir := fz.TempDir()
	fz.Fuzz(func(t *testing.T, body []byte) {
		img := append(bytes.Clone(good[:imageHead]), body...)
		fixImage(img)
		// A file of its own: a mapped image must not be rewritten in place.
		fh, err := os.CreateTemp(dir, "fuzz-*.img")
		if err != nil {
			t.Fatal(err)
		}
		file := fh.Name()
		defer os.Remove(file)
		_, err = fh.Write(img)
		if fh.Close() != nil || err != nil {
			t.Fatal(err)
		}
		s := NewState(Config{})
		if _, err := s.LoadTableImage(file, f.key, f.in); err != nil {
			return
		}
		s.SealTable()
		for _, e := range f.es[:50] {
			if e.Prefix.IsValid() {
				s.TouchTable(e.Prefix.Masked())
			}
		}
		s.Materialize()
		if err := s.Save(new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
	})
}

func (f *imageFixture) mustRead(t testing.TB) []byte {
	b, err := os.ReadFile(f.file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkTableImage: the million-prefix table of BenchmarkLazyTable
// given to the state from its table image, sealed, then the same 20,000
// prefixes touched: what score does on a cache hit, against
// BenchmarkLazyTable's learning the entries (their reading aside).
func BenchmarkTableImage(b *testing.B) {
	es := benchTable(1 << 20)
	in := bgpfeed.NewInterner(0)
	w := NewState(Config{})
	w.LearnOriginsLazy(time.Unix(0, 0), es, in)
	key := sha256.Sum256([]byte("bench"))
	file := filepath.Join(b.TempDir(), "bench.img")
	err := func() error {
		fh, err := os.Create(file)
		if err != nil {
			return err
		}
		if err := w.SealTableImage(fh, key, nil); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := NewState(Config{})
		if _, err := s.LoadTableImage(file, key, in); err != nil {
			b.Fatal(err)
		}
		s.SealTable()
		for i := 0; i < len(es); i += len(es) / 20000 {
			s.touchLazyPrefix(es[i].Prefix)
		}
	}
}
