package asorg

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

const excerpt = "../../testdata/refdata/as-org2info.20211001.excerpt.jsonl"

func dataDir() string {
	if d := os.Getenv("BGPSENTRY_SHARED_DATA"); d != "" {
		return d
	}
	return "../../../shared/data" // ../shared/data beside the repository
}

func TestExcerpt(t *testing.T) {
	tb, err := Load(excerpt)
	if err != nil {
		t.Fatal(err)
	}
	if st := tb.Stats(); st.ASNs != 11 || st.Orgs != 11 || st.OrphanASNs != 0 || st.Duplicates != 0 {
		t.Errorf("Stats = %+v, want 11 ASNs of 8 referenced orgs + 3 unreferenced orgs", st)
	}
	orgs := []struct {
		asn     uint32
		org     string
		name    string
		country string
	}{
		{3356, "LPL-141-ARIN", "Level 3 Parent, LLC", "US"},
		{1, "LPL-141-ARIN", "Level 3 Parent, LLC", "US"},
		{1299, "ORG-TCA23-RIPE", "Telia Company AB", "SE"},
		{209242, "ORG-CLL6-RIPE", "Cloudflare London, LLC", "US"},
		{64512, "", "", ""},
	}
	for _, c := range orgs {
		if got := tb.Org(c.asn); got != c.org {
			t.Errorf("Org(%d) = %q, want %q", c.asn, got, c.org)
		}
		info, ok := tb.Info(c.asn)
		if ok != (c.org != "") || info.Name != c.name || info.Country != c.country {
			t.Errorf("Info(%d) = %+v, %v", c.asn, info, ok)
		}
	}
	if info, _ := tb.Info(3549); !slices.Equal(info.ASNs, []uint32{1, 3356, 3549}) {
		t.Errorf("LPL-141-ARIN ASNs = %v", info.ASNs)
	}
	sib := []struct {
		name string
		a, b uint32
		want bool
	}{
		{"Level 3 ASNs", 3356, 3549, true},
		{"symmetric", 3549, 3356, true},
		{"Google and YouTube", 15169, 36040, true},
		{"Level 3 and Cogent", 3356, 174, false},
		// CAIDA keeps one org per RIR record: the Lumen (209 vs 3356)
		// and Cloudflare ARIN/RIPE (13335 vs 209242) ASNs are not
		// siblings in this dataset.
		{"Qwest and Level 3 separate orgs", 209, 3356, false},
		{"Cloudflare ARIN vs RIPE org", 13335, 209242, false},
		{"unknown ASN", 3356, 64512, false},
		{"both unknown", 64512, 64512, false},
		{"self", 174, 174, true},
	}
	for _, c := range sib {
		t.Run(c.name, func(t *testing.T) {
			if got := tb.Siblings(c.a, c.b); got != c.want {
				t.Errorf("Siblings(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
			}
		})
	}
}

func TestPipeFormat(t *testing.T) {
	in := `# name: AS Org
# format:aut|changed|aut_name|org_id|opaque_id|source
3356|20120224|LEVEL3|LVLT-ARIN|e5e3b9c13678dfc483fb1f819d70883c_ARIN|ARIN
3549|20120224|LVLT-3549|LVLT-ARIN|e5e3b9c13678dfc483fb1f819d70883c_ARIN|ARIN
64496|20120224|DOC|NOORG-X||ARIN
# format:org_id|changed|org_name|country|source
LVLT-ARIN|20120130|Level 3 Communications, Inc.|US|ARIN
`
	tb, err := Read(strings.NewReader(in), "as-org2info.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !tb.Siblings(3356, 3549) || tb.Siblings(3356, 64496) {
		t.Error("siblings wrong")
	}
	if info, _ := tb.Info(3356); info.Name != "Level 3 Communications, Inc." || info.Country != "US" || info.Source != "ARIN" {
		t.Errorf("Info(3356) = %+v", info)
	}
	if st := tb.Stats(); st.OrphanASNs != 1 || st.ASNs != 3 {
		t.Errorf("Stats = %+v, want 1 orphan", st)
	}
	if got := tb.Org(64496); got != "NOORG-X" {
		t.Errorf("orphan org = %q", got)
	}
}

func TestOrderAndDuplicates(t *testing.T) {
	// ASN records before their organisation, a duplicate, a numeric asn,
	// an unknown record type.
	in := `{"asn":"65000","organizationId":"A","type":"ASN","source":"RIPE"}
{"asn":65001,"organizationId":"A","type":"ASN","source":"RIPE"}
{"asn":"65002","organizationId":"B","type":"ASN","source":"RIPE"}
{"asn":"65002","organizationId":"A","type":"ASN","source":"RIPE"}
{"type":"Peering","x":1}

{"organizationId":"A","name":"Org A","country":"NL","type":"Organization","source":"RIPE"}
`
	tb, err := Read(strings.NewReader(in), "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !tb.Siblings(65000, 65002) || !tb.Siblings(65001, 65000) {
		t.Error("last record must win and numeric asn must parse")
	}
	if info, _ := tb.Info(65000); info.Name != "Org A" {
		t.Errorf("org defined after its ASNs: %+v", info)
	}
	if st := tb.Stats(); st.Duplicates != 1 || st.Skipped != 1 || st.OrphanASNs != 0 || st.Orgs != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"bad json", "{\"asn\":\"1\",\"organizationId\":\"A\",\"type\":\"ASN\"}\n{\"asn\":\"2\",", 2, "unexpected end"},
		{"bad asn", "\n{\"asn\":\"AS1\",\"organizationId\":\"A\",\"type\":\"ASN\"}", 2, "bad asn"},
		{"asn too big", "{\"asn\":\"4294967296\",\"organizationId\":\"A\",\"type\":\"ASN\"}", 1, "bad asn"},
		{"no asn", "{\"organizationId\":\"A\",\"type\":\"ASN\"}", 1, "without \"asn\""},
		{"no org id", "{\"asn\":\"1\",\"type\":\"ASN\"}", 1, "AS1 has no organizationId"},
		{"org without id", "{\"name\":\"x\",\"type\":\"Organization\"}", 1, "without organizationId"},
		{"no type", "{\"asn\":\"1\",\"organizationId\":\"A\"}", 1, "without \"type\""},
		{"pipe before format", "1|x|y|A|o|ARIN", 1, "before any \"# format:\""},
		{"pipe field count", "# format:aut|changed|aut_name|org_id|opaque_id|source\n1|x|y", 2, "has 3 fields"},
		{"pipe bad asn", "# format:aut|changed|aut_name|org_id|opaque_id|source\nx|x|y|A|o|ARIN", 2, "bad asn"},
		{"unknown format", "# format:a|b", 1, "unknown record format"},
		{"wrong type", "{\"asn\":\"1\",\"organizationId\":7,\"type\":\"ASN\"}", 1, "cannot unmarshal number"},
		{"line too long", "{\"type\":\"X\"}\n" + strings.Repeat("x", 2<<20), 2, "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.in), "orgs.jsonl")
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if pe.Line != tc.line || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "orgs.jsonl:") {
				t.Errorf("err = %q, want orgs.jsonl:%d with %q", err, tc.line, tc.msg)
			}
		})
	}
}

func TestGzipExcerpt(t *testing.T) {
	raw, err := os.ReadFile(excerpt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	tb, err := Read(&buf, "excerpt.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	if !tb.Siblings(15169, 36040) {
		t.Error("gzip input not read")
	}
	// A corrupt gzip stream is reported, not taken as an empty file.
	bad := append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{0}, 30)...)
	if _, err := Read(bytes.NewReader(bad), "bad.gz"); err == nil {
		t.Error("corrupt gzip accepted")
	}
}

func fullFile(t testing.TB) string {
	name := filepath.Join(dataDir(), "asorg/caida/20211001.as-org2info.jsonl.gz")
	if _, err := os.Stat(name); err != nil {
		t.Skipf("skipping: %v (set BGPSENTRY_DATA to the data directory)", err)
	}
	return name
}

// TestFull loads the whole 2021-10 dataset and reports time and memory.
func TestFull(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping full load in -short mode")
	}
	name := fullFile(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	tb, err := Load(name)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := tb.Stats()
	t.Logf("loaded %d ASNs, %d orgs in %v; retained heap %.1f MiB; stats %+v",
		st.ASNs, st.Orgs, elapsed, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), st)
	// 194,228 records (PROVENANCE.md): 106,546 ASN + 87,682 Organization.
	if st.ASNs != 106546 || st.Orgs != 87682 {
		t.Errorf("ASNs %d, orgs %d; want 106546, 87682", st.ASNs, st.Orgs)
	}
	if !tb.Siblings(3356, 3549) || tb.Siblings(3356, 174) {
		t.Error("Level 3 siblings wrong")
	}
	runtime.KeepAlive(tb)
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

func BenchmarkSiblings(b *testing.B) {
	tb, err := Load(excerpt)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink bool
	for b.Loop() {
		sink = tb.Siblings(3356, 3549)
	}
	_ = sink
}

func FuzzRead(f *testing.F) {
	raw, err := os.ReadFile(excerpt)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte("# format:aut|changed|aut_name|org_id|opaque_id|source\n3356|20120224|LEVEL3|LVLT-ARIN|x|ARIN\n# format:org_id|changed|org_name|country|source\nLVLT-ARIN|20120130|Level 3|US|ARIN\n"))
	f.Add([]byte(`{"asn":65001,"organizationId":"A","type":"ASN"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		st := tb.Stats()
		n := 0
		for _, o := range tb.orgs {
			for _, a := range o.ASNs {
				n++
				if tb.Org(a) != o.ID || !tb.Siblings(a, o.ASNs[0]) {
					t.Fatalf("AS%d listed under %q but Org says %q", a, o.ID, tb.Org(a))
				}
			}
		}
		if n != st.ASNs {
			t.Fatalf("orgs list %d ASNs, Stats %d", n, st.ASNs)
		}
	})
}
