package ptrie

import (
	"bufio"
	"compress/gzip"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// dataDir is where the project's real data files live; BGPSENTRY_DATA
// overrides it.
func dataDir() string {
	if d := os.Getenv("BGPSENTRY_SHARED_DATA"); d != "" {
		return d
	}
	return "../../../shared/data" // ../shared/data beside the repository
}

type route struct {
	p      netip.Prefix
	origin uint32
}

var (
	tableOnce sync.Once
	table     []route
	tableErr  error
)

// fullTable loads the RouteViews route-views2 prefix-to-origin table of
// 2026-07-30 (pyasn format: "prefix<TAB>asn", ";" comments), 1.1M IPv4
// prefixes. Benchmarks skip when it is absent.
func fullTable(b *testing.B) []route {
	b.Helper()
	name := filepath.Join(dataDir(), "baseline/asinfo/ipasn_20260730.dat.gz")
	tableOnce.Do(func() { table, tableErr = loadIPASN(name) })
	if os.IsNotExist(tableErr) {
		b.Skipf("skipping: %s is absent (set BGPSENTRY_DATA to the data directory)", name)
	}
	if tableErr != nil {
		b.Fatal(tableErr)
	}
	return table
}

func loadIPASN(name string) ([]route, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var out []route
	sc := bufio.NewScanner(zr)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" || s[0] == ';' {
			continue
		}
		ps, as, ok := strings.Cut(s, "\t")
		if !ok {
			return nil, &os.PathError{Op: "parse line " + strconv.Itoa(line), Path: name, Err: os.ErrInvalid}
		}
		p, err := netip.ParsePrefix(ps)
		if err != nil {
			return nil, err
		}
		a, err := strconv.ParseUint(as, 10, 32)
		if err != nil {
			return nil, err
		}
		out = append(out, route{p, uint32(a)})
	}
	return out, sc.Err()
}

func buildTable(rs []route) *Trie[uint32] {
	var tr Trie[uint32]
	tr.Grow(len(rs), 0)
	for _, r := range rs {
		_ = tr.Insert(r.p, r.origin)
	}
	return &tr
}

var sinkU32 uint32
var sinkBool bool

func BenchmarkFullTable(b *testing.B) {
	rs := fullTable(b)
	b.Run("Insert", func(b *testing.B) {
		b.ReportAllocs()
		var st Stats
		for b.Loop() {
			st = buildTable(rs).Stats()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/prefix")
		b.ReportMetric(float64(st.Bytes)/float64(st.Prefixes), "B/prefix")
	})
	b.Run("InsertNoGrow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var tr Trie[uint32]
			for _, r := range rs {
				_ = tr.Insert(r.p, r.origin)
			}
			sinkBool = tr.Len() > 0
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/prefix")
	})
	tr := buildTable(rs)
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v, ok := tr.Get(rs[i].p)
			sinkU32, sinkBool = v, ok
			if i++; i == len(rs) {
				i = 0
			}
		}
	})
	// Longest match of the last address of each prefix: a host lookup
	// that walks to the bottom of the trie.
	hosts := make([]netip.Prefix, len(rs))
	for i, r := range rs {
		a := r.p.Addr().As4()
		n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		n |= ^uint32(0) >> r.p.Bits()
		hosts[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), 32)
	}
	b.Run("LongestMatch", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, v, ok := tr.LongestMatch(hosts[i])
			sinkU32, sinkBool = v, ok
			if i++; i == len(hosts) {
				i = 0
			}
		}
	})
	b.Run("Covering", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			for _, v := range tr.Covering(hosts[i]) {
				sinkU32 = v
			}
			if i++; i == len(hosts) {
				i = 0
			}
		}
	})
}

// TestFullTableMemory builds the trie of the full IPv4 table and reports
// its size and the heap it takes; it is skipped with -short.
func TestFullTableMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping full-table load in -short mode")
	}
	name := filepath.Join(dataDir(), "baseline/asinfo/ipasn_20260730.dat.gz")
	rs, err := loadIPASN(name)
	if os.IsNotExist(err) {
		t.Skipf("skipping: %s is absent (set BGPSENTRY_DATA to the data directory)", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr := buildTable(rs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rs)
	st := tr.Stats()
	t.Logf("%d prefixes: %d IPv4 nodes, trie slices %.1f MiB (%.1f B/prefix), heap growth %.1f MiB",
		st.Prefixes, st.Nodes4, float64(st.Bytes)/(1<<20), float64(st.Bytes)/float64(st.Prefixes),
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))
	if st.Prefixes != len(rs) {
		t.Errorf("stored %d prefixes, table has %d lines (duplicates?)", st.Prefixes, len(rs))
	}
	if st.Nodes4 >= 2*st.Prefixes {
		t.Errorf("%d nodes for %d prefixes: path compression is broken", st.Nodes4, st.Prefixes)
	}
	// Spot checks named in PROVENANCE.md.
	for _, c := range []struct {
		p      string
		origin uint32
	}{{"1.1.1.0/24", 13335}, {"8.8.8.0/24", 15169}, {"208.65.152.0/22", 43515}} {
		if v, ok := tr.Get(netip.MustParsePrefix(c.p)); !ok || v != c.origin {
			t.Errorf("Get(%s) = %d, %v; want %d", c.p, v, ok, c.origin)
		}
	}
	runtime.KeepAlive(tr)
}
