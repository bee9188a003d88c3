package prefix2as

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// lineSeeds are lines parseFast takes, and lines it must leave to parse.
var lineSeeds = []string{
	"208.65.152.0/22\t36561", "208.65.152.0 22 36561", "0.0.0.0/0\t0",
	"2001:db8::/32\t64500", "2001:db8::\t32\t4294967295", "::/0\t1", "::1/128\t1",
	"2001:DB8:0:0:0:0:0:0/32 7", "1:2:3:4:5:6:7:8/128 9", "1:2:3:4:5:6:7::/112 9",
	"1:2:3:4::5:6:7:8/128 9", "::ffff:1.2.3.0/120 5", "fe80::%eth0/64 1",
	"10.0.0.1/8\t2", "10.0.0.0/08\t2", "10.0.0.0\t+8\t2", "10.0.0.0\t024\t2",
	"010.0.0.0/8 1", "256.0.0.0/8 1", "1.2.3/24 1", "1.2.3.4.5/32 1", "1.2.3.0/24 AS5",
	"1.2.3.0/24 4294967296", "1.2.3.0/24 0005", "1.2.3.0/24 1_2", "1.2.3.0/24 1,2",
	"1.2.3.0/33 1", "::/129 1", "12345::/16 1", "1:::/16 1", ":1::/16 1", "1::2::/16 1",
	"1.2.3.0/24", "1.2.3.0 24 1 extra", "1.2.3.0/24\v1", "a.b.c.d/8 1", "/8 1",
}

// FuzzParseFast: a line parseFast takes is one entry, the one the
// reference string parser makes of it.
func FuzzParseFast(f *testing.F) {
	for _, s := range lineSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		pfx, asn, ok := parseFast(line)
		if !ok {
			return
		}
		r, _ := NewReader("fuzz", strings.NewReader(""), nil)
		es, err := r.parse(string(line), nil)
		if err != nil || len(es) != 1 {
			t.Fatalf("%q: parseFast %s %d, parse %d entries, %v", line, pfx, asn, len(es), err)
		}
		if es[0].Prefix != pfx || es[0].Attrs.Path.Origin() != asn || es[0].Attrs.Path.Len() != 1 {
			t.Fatalf("%q: parseFast %s %d, parse %s %s", line, pfx, asn, es[0].Prefix, es[0].Attrs.Path)
		}
	})
}

func TestParseFast(t *testing.T) {
	for _, s := range lineSeeds {
		r, _ := NewReader("t", strings.NewReader(""), nil)
		es, err := r.parse(s, nil)
		pfx, asn, ok := parseFast([]byte(s))
		if ok && (err != nil || len(es) != 1 || es[0].Prefix != pfx || es[0].Attrs.Path.Origin() != asn) {
			t.Errorf("%q: parseFast %s %d, parse %v %v", s, pfx, asn, es, err)
		}
	}
	for _, s := range []string{"10.0.0.0/8 1", "2001:db8::/32 2", "1:2:3:4:5:6:7:8/128 3", "2001:db8::1:0/112 4"} {
		if _, _, ok := parseFast([]byte(s)); !ok {
			t.Errorf("%q: not taken by parseFast", s)
		}
	}
}

// reference reads data the way the reader did before it had a byte
// parser: bufio.Scanner lines, strings.TrimSpace, parseText.
func reference(data []byte) (out []string, skipped int64, err error) {
	r, _ := NewReader("fuzz", strings.NewReader(""), nil)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		es, perr := r.parseText(strings.TrimSpace(sc.Text()), nil)
		if perr != nil {
			skipped++
		}
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s %s %s", r.when.Format(time.RFC3339), e.Prefix, e.Attrs.Path))
		}
	}
	if sc.Err() != nil {
		return out, skipped, sc.Err()
	}
	if len(out) == 0 {
		return out, skipped, ErrNoEntries
	}
	return out, skipped, nil
}

// FuzzReadEntries: Next and ReadEntries give the entries, times and
// skip counts of the reference line-by-line string parser, and end in
// the same way.
func FuzzReadEntries(f *testing.F) {
	f.Add([]byte("; rib.20080501.0644.bz2\n208.65.152.0/22\t36561\r\n2001:db8::/32 64500\n\n# x\n192.0.2.0\t24\t64501_64502,7\n1.0.0.0/8 x\n2.0.0.0/8 2"))
	f.Add([]byte("1.0.0.0/8 1\n; 20240101.0000\n2.0.0.0/8 2\n"))
	f.Add([]byte("garbage\n"))
	f.Add([]byte(" 10.0.0.0\t8\t1_x\n\u00a010.0.0.0/8 1\u00a0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantSkipped, wantErr := reference(data)
		if wantErr != nil && !errors.Is(wantErr, ErrNoEntries) {
			return // a line too long: both fail, differently worded
		}
		// A negative batch reads with ReadOrigins.
		for _, batch := range []int{0, 1, 3, 1000, -1, -7} {
			r, err := NewReader("fuzz", bytes.NewReader(data), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				if batch == 0 {
					u, err := r.Next(context.Background())
					if err != nil {
						break
					}
					got = append(got, fmt.Sprintf("%s %s %s", u.Time.Format(time.RFC3339), u.Prefix, u.Attrs.Path))
					continue
				}
				read := r.ReadEntries
				if batch < 0 {
					read = r.ReadOrigins
				}
				es, when, err := read(context.Background(), make([]Entry, 0, max(batch, -batch)))
				if err != nil {
					if errors.Is(err, io.EOF) != (wantErr == nil) {
						t.Fatalf("batch %d: ended with %v, want %v", batch, err, wantErr)
					}
					break
				}
				if len(es) == 0 {
					t.Fatalf("batch %d: no entries and no error", batch)
				}
				for _, e := range es {
					var path *bgpfeed.Path
					if e.Attrs == nil {
						if batch > 0 {
							t.Fatalf("%s: ReadEntries without Attrs", e.Prefix)
						}
						path = bgpfeed.NewPath([]bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: []uint32{e.ASN}}})
					} else if path = e.Attrs.Path; batch < 0 && e.ASN != 0 {
						t.Fatalf("%s: ReadOrigins with Attrs %v for AS %d", e.Prefix, path, e.ASN)
					} else if e.ASN != 0 && (path.Len() != 1 || path.Origin() != e.ASN) {
						t.Fatalf("%s: ASN %d, path %v", e.Prefix, e.ASN, path)
					}
					got = append(got, fmt.Sprintf("%s %s %s", when.Format(time.RFC3339), e.Prefix, path))
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("batch %d: got\n%s\nwant\n%s", batch, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if sk, _ := r.Skipped(); sk != wantSkipped {
				t.Fatalf("batch %d: skipped %d, want %d", batch, sk, wantSkipped)
			}
			if r.Entries() != int64(len(want)) {
				t.Fatalf("batch %d: Entries %d, want %d", batch, r.Entries(), len(want))
			}
		}
	})
}

func TestLongLine(t *testing.T) {
	long := "1.0.0.0/8\t" + strings.Repeat(" ", 300<<10) + "1\n"
	r, _ := NewReader("t", strings.NewReader(long+"2.0.0.0/8 2\n"+strings.Repeat("x", 2<<20)), nil)
	es, _, err := r.ReadEntries(context.Background(), make([]Entry, 0, 10))
	if err != nil || len(es) != 2 || es[0].Prefix != netip.MustParsePrefix("1.0.0.0/8") || es[1].Attrs.Path.Origin() != 2 {
		t.Fatalf("got %v, %v", es, err)
	}
	if _, _, err := r.ReadEntries(context.Background(), es[:0]); !errors.Is(err, bufio.ErrTooLong) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("a line over %d bytes: %v", maxLine, err)
	}
}

func TestReadEntriesCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ := NewReader("t", strings.NewReader("1.0.0.0/8 1\n"), nil)
	if _, _, err := r.ReadEntries(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkReadEntries(b *testing.B) {
	var buf bytes.Buffer
	for i := range 100000 {
		fmt.Fprintf(&buf, "%d.%d.%d.0/24\t%d\n", 1+i>>16, i>>8&255, i&255, 64500+i%1000)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := NewReader("b", bytes.NewReader(buf.Bytes()), nil)
		es := make([]Entry, 0, 4096)
		for {
			var err error
			if es, _, err = r.ReadEntries(context.Background(), es[:0]); err != nil {
				break
			}
		}
	}
}
