package asrel

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const excerpt = "../../testdata/refdata/toposcope-asrel_201806.excerpt.txt"

func dataDir() string {
	if d := os.Getenv("BGPSENTRY_SHARED_DATA"); d != "" {
		return d
	}
	return "../../../shared/data" // ../shared/data beside the repository
}

func mustRead(t testing.TB, s string) *Graph {
	t.Helper()
	g, err := Read(strings.NewReader(s), "inline")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestLoadExcerpt(t *testing.T) {
	g, err := Load(excerpt)
	if err != nil {
		t.Fatal(err)
	}
	// 31 lines; "3356|174|0" and "1299|3356|0" repeat earlier peerings.
	if st := g.Stats(); st.Links != 29 || st.Duplicates != 2 || st.Conflicts != 0 {
		t.Errorf("Stats = %+v, want 29 links, 2 duplicates", st)
	}
	tests := []struct {
		a, b uint32
		want Relation
	}{
		{174, 13335, Provider},
		{13335, 174, Customer},
		{3356, 174, Peer},
		{174, 3356, Peer},
		{6939, 13335, Peer},
		{33491, 63206, Provider},
		{63206, 33491, Customer},
		{174, 15169, Unknown},
		{13335, 13335, Unknown},
		{0, 1, Unknown},
	}
	for _, tc := range tests {
		if got := g.Rel(tc.a, tc.b); got != tc.want {
			t.Errorf("Rel(%d, %d) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if d := g.Degree(13335); d != (Degree{Providers: 3, Peers: 1}) {
		t.Errorf("Degree(13335) = %+v", d)
	}
	if d := g.Degree(3356); d != (Degree{Customers: 1, Peers: 4}) || d.Total() != 5 {
		t.Errorf("Degree(3356) = %+v", d)
	}
	if d := g.Degree(64512); d.Total() != 0 {
		t.Errorf("Degree of absent AS = %+v", d)
	}
	var nbrs []string
	for a, r := range g.Neighbors(13335) {
		nbrs = append(nbrs, r.String()+":"+itoa(a))
	}
	if got := strings.Join(nbrs, " "); got != "customer:174 customer:1299 customer:2914 peer:6939" {
		t.Errorf("Neighbors(13335) = %s", got)
	}
	n := 0
	for l := range g.Links() {
		n++
		if l.A >= l.B || g.Rel(l.A, l.B) != l.Rel {
			t.Errorf("link %+v inconsistent with Rel", l)
		}
	}
	if n != 29 {
		t.Errorf("Links yielded %d", n)
	}
}

func itoa(a uint32) string { return strconv.FormatUint(uint64(a), 10) }

func TestSerial2AndCompression(t *testing.T) {
	in := "# source:topology|BGP|20180601\n# input clique: 174 209 286\n1|2|-1|bgp\r\n2|3|0|mlp\n\n3|4|-1|bgp,mlp\n"
	g := mustRead(t, in)
	if g.Rel(1, 2) != Provider || g.Rel(3, 2) != Peer || g.Rel(4, 3) != Customer || g.Len() != 3 {
		t.Errorf("serial-2 parse wrong: %v %v %v len %d", g.Rel(1, 2), g.Rel(3, 2), g.Rel(4, 3), g.Len())
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(in))
	zw.Close()
	gz, err := Read(&buf, "x.gz")
	if err != nil {
		t.Fatal(err)
	}
	if gz.Len() != 3 || gz.Rel(1, 2) != Provider {
		t.Error("gzip input not read")
	}
	// CAIDA ships .bz2 files.
	plain, err := Load(excerpt)
	if err != nil {
		t.Fatal(err)
	}
	bz, err := Load(excerpt + ".bz2")
	if err != nil {
		t.Fatal(err)
	}
	if bz.Len() != plain.Len() || bz.Rel(174, 13335) != Provider {
		t.Errorf("bzip2 excerpt: %d links, plain %d", bz.Len(), plain.Len())
	}
	// A conflicting repeat keeps the first line and is counted.
	c := mustRead(t, "1|2|-1\n2|1|-1\n1|2|0\n2|1|0\n")
	if st := c.Stats(); c.Rel(1, 2) != Provider || st.Conflicts != 3 || st.Duplicates != 0 {
		t.Errorf("conflicts: rel %v stats %+v", c.Rel(1, 2), st)
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"two fields", "1|2|-1\n1|2\n", 2, "2 fields"},
		{"five fields", "1|2|-1|bgp|x", 1, "more than 4 fields"},
		{"bad asn", "# c\n1|x|-1", 2, `bad AS number "x"`},
		{"asn too big", "4294967296|1|0", 1, "bad AS number"},
		{"negative asn", "-1|1|0", 1, "bad AS number"},
		{"empty asn", "|1|0", 1, "bad AS number"},
		{"bad relation", "1|2|1", 1, `relationship "1"`},
		{"sibling code", "1|2|2", 1, `relationship "2"`},
		{"self link", "\n\n7|7|0", 3, "AS7 to itself"},
		{"spaces", "1 | 2 | -1", 1, "bad AS number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.in), "as-rel.txt")
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if pe.Line != tc.line || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "as-rel.txt:") {
				t.Errorf("err = %q, want as-rel.txt:%d with %q", err, tc.line, tc.msg)
			}
		})
	}
	if _, err := Load("/nonexistent/as-rel.txt"); err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestConeAndSiblings(t *testing.T) {
	// 1 -> 2 -> 3 -> 4, 1 -> 5, 2 -> 5 (5 multihomed), 2 peers 6, 6 -> 7.
	g := mustRead(t, "1|2|-1\n2|3|-1\n3|4|-1\n1|5|-1\n2|5|-1\n2|6|0\n6|7|-1\n")
	cones := map[uint32]int{1: 5, 2: 4, 3: 2, 4: 1, 5: 1, 6: 2, 7: 1, 99: 0}
	for a, want := range cones {
		if got := g.ConeSize(a); got != want {
			t.Errorf("ConeSize(%d) = %d, want %d", a, got, want)
		}
	}
	n := g.MarkSiblings(func(a, b uint32) bool { return a+b == 3 || a+b == 13 }) // 1-2, 6-7
	if n != 2 || g.Rel(2, 1) != Sibling || g.Rel(7, 6) != Sibling || g.Rel(2, 3) != Provider {
		t.Errorf("MarkSiblings = %d, rels %v %v", n, g.Rel(2, 1), g.Rel(7, 6))
	}
	if d := g.Degree(2); d != (Degree{Customers: 2, Peers: 1, Siblings: 1}) {
		t.Errorf("Degree(2) after siblings = %+v", d)
	}
	if g.ConeSize(1) != 2 { // only 5 remains a customer of 1
		t.Errorf("ConeSize(1) after siblings = %d", g.ConeSize(1))
	}
}

func fullFile(t testing.TB) string {
	name := filepath.Join(dataDir(), "asrel/toposcope/asrel_201806.txt")
	if _, err := os.Stat(name); err != nil {
		t.Skipf("skipping: %v (set BGPSENTRY_DATA to the data directory)", err)
	}
	return name
}

// TestLoadFull loads TopoScope's 2018-06 inference (287,374 lines) and
// reports time and memory; it must stay well under a second.
func TestLoadFull(t *testing.T) {
	name := fullFile(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	g, err := Load(name)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := g.Stats()
	t.Logf("%d links, %d ASes in %v, retained heap %.1f MiB; ConeSize(3356)=%d Degree(3356)=%+v ConeSize(13335)=%d",
		st.Links, st.ASes, elapsed, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20),
		g.ConeSize(3356), g.Degree(3356), g.ConeSize(13335))
	if st.Links != 287216 || st.Duplicates != 158 || st.Conflicts != 0 {
		t.Errorf("Stats = %+v, want 287216 links, 158 duplicates", st)
	}
	if elapsed > 2*time.Second && !testing.Short() {
		t.Errorf("load took %v", elapsed)
	}
	runtime.KeepAlive(g)
}

func BenchmarkLoadFull(b *testing.B) {
	name := fullFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(name); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRel(b *testing.B) {
	g, err := Load(fullFile(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink Relation
	for b.Loop() {
		sink = g.Rel(3356, 15169)
	}
	_ = sink
}

func FuzzRead(f *testing.F) {
	raw, err := os.ReadFile(excerpt)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte("# serial-2\n1|2|-1|bgp\n2|3|0|mlp\n"))
	f.Add([]byte("1|2|-1\n2|1|0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		n := 0
		for l := range g.Links() {
			n++
			if g.Rel(l.A, l.B) != l.Rel || g.Rel(l.B, l.A) != l.Rel.Reverse() || l.Rel == Unknown {
				t.Fatalf("link %+v: Rel %v / %v", l, g.Rel(l.A, l.B), g.Rel(l.B, l.A))
			}
		}
		deg := 0
		for _, a := range g.asns {
			deg += g.Degree(a).Total()
		}
		if n != g.Len() || deg != 2*n {
			t.Fatalf("%d links, Len %d, degree sum %d", n, g.Len(), deg)
		}
	})
}
