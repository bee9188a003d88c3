package prefix2as

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed/internal/feedtest"
)

// dumpTable reads a table to its end (batch 0: Next; > 0: ReadEntries;
// < 0: ReadOrigins) and writes down everything a caller sees: each entry
// (time, prefix, ASN, whether it has Attrs, its path), the skipped lines
// and the error it ends with.
func dumpTable(t *testing.T, r *Reader, batch int) string {
	t.Helper()
	var b strings.Builder
	for {
		if batch == 0 {
			u, err := r.Next(context.Background())
			if err != nil {
				fmt.Fprintf(&b, "end %v\n", err)
				break
			}
			fmt.Fprintf(&b, "%s %s %s\n", u.Time, u.Prefix, u.Attrs.Path)
			continue
		}
		read := r.ReadEntries
		if batch < 0 {
			read = r.ReadOrigins
		}
		es, when, err := read(context.Background(), make([]Entry, 0, max(batch, -batch)))
		if err != nil {
			fmt.Fprintf(&b, "end %v\n", err)
			break
		}
		for _, e := range es {
			var path any = "-"
			if e.Attrs != nil {
				path = e.Attrs.Path
			}
			fmt.Fprintf(&b, "%s %s %d %v\n", when, e.Prefix, e.ASN, path)
		}
	}
	n, samples := r.Skipped()
	fmt.Fprintf(&b, "entries %d skipped %d\n", r.Entries(), n)
	for _, s := range samples {
		fmt.Fprintf(&b, "%s\n", s.Error())
	}
	return b.String()
}

// cacheFiles lists the table caches in dir.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.p2a"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func openCached(t *testing.T, path, dir string) *Reader {
	t.Helper()
	r, err := OpenCached(path, nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

const cacheSample = `; IP-ASN-DAT file
; Original file : rib.20080501.0644.bz2
208.65.152.0/22	36561
2001:db8::/32	64500
192.0.2.0	24	64501_64502
198.51.100.0	24	64503,64504_0
203.0.113.0/24	0
10.0.0.0/8 x
10.0.0.0/33 1
4294967295 1
0.0.0.0/0	4200000000
`

// TestCacheSameAsText: a table read from its cache gives what its text
// gives (entries, paths of multi-origin lines, AS 0, times, skipped lines
// and their messages), through Next, ReadEntries and ReadOrigins, gzip or
// plain; the first read writes the cache, the second reads it.
func TestCacheSameAsText(t *testing.T) {
	for _, gz := range []bool{false, true} {
		for _, batch := range []int{0, 1, 4, 1000, -1, -1000} {
			t.Run(fmt.Sprintf("gzip=%v/batch=%d", gz, batch), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "ipasn.dat")
				feedtest.WriteFile(t, path, []byte(cacheSample), gz)
				dir := filepath.Join(t.TempDir(), "cache")
				want := dumpTable(t, openCached(t, path, ""), batch)
				r := openCached(t, path, dir)
				if s, _ := r.CacheStatus(); s != CacheMiss {
					t.Fatalf("first open: %v, want miss", s)
				}
				if got := dumpTable(t, r, batch); got != want {
					t.Fatalf("text read with a cache to write:\n%s\nwant\n%s", got, want)
				}
				if s, err := r.CacheStatus(); s != CacheWritten || len(cacheFiles(t, dir)) != 1 {
					t.Fatalf("after the first read: %v (%v), %d cache files", s, err, len(cacheFiles(t, dir)))
				}
				r = openCached(t, path, dir)
				if s, _ := r.CacheStatus(); s != CacheHit {
					t.Fatalf("second open: %v, want hit", s)
				}
				if got := dumpTable(t, r, batch); got != want {
					t.Fatalf("from the cache:\n%s\nwant\n%s", got, want)
				}
				if !strings.Contains(want, "64503") || !strings.Contains(want, "skipped 3") {
					t.Fatalf("the sample lost its multi-origin or bad lines:\n%s", want)
				}
			})
		}
	}
}

// TestCacheBad: a cache file that is cut short, has a flipped bit, is of
// another version, or is not one at all is not used: the text is read
// (the same entries) and the cache written again. A changed table is a
// new key. A cache directory that cannot be written leaves the read
// intact and says why. A table read only in part, or of no entry, is not
// cached.
func TestCacheBad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipasn.dat.gz")
	feedtest.WriteFile(t, path, []byte(cacheSample), true)
	want := dumpTable(t, openCached(t, path, ""), -100)
	dir := t.TempDir()
	dumpTable(t, openCached(t, path, dir), -100)
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d cache files", len(files))
	}
	good, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string]func([]byte) []byte{
		"truncated":     func(b []byte) []byte { return b[:len(b)-3] },
		"flipped bit":   func(b []byte) []byte { b[len(b)-5] ^= 4; return b },
		"other version": func(b []byte) []byte { b[len(cacheMagic)]++; return b },
		"garbage":       func([]byte) []byte { return []byte("not a cache at all") },
		"empty":         func([]byte) []byte { return nil },
		"trailing data": func(b []byte) []byte { return append(b, 0) },
	}
	for name, f := range damage {
		if err := os.WriteFile(files[0], f(append([]byte(nil), good...)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := openCached(t, path, dir)
		if s, _ := r.CacheStatus(); s != CacheMiss {
			t.Errorf("%s: %v, want miss", name, s)
		}
		if got := dumpTable(t, r, -100); got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
		}
		if s, err := r.CacheStatus(); s != CacheWritten {
			t.Errorf("%s: not written again: %v %v", name, s, err)
		}
		if b, _ := os.ReadFile(files[0]); string(b) != string(good) {
			t.Errorf("%s: the cache written again differs", name)
		}
	}

	// A changed table: a new key, the old cache stays unused.
	feedtest.WriteFile(t, path, []byte(cacheSample+"192.0.2.128/25 7\n"), true)
	r := openCached(t, path, dir)
	if s, _ := r.CacheStatus(); s != CacheMiss {
		t.Errorf("changed table: %v, want miss", s)
	}
	if got := dumpTable(t, r, -100); !strings.Contains(got, "192.0.2.128/25 7") {
		t.Errorf("changed table read without its new line:\n%s", got)
	}
	if n := len(cacheFiles(t, dir)); n != 2 {
		t.Errorf("%d cache files, want 2", n)
	}

	// A directory that cannot be made (a file is in the way).
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	feedtest.WriteFile(t, path, []byte(cacheSample), true)
	want = dumpTable(t, openCached(t, path, ""), -100) // the file's new time
	r = openCached(t, path, filepath.Join(blocked, "cache"))
	if got := dumpTable(t, r, -100); got != want {
		t.Errorf("unwritable cache: got\n%s\nwant\n%s", got, want)
	}
	if s, err := r.CacheStatus(); s != CacheFailed || err == nil {
		t.Errorf("unwritable cache: %v %v, want failed with the reason", s, err)
	}

	// Read in part, or no entry: nothing cached.
	empty := t.TempDir()
	r = openCached(t, path, empty)
	if _, _, err := r.ReadOrigins(context.Background(), make([]Entry, 0, 2)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	bad := filepath.Join(t.TempDir(), "bad.dat")
	feedtest.WriteFile(t, bad, []byte("garbage\n"), false)
	r = openCached(t, bad, empty)
	if got := dumpTable(t, r, 0); !strings.Contains(got, "no prefix-origin entries") {
		t.Errorf("garbage table: %s", got)
	}
	if n := len(cacheFiles(t, empty)); n != 0 {
		t.Errorf("%d cache files of a table read in part or of none", n)
	}
}

// FuzzCacheSameAsText: for any table text, reading it from its cache
// gives what reading the text gives.
func FuzzCacheSameAsText(f *testing.F) {
	f.Add([]byte(cacheSample))
	f.Add([]byte("1.0.0.0/8 1\n; 20240101.0000\n2.0.0.0/8 2\n"))
	f.Add([]byte(" 10.0.0.0\t8\t1_x\n\u00a010.0.0.0/8 1\u00a0\n::/0 0_0,0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "t.dat")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, batch := range []int{0, 3, -2} {
			want := dumpTable(t, openCached(t, path, ""), batch)
			for i := range 2 {
				if got := dumpTable(t, openCached(t, path, dir), batch); got != want {
					t.Fatalf("batch %d, read %d with the cache: got\n%s\nwant\n%s", batch, i, got, want)
				}
			}
		}
	})
}

// BenchmarkCachedTable: reading a real baseline's origins from its cache
// against from its text (gzip).
func BenchmarkCachedTable(b *testing.B) {
	p := filepath.Join("..", "..", "..", "shared", "data", "baseline", "pyasn", "ipasn_20080501_v12.dat.gz")
	if _, err := os.Stat(p); err != nil {
		b.Skipf("../shared/data is not beside the repository (%v)", err)
	}
	dir := b.TempDir()
	for _, mode := range []string{"text", "cache"} {
		b.Run(mode, func(b *testing.B) {
			d := ""
			if mode == "cache" {
				d = dir
			}
			buf := make([]Entry, 0, 4096)
			for b.Loop() {
				r, err := OpenCached(p, nil, d)
				if err != nil {
					b.Fatal(err)
				}
				for {
					var err error
					if buf, _, err = r.ReadOrigins(context.Background(), buf[:0]); err != nil {
						if !errors.Is(err, io.EOF) {
							b.Fatal(err)
						}
						break
					}
				}
				r.Close()
			}
		})
	}
}

// TestCacheRealTable: the committed 2008 pyasn table (270,849 entries,
// its cache many times the decoder's window) reads the same from its
// cache as from its text.
func TestCacheRealTable(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "demo", "ipasn_20080501_v12.dat.gz")
	want := dumpTable(t, openCached(t, path, ""), -4096)
	dir := t.TempDir()
	dumpTable(t, openCached(t, path, dir), -4096)
	r := openCached(t, path, dir)
	if s, _ := r.CacheStatus(); s != CacheHit {
		t.Fatalf("second open: %v, want hit", s)
	}
	if got := dumpTable(t, r, -4096); got != want {
		t.Fatal("the real table reads differently from its cache")
	}
	if !strings.Contains(want, "entries 270849 skipped 0") {
		t.Fatalf("real table: %s", want[strings.LastIndex(want, "entries"):])
	}
}

// TestCacheLongEntry: a table with an entry longer than the cache
// reader's window (an AS set of 70,000 four-byte varints) is read as
// ever and not cached.
func TestCacheLongEntry(t *testing.T) {
	var b strings.Builder
	b.WriteString("192.0.2.0\t24\t")
	for i := range 70000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, 3000000+i)
	}
	b.WriteString("\n10.0.0.0/8 1\n")
	path := filepath.Join(t.TempDir(), "long.dat")
	feedtest.WriteFile(t, path, []byte(b.String()), false)
	dir := t.TempDir()
	r := openCached(t, path, dir)
	if got := dumpTable(t, r, 0); !strings.Contains(got, "entries 2 skipped 0") {
		t.Fatalf("long entry table: %.200s", got)
	}
	if s, err := r.CacheStatus(); s != CacheMiss || len(cacheFiles(t, dir)) != 0 {
		t.Errorf("cache %v %v, %d files: want none written", s, err, len(cacheFiles(t, dir)))
	}
}

// TestCacheEviction: past MaxCacheBytes, writing a cache removes those
// used least recently (a hit counts as a use), never the one just
// written.
func TestCacheEviction(t *testing.T) {
	defer func(m int64) { MaxCacheBytes = m }(MaxCacheBytes)
	dir := t.TempDir()
	tables := make([]string, 4)
	for i := range tables {
		tables[i] = filepath.Join(t.TempDir(), "t.dat")
		feedtest.WriteFile(t, tables[i], []byte(fmt.Sprintf("%s10.%d.0.0/16 %d\n", cacheSample, i, i+1)), false)
	}
	cacheOf := func(i int) string {
		key, err := HashFile(tables[i])
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, fmt.Sprintf("%x.p2a", key[:16]))
	}
	exists := func(i int) bool { _, err := os.Stat(cacheOf(i)); return err == nil }
	MaxCacheBytes = 1 << 30
	for i := range 3 {
		dumpTable(t, openCached(t, tables[i], dir), -10)
		// Distinct use times, oldest first.
		when := time.Now().Add(time.Duration(i-10) * time.Minute)
		if err := os.Chtimes(cacheOf(i), when, when); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(cacheOf(0))
	if err != nil {
		t.Fatal(err)
	}
	// Table 0, the oldest, is read again: a hit, now the most recent.
	if r := openCached(t, tables[0], dir); func() CacheStatus { s, _ := r.CacheStatus(); return s }() != CacheHit {
		t.Fatal("table 0 not a hit")
	}
	// Room for two caches: writing table 3's evicts table 1's, then 2's.
	MaxCacheBytes = 2*st.Size() + st.Size()/2
	dumpTable(t, openCached(t, tables[3], dir), -10)
	if got := []bool{exists(0), exists(1), exists(2), exists(3)}; !slices.Equal(got, []bool{true, false, false, true}) {
		t.Errorf("caches of tables 0-3 exist: %v, want [true false false true]", got)
	}
	// A bound below one cache keeps the one just written; a table image
	// (CacheExts) goes too, a file of another kind stays.
	img, other := filepath.Join(dir, "old.img"), filepath.Join(dir, "notes.txt")
	for _, f := range []string{img, other} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	MaxCacheBytes = 1
	dumpTable(t, openCached(t, tables[1], dir), -10)
	if got := []bool{exists(0), exists(1), exists(3)}; !slices.Equal(got, []bool{false, true, false}) {
		t.Errorf("with a bound of one byte: caches of tables 0, 1, 3 exist: %v, want [false true false]", got)
	}
	if _, err := os.Stat(img); err == nil {
		t.Error("a table image was not evicted")
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not a cache was evicted: %v", err)
	}
}

// TestOpenTimeFromHeader: a table opened from a file takes its entries'
// time from the RIB its header names, on the first read (text) and on
// the second (its cache) alike; a table without such a header takes the
// file's modification time.
func TestOpenTimeFromHeader(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	mtime := time.Date(2020, 1, 2, 3, 4, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, text string
		want       time.Time
	}{
		{"header.dat.gz", cacheSample, time.Date(2008, 5, 1, 6, 44, 0, 0, time.UTC)},
		{"asinfo.dat", "; IP-ASN32-DAT file\n; Original source: rib.20260730.1400.bz2\n; Prefixes-v4   : 1\n1.1.1.0/24\t13335\n", time.Date(2026, 7, 30, 14, 0, 0, 0, time.UTC)},
		{"plain.dat", "1.1.1.0/24\t13335\n; rib.20080501.0644 after the entries\n", mtime},
	} {
		p := filepath.Join(dir, tc.name)
		feedtest.WriteFile(t, p, []byte(tc.text), strings.HasSuffix(tc.name, ".gz"))
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		for pass := range 2 { // text, then cache
			r := openCached(t, p, cache)
			got := feedtest.ReadAll(t, r)
			if len(got) == 0 {
				t.Fatalf("%s pass %d: no entries", tc.name, pass)
			}
			for _, u := range got {
				if !u.Time.Equal(tc.want) {
					t.Fatalf("%s pass %d: entry %s time %s, want %s", tc.name, pass, u.Prefix, u.Time, tc.want)
				}
			}
			if !r.Time().Equal(tc.want) {
				t.Errorf("%s pass %d: Time() = %s, want %s", tc.name, pass, r.Time(), tc.want)
			}
		}
	}
}
