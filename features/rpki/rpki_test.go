package rpki

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	sampleFile = "../../testdata/refdata/rpki-client-test.rpki.json"
	rovHead    = "../../testdata/refdata/rov_20250310_list.head40.json"
)

func dataDir() string {
	if d := os.Getenv("BGPSENTRY_SHARED_DATA"); d != "" {
		return d
	}
	return "../../../shared/data" // ../shared/data beside the repository
}

func loadSample(t testing.TB) *Table {
	t.Helper()
	tb, err := Load(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestLoadSample(t *testing.T) {
	tb := loadSample(t)
	if tb.Len() != 19 {
		t.Errorf("Len = %d, want the sample's 19 VRPs", tb.Len())
	}
	n, tas := 0, map[string]int{}
	for v := range tb.All() {
		n++
		tas[v.TA]++
	}
	if n != 19 || tas["lmao"] != 1 || tas["apnic"] != 8 || tas["ripe"] != 3 {
		t.Errorf("All: %d VRPs, trust anchors %v", n, tas)
	}
}

func TestValidate(t *testing.T) {
	tb := loadSample(t)
	tests := []struct {
		name   string
		prefix string
		origin uint32
		want   Status
	}{
		{"exact match", "1.0.0.0/24", 13335, Valid},
		{"wrong origin", "1.0.0.0/24", 15169, InvalidASN},
		{"too specific", "1.0.0.0/25", 13335, InvalidLength},
		{"too specific, wrong origin", "1.0.0.128/25", 15169, InvalidASN},
		{"covering VRP maxLength 22", "1.0.4.0/22", 38803, Valid},
		{"own VRP for the /24", "1.0.5.0/24", 38803, Valid},
		{"only the /22 covers, too long", "1.0.6.0/24", 38803, InvalidLength},
		{"/23 longer than maxLength 22", "1.0.4.0/23", 38803, InvalidLength},
		{"less specific than any VRP", "1.0.0.0/16", 13335, NotFound},
		{"uncovered", "8.8.8.0/24", 15169, NotFound},
		{"v6 exact", "2001:610::/32", 1103, Valid},
		{"v6 within maxLength 48", "2001:610:1::/48", 1103, Valid},
		{"v6 beyond maxLength 48", "2001:610:1::/49", 1103, InvalidLength},
		{"v6 /29 maxLength 29 and /32 both cover", "2001:610:240::/42", 1103, Valid},
		{"v6 other origin's own VRP", "2001:610:240::/42", 3333, Valid},
		{"v6 other origin too long", "2001:610:240::/44", 3333, InvalidLength},
		{"v6 unrelated origin", "2001:610:240::/42", 64500, InvalidASN},
		{"two VRPs same prefix, longer maxLength wins", "2800:40:1::/48", 16814, Valid},
		{"maxLength 128", "2800:38::1/128", 27808, Valid},
		{"unknown origin (AS_SET) is never valid", "1.0.0.0/24", 0, InvalidASN},
		{"invalid prefix", "", 13335, NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p netip.Prefix
			if tc.prefix != "" {
				p = netip.MustParsePrefix(tc.prefix)
			}
			if got := tb.Validate(p, tc.origin); got != tc.want {
				t.Errorf("Validate(%s, AS%d) = %v, want %v; covering %v", tc.prefix, tc.origin, got, tc.want, tb.Covering(p))
			}
		})
	}
}

func mustRead(t *testing.T, s string) *Table {
	t.Helper()
	tb, err := Read(strings.NewReader(s), "inline.json")
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestAS0AndFormats(t *testing.T) {
	// Routinator's format, AS0 ROA over a /8 (RFC 6483 section 4), a
	// missing maxLength, and the same VRP from two trust anchors.
	tb := mustRead(t, `{"metadata": {"generated": 1},
	"roas": [
		{"asn": "AS0", "prefix": "10.0.0.0/8", "maxLength": 32, "ta": "ripe"},
		{"asn": "AS64500", "prefix": "10.1.0.0/16", "maxLength": 24, "ta": "ripe"},
		{"asn": "as64501", "prefix": "10.2.0.0/16", "ta": "arin"},
		{"asn": "64502", "prefix": "2001:db8::/32", "maxLength": 48, "ta": "apnic"},
		{"asn": 64502, "prefix": "2001:db8::/32", "maxLength": 48, "ta": "afrinic"},
		{"asn":"AS13335","prefix":"1.1.1.0/24","maxLength":24,"ta":"apnic"}
	],
	"aspas": []}`)
	if tb.Len() != 5 {
		t.Errorf("Len = %d, want 5 (one duplicate across trust anchors)", tb.Len())
	}
	tests := []struct {
		prefix string
		origin uint32
		want   Status
	}{
		{"10.1.0.0/16", 64500, Valid},
		{"10.1.2.0/24", 64500, Valid},
		{"10.1.2.0/25", 64500, InvalidLength},
		{"10.3.0.0/16", 64500, InvalidASN}, // only AS0 covers it
		{"10.0.0.0/8", 0, InvalidASN},      // AS0 never matches, not even origin 0
		{"10.2.0.0/16", 64501, Valid},
		{"10.2.0.0/17", 64501, InvalidLength}, // maxLength defaulted to 16
		{"2001:db8:1::/48", 64502, Valid},
		{"1.1.1.0/24", 13335, Valid},
		{"1.1.1.0/24", 64500, InvalidASN},
	}
	for _, tc := range tests {
		if got := tb.Validate(netip.MustParsePrefix(tc.prefix), tc.origin); got != tc.want {
			t.Errorf("Validate(%s, AS%d) = %v, want %v", tc.prefix, tc.origin, got, tc.want)
		}
	}
	cov := tb.Covering(netip.MustParsePrefix("10.1.2.0/24"))
	if len(cov) != 2 || cov[0].ASN != 0 || cov[1].ASN != 64500 || cov[1].MaxLength != 24 || cov[0].TA != "ripe" {
		t.Errorf("Covering = %v", cov)
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"bad prefix", "{\"roas\": [\n{\"asn\": 1, \"prefix\": \"1.0.0.0/24\", \"maxLength\": 24},\n{\"asn\": 1, \"prefix\": \"1.0.0/24\", \"maxLength\": 24}]}", 3, "roas[1]: bad prefix"},
		{"host bits", "{\"roas\": [\n{\"asn\": 1, \"prefix\": \"1.0.0.1/24\"}]}", 2, "host bits"},
		{"maxLength too short", "{\"roas\": [\n\n{\"asn\": 1, \"prefix\": \"1.0.0.0/24\", \"maxLength\": 23}]}", 3, "maxLength 23 outside 24..32"},
		{"maxLength too long", "{\"roas\": [{\"asn\": 1, \"prefix\": \"2001:db8::/32\", \"maxLength\": 129}]}", 1, "maxLength 129"},
		{"asn word", "{\"roas\": [\n{\"asn\": \"ASx\", \"prefix\": \"1.0.0.0/24\"}]}", 2, "bad asn"},
		{"asn negative", "{\"roas\": [\n{\"asn\": -1, \"prefix\": \"1.0.0.0/24\"}]}", 2, "bad asn"},
		{"asn too big", "{\"roas\": [\n{\"asn\": 4294967296, \"prefix\": \"1.0.0.0/24\"}]}", 2, "bad asn"},
		{"asn missing", "{\"roas\": [\n{\"prefix\": \"1.0.0.0/24\"}]}", 2, "missing \"asn\""},
		{"prefix missing", "{\"roas\": [\n{\"asn\": 1}]}", 2, "missing \"prefix\""},
		{"maxLength is a string", "{\"roas\": [\n{\"asn\": 1, \"prefix\": \"1.0.0.0/24\",\n \"maxLength\": \"24\"}]}", 3, "cannot unmarshal"},
		{"missing comma", "{\"roas\": [\n{\"asn\": 1, \"prefix\": \"1.0.0.0/24\"}\n{\"asn\": 2}]}", 3, "after array element"},
		{"truncated", "{\"roas\": [\n{\"asn\": 1,", 2, "unexpected end"},
		{"array at top", "[]", 1, "cannot unmarshal array"},
		{"roas not an array", "{\"roas\": {}}", 1, "cannot unmarshal object"},
		{"no roas", "{\"metadata\": {}}", 0, "no \"roas\" array"},
		{"trailing data", "{\"roas\": []}\n{}", 2, "after top-level value"},
		// encoding/json keeps the last of duplicate keys; the line must be
		// that of the element in the array that counts.
		{"duplicate roas", "{\"roas\": [{\"asn\": 1, \"prefix\": \"1.0.0.0/24\"}],\n\"x\": 1, \"roas\": [\n{\"asn\": 1, \"prefix\": \"1.0.0.0/24\"},\n{\"asn\": 1}]}", 4, "roas[1]: missing \"prefix\""},
		{"empty", "", 1, "unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.in), "vrps.json")
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != tc.line || pe.File != "vrps.json" || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q (line %d), want line %d containing %q", err, pe.Line, tc.line, tc.msg)
			}
			if tc.line > 0 && !strings.Contains(err.Error(), "vrps.json:") {
				t.Errorf("err = %q does not name file:line", err)
			}
		})
	}
}

func TestGzip(t *testing.T) {
	raw, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	tb, err := Read(&buf, "test.rpki.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 19 {
		t.Errorf("Len = %d", tb.Len())
	}
}

func TestDeployers(t *testing.T) {
	d, err := LoadDeployers(rovHead)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 40 {
		t.Errorf("Len = %d, want 40", d.Len())
	}
	for _, c := range []struct {
		asn  uint32
		want bool
	}{{10003, true}, {104, true}, {10695, true}, {10004, false}, {13335, false}, {0, false}} {
		if got := d.Deploys(c.asn); got != c.want {
			t.Errorf("Deploys(%d) = %v, want %v", c.asn, got, c.want)
		}
	}
	d, err = ReadDeployers(strings.NewReader(`[174, "AS3356", "as1299", "174"]`), "inline")
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || !d.Deploys(3356) || !d.Deploys(1299) || !d.Deploys(174) {
		t.Errorf("mixed forms: Len %d", d.Len())
	}
	for _, bad := range []struct{ in, msg string }{
		{"[\n1,\n\"x\"]", "inline:3: element 1: bad asn"},
		{"{}", "inline:1:"},
		{"[1, 2", "unexpected end"},
		{"[[1]]", "bad asn"},
	} {
		_, err := ReadDeployers(strings.NewReader(bad.in), "inline")
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("ReadDeployers(%q) err = %v, want ~%q", bad.in, err, bad.msg)
		}
	}
}

func TestDeployersFull(t *testing.T) {
	name := filepath.Join(dataDir(), "rpki/rov-deployment/rov_20250310_list.json")
	if _, err := os.Stat(name); err != nil {
		t.Skipf("skipping: %v (set BGPSENTRY_DATA to the data directory)", err)
	}
	start := time.Now()
	d, err := LoadDeployers(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d ASNs in %v", d.Len(), time.Since(start))
	if d.Len() != 7275 {
		t.Errorf("Len = %d, want 7275 (PROVENANCE.md)", d.Len())
	}
	for _, a := range []uint32{13335, 174, 3356, 1299, 15169, 6939, 2914} {
		if !d.Deploys(a) {
			t.Errorf("AS%d missing", a)
		}
	}
}

func FuzzRead(f *testing.F) {
	raw, err := os.ReadFile(sampleFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"roas":[{"asn":"AS13335","prefix":"1.1.1.0/24","maxLength":24,"ta":"apnic"}]}`))
	f.Add([]byte(`{"roas":[{"asn":0,"prefix":"10.0.0.0/8","maxLength":32},{"asn":"64500","prefix":"2001:db8::/32"}]}`))
	f.Add([]byte(`{"roas":[{"asn":1,"prefix":"1.0.0.0/24","maxLength":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := Read(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		n := 0
		for v := range tb.All() {
			n++
			if v.MaxLength < v.Prefix.Bits() || v.MaxLength > v.Prefix.Addr().BitLen() {
				t.Fatalf("stored bad maxLength: %v", v)
			}
			want := Valid
			if v.ASN == 0 {
				want = InvalidASN
				if len(tb.Covering(v.Prefix)) == 0 {
					t.Fatalf("%v not covering itself", v)
				}
				continue
			}
			if got := tb.Validate(v.Prefix, v.ASN); got != want {
				t.Fatalf("Validate(own VRP %v) = %v", v, got)
			}
		}
		if n != tb.Len() {
			t.Fatalf("All yielded %d, Len %d", n, tb.Len())
		}
	})
}

func FuzzReadDeployers(f *testing.F) {
	raw, err := os.ReadFile(rovHead)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`[174, "AS3356", "as1299"]`))
	f.Add([]byte(`["1",`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadDeployers(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		for _, a := range d.asns {
			if !d.Deploys(a) {
				t.Fatalf("Deploys(%d) false for a listed ASN", a)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	tb := loadSample(b)
	ps := []netip.Prefix{
		netip.MustParsePrefix("1.0.4.0/24"),
		netip.MustParsePrefix("8.8.8.0/24"),
		netip.MustParsePrefix("2001:610:240::/44"),
	}
	b.ReportAllocs()
	var sink Status
	i := 0
	for b.Loop() {
		sink = tb.Validate(ps[i%3], 38803)
		i++
	}
	_ = sink
}

// syntheticVRPs writes rpki-client style JSON with n VRPs, 80% IPv4 /24s
// and 20% IPv6 /48s: the size of a full 2025 VRP set is about 700k.
func syntheticVRPs(n int) []byte {
	var b bytes.Buffer
	b.WriteString("{\"metadata\": {\"buildmachine\": \"synthetic\"},\n\"roas\": [\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		if i%5 == 4 {
			fmt.Fprintf(&b, `{ "asn": %d, "prefix": "2a%02x:%x:%x::/48", "maxLength": 48, "ta": "ripe", "expires": 1827568318 }`, 64512+i%1000, i%256, i>>16, i&0xffff)
		} else {
			fmt.Fprintf(&b, `{ "asn": %d, "prefix": "%d.%d.%d.0/24", "maxLength": 24, "ta": "apnic", "expires": 1827568318 }`, 64512+i%1000, 1+i>>16%223, i>>8&255, i&255)
		}
	}
	b.WriteString("\n]}\n")
	return b.Bytes()
}

func BenchmarkRead(b *testing.B) {
	data := syntheticVRPs(700_000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		tb, err := Read(bytes.NewReader(data), "synthetic.json")
		if err != nil {
			b.Fatal(err)
		}
		if tb.Len() == 0 {
			b.Fatal("empty")
		}
	}
}
