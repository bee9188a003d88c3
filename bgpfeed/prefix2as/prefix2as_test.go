package prefix2as

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/internal/feedtest"
)

func TestFormats(t *testing.T) {
	in := `; IP-ASN-DAT file
; Original file : rib.20080501.0644.bz2
208.65.152.0/22	36561
2001:db8::/32	64500
192.0.2.0	24	64501_64502
198.51.100.0	24	64503,64504
`
	r, err := NewReader("t.dat", strings.NewReader(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := feedtest.ReadAll(t, r)
	type want struct {
		prefix string
		origin uint32
		path   string
	}
	wants := []want{
		{"208.65.152.0/22", 36561, "36561"},
		{"2001:db8::/32", 64500, "64500"},
		{"192.0.2.0/24", 64501, "64501"},
		{"192.0.2.0/24", 64502, "64502"},
		{"198.51.100.0/24", 0, "{64503,64504}"},
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d entries, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		u := got[i]
		if u.Prefix != netip.MustParsePrefix(w.prefix) || u.OriginASN() != w.origin || u.Attrs.Path.String() != w.path {
			t.Errorf("entry %d = %s %d %q, want %+v", i, u.Prefix, u.OriginASN(), u.Attrs.Path.String(), w)
		}
		if !u.Table || u.Kind != bgpfeed.KindAnnounce || u.Format != bgpfeed.FormatPrefix2AS {
			t.Errorf("entry %d is not a table announcement: %+v", i, u)
		}
		if !u.Time.Equal(time.Date(2008, 5, 1, 6, 44, 0, 0, time.UTC)) {
			t.Errorf("entry %d time %s, want the RIB time from the header", i, u.Time)
		}
	}
}

func TestMalformedLinesCounted(t *testing.T) {
	in := "10.0.0.0/8\t1\nnot a line at all\n10.0.0.1/8\t2\n10.1.0.0/16\tASX\n10.2.0.0/33\t3\n10.3.0.0/16\t4\n"
	r, _ := NewReader("bad.dat", strings.NewReader(in), nil)
	got := feedtest.ReadAll(t, r)
	if len(got) != 2 {
		t.Fatalf("got %d valid entries, want 2", len(got))
	}
	n, samples := r.Skipped()
	if n != 4 || len(samples) != 4 {
		t.Fatalf("skipped %d (%d samples), want 4", n, len(samples))
	}
	if samples[0].Line != 2 || !strings.Contains(samples[0].Error(), "bad.dat:2") {
		t.Errorf("first sample %v does not name line 2", samples[0].Error())
	}
}

func TestGarbageIsAnError(t *testing.T) {
	r, _ := NewReader("garbage", bytes.NewReader([]byte("\x00\x01\x02 hello\nworld\n")), nil)
	_, err := r.Next(context.Background())
	if !errors.Is(err, ErrNoEntries) {
		t.Fatalf("err = %v, want ErrNoEntries", err)
	}
}

func TestGzipAndRealBaseline(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.dat.gz")
	feedtest.WriteFile(t, p, []byte("1.1.1.0/24\t13335\n"), true)
	r, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := feedtest.ReadAll(t, r)
	if len(got) != 1 || got[0].OriginASN() != 13335 {
		t.Fatalf("got %+v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("208.65.152.0/22\t36561\n"))
	f.Add([]byte("192.0.2.0\t24\t64501_64502,7\n"))
	f.Add([]byte("; comment rib.20080501.0644\n::/0\t0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader("fuzz", bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		for i := 0; i < 100000; i++ {
			u, err := r.Next(context.Background())
			if err != nil {
				return
			}
			if !u.Prefix.IsValid() || u.Attrs == nil || u.Attrs.Path == nil {
				t.Fatalf("invalid entry %+v", u)
			}
		}
	})
}

// TestSharedBaseline reads the real 2008 pyasn table: 270,849 prefixes,
// YouTube's 208.65.152.0/22 and 208.65.153.0/24 under AS36561.
func TestSharedBaseline(t *testing.T) {
	p := filepath.Join("..", "..", "..", "shared", "data", "baseline", "pyasn", "ipasn_20080501_v12.dat.gz")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("../shared/data is not beside the repository (%v): real baseline not read", err)
	}
	r, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	found := map[string]uint32{}
	for {
		u, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if s := u.Prefix.String(); s == "208.65.152.0/22" || s == "208.65.153.0/24" {
			found[s] = u.OriginASN()
		}
	}
	if n != 270849 {
		t.Errorf("read %d entries, want 270849", n)
	}
	if found["208.65.152.0/22"] != 36561 || found["208.65.153.0/24"] != 36561 {
		t.Errorf("YouTube prefixes: %v", found)
	}
	if sk, _ := r.Skipped(); sk != 0 {
		t.Errorf("%d lines skipped", sk)
	}
}
