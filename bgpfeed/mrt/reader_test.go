package mrt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/internal/feedtest"
)

// --- builders of raw MRT/BGP bytes, so each test states its input exactly.

func mrtRec(ts uint32, typ, sub uint16, body []byte) []byte {
	b := make([]byte, 12, 12+len(body))
	binary.BigEndian.PutUint32(b, ts)
	binary.BigEndian.PutUint16(b[4:], typ)
	binary.BigEndian.PutUint16(b[6:], sub)
	binary.BigEndian.PutUint32(b[8:], uint32(len(body)))
	return append(b, body...)
}

// bgp4mpHeader builds the BGP4MP peer header for an IPv4 session.
func bgp4mpHeader(as4 bool, peerAS uint32, peer [4]byte) []byte {
	var b []byte
	if as4 {
		b = binary.BigEndian.AppendUint32(b, peerAS)
		b = binary.BigEndian.AppendUint32(b, 12654)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(peerAS))
		b = binary.BigEndian.AppendUint16(b, 12654)
	}
	b = append(b, 0, 0, 0, 1) // ifindex, AFI IPv4
	b = append(b, peer[:]...)
	return append(b, 192, 0, 2, 254)
}

func attr(flags, typ byte, v []byte) []byte {
	return append([]byte{flags, typ, byte(len(v))}, v...)
}

// as2Seg / as4Seg encode one AS_PATH segment.
func as2Seg(typ byte, asns ...uint16) []byte {
	b := []byte{typ, byte(len(asns))}
	for _, a := range asns {
		b = binary.BigEndian.AppendUint16(b, a)
	}
	return b
}

func as4Seg(typ byte, asns ...uint32) []byte {
	b := []byte{typ, byte(len(asns))}
	for _, a := range asns {
		b = binary.BigEndian.AppendUint32(b, a)
	}
	return b
}

// bgpUpdate builds a BGP UPDATE message with the given attributes and
// IPv4 NLRI (already encoded) and withdrawn routes.
func bgpUpdate(withdrawn, attrs, nlri []byte) []byte {
	body := binary.BigEndian.AppendUint16(nil, uint16(len(withdrawn)))
	body = append(body, withdrawn...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(attrs)))
	body = append(body, attrs...)
	body = append(body, nlri...)
	msg := bytes.Repeat([]byte{0xff}, 16)
	msg = binary.BigEndian.AppendUint16(msg, uint16(19+len(body)))
	msg = append(msg, 2)
	return append(msg, body...)
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	nlri192 = []byte{24, 192, 0, 2}    // 192.0.2.0/24
	nlri198 = []byte{24, 198, 51, 100} // 198.51.100.0/24
	origin  = attr(0x40, 1, []byte{0})
	nextHop = attr(0x40, 3, []byte{192, 0, 2, 1})
)

func decodeBytes(t *testing.T, data []byte) ([]bgpfeed.Update, Stats) {
	t.Helper()
	r := NewReader("test", bytes.NewReader(data), Options{})
	defer r.Close()
	got := feedtest.ReadAll(t, r)
	return got, r.Stats()
}

// TestAS2Path: a 2-byte AS_PATH of three one-AS segments is also a valid
// 4-byte encoding of two segments; GoBGP's heuristic prefers 4-byte and
// reads "6554113 33620168". A BGP4MP_MESSAGE (not AS4) session is 2-byte.
func TestAS2Path(t *testing.T) {
	aspath := concat(as2Seg(2, 100), as2Seg(2, 513), as2Seg(2, 200))
	msg := bgpUpdate(nil, concat(origin, attr(0x40, 2, aspath), nextHop), nlri192)
	data := mrtRec(1000, typeBGP4MP, bgp4mpMessage, concat(bgp4mpHeader(false, 100, [4]byte{192, 0, 2, 1}), msg))
	got, st := decodeBytes(t, data)
	if len(got) != 1 {
		t.Fatalf("got %d updates (stats %+v)", len(got), st)
	}
	if p := got[0].Attrs.Path.String(); p != "100 513 200" {
		t.Errorf("path = %q, want \"100 513 200\"", p)
	}
	if got[0].OriginASN() != 200 {
		t.Errorf("origin = %d", got[0].OriginASN())
	}
}

func TestAS4PathMerge(t *testing.T) {
	tests := []struct {
		name   string
		aspath []byte
		as4    []byte
		want   string
	}{
		{"merge", concat(as2Seg(2, 100, 23456, 200)), concat(as4Seg(2, 4200000001, 200)), "100 4200000001 200"},
		{"as4 longer than as_path is ignored", concat(as2Seg(2, 100, 23456)), concat(as4Seg(2, 4200000001, 4200000002, 200)), "100 23456"},
		{"set counts one", concat(as2Seg(2, 100, 23456), as2Seg(1, 300, 23456)), concat(as4Seg(2, 4200000001), as4Seg(1, 300, 4200000003)), "100 4200000001 {300,4200000003}"},
		{"no as4_path", concat(as2Seg(2, 100, 200)), nil, "100 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attrs := concat(origin, attr(0x40, 2, tc.aspath), nextHop)
			if tc.as4 != nil {
				attrs = append(attrs, attr(0xc0, 17, tc.as4)...)
			}
			data := mrtRec(1000, typeBGP4MP, bgp4mpMessage, concat(bgp4mpHeader(false, 100, [4]byte{192, 0, 2, 1}), bgpUpdate(nil, attrs, nlri192)))
			got, _ := decodeBytes(t, data)
			if len(got) != 1 {
				t.Fatalf("got %d updates", len(got))
			}
			if p := got[0].Attrs.Path.String(); p != tc.want {
				t.Errorf("path = %q, want %q", p, tc.want)
			}
		})
	}
}

func TestAS4SessionIgnoresAS4Path(t *testing.T) {
	attrs := concat(origin, attr(0x40, 2, as4Seg(2, 100, 4200000001, 200)), nextHop, attr(0xc0, 17, as4Seg(2, 7, 8)))
	data := mrtRec(1000, typeBGP4MP, bgp4mpMessageAS4, concat(bgp4mpHeader(true, 100, [4]byte{192, 0, 2, 1}), bgpUpdate(nil, attrs, nlri192)))
	got, _ := decodeBytes(t, data)
	if len(got) != 1 || got[0].Attrs.Path.String() != "100 4200000001 200" {
		t.Fatalf("got %+v", got)
	}
}

func TestWithdrawAnnounceStateET(t *testing.T) {
	hdr := bgp4mpHeader(true, 64500, [4]byte{192, 0, 2, 9})
	attrs := concat(origin, attr(0x40, 2, as4Seg(2, 64500, 64501)), nextHop, attr(0xc0, 8, []byte{0xfd, 0xf4, 0, 1, 0xff, 0xff, 0xff, 0x01}))
	upd := concat(hdr, bgpUpdate(nlri198, attrs, nlri192))
	etBody := concat([]byte{0, 0x07, 0xa1, 0x20}, upd) // 500000 µs
	state := concat(hdr, []byte{0, 6, 0, 1})
	data := concat(
		mrtRec(1000, typeBGP4MPET, bgp4mpMessageAS4, etBody),
		mrtRec(1001, typeBGP4MP, bgp4mpStateChangeAS4, state),
	)
	got, _ := decodeBytes(t, data)
	if len(got) != 3 {
		t.Fatalf("got %d updates, want withdraw + announce + state", len(got))
	}
	w, a, s := got[0], got[1], got[2]
	if w.Kind != bgpfeed.KindWithdraw || w.Prefix.String() != "198.51.100.0/24" || w.Attrs != nil {
		t.Errorf("withdraw = %+v", w)
	}
	if a.Kind != bgpfeed.KindAnnounce || a.Prefix.String() != "192.0.2.0/24" || a.OriginASN() != 64501 {
		t.Errorf("announce = %+v", a)
	}
	if a.Format != bgpfeed.FormatBGP4MPET || a.Time != time.Unix(1000, 500000000).UTC() {
		t.Errorf("ET time = %s format %d", a.Time, a.Format)
	}
	if len(a.Attrs.Communities) != 2 || a.Attrs.Communities[0] != 0xfdf40001 {
		t.Errorf("communities = %x", a.Attrs.Communities)
	}
	if line := string(AppendBGPDump(nil, &a)); line != "BGP4MP_ET|1000.500000|A|192.0.2.9|64500|192.0.2.0/24|64500 64501|IGP|192.0.2.1|0|0|65012:1 no-export|NAG||\n" {
		t.Errorf("bgpdump line = %q", line)
	}
	if s.Kind != bgpfeed.KindState || !s.SessionDown() || s.PeerASN != 64500 {
		t.Errorf("state = %+v", s)
	}
}

// TestTreatAsWithdraw: an UPDATE whose AS_PATH is malformed (odd length) is
// treated as a withdrawal of its prefixes (RFC 7606) and counted.
func TestTreatAsWithdraw(t *testing.T) {
	attrs := concat(origin, attr(0x40, 2, []byte{2, 1, 0}), nextHop)
	data := mrtRec(1000, typeBGP4MP, bgp4mpMessageAS4, concat(bgp4mpHeader(true, 64500, [4]byte{192, 0, 2, 9}), bgpUpdate(nil, attrs, nlri192)))
	got, st := decodeBytes(t, data)
	if len(got) != 1 || got[0].Kind != bgpfeed.KindWithdraw {
		t.Fatalf("got %+v, want one withdrawal", got)
	}
	if st.Skipped[SkipAttribute] != 1 {
		t.Errorf("skipped = %v", st.Skipped)
	}
}

func TestCorruptInput(t *testing.T) {
	good := mrtRec(1000, typeBGP4MP, bgp4mpMessageAS4, concat(bgp4mpHeader(true, 64500, [4]byte{192, 0, 2, 9}),
		bgpUpdate(nil, concat(origin, attr(0x40, 2, as4Seg(2, 64500)), nextHop), nlri192)))
	t.Run("garbage is not MRT", func(t *testing.T) {
		r := NewReader("garbage", strings.NewReader(strings.Repeat("this is not an MRT file\n", 10)), Options{})
		defer r.Close()
		_, err := r.Next(context.Background())
		if !errors.Is(err, ErrNotMRT) {
			t.Fatalf("err = %v, want ErrNotMRT", err)
		}
	})
	t.Run("impossible length stops the file, counted", func(t *testing.T) {
		bad := mrtRec(1001, typeBGP4MP, bgp4mpMessageAS4, nil)
		binary.BigEndian.PutUint32(bad[8:], 0xffffff00)
		got, st := decodeBytes(t, concat(good, bad, good))
		if len(got) != 1 || st.Skipped[SkipBadLength] != 1 {
			t.Fatalf("got %d updates, skipped %v", len(got), st.Skipped)
		}
		if st.Samples[0].Offset != int64(len(good)) {
			t.Errorf("offset = %d, want %d", st.Samples[0].Offset, len(good))
		}
	})
	t.Run("short record at the end is a counted truncation", func(t *testing.T) {
		got, st := decodeBytes(t, concat(good, good[:len(good)-5]))
		if len(got) != 1 || st.Skipped[SkipTruncated] != 1 {
			t.Fatalf("got %d updates, skipped %v", len(got), st.Skipped)
		}
	})
	t.Run("malformed BGP message is skipped, the next record read", func(t *testing.T) {
		broken := append([]byte(nil), good...)
		broken[12+20+16] = 0 // BGP length field high byte... make the message length absurd
		broken[12+20+17] = 5
		got, st := decodeBytes(t, concat(broken, good))
		if len(got) != 1 || st.Skipped[SkipBGPMessage] != 1 {
			t.Fatalf("got %d updates, skipped %v", len(got), st.Skipped)
		}
	})
	t.Run("unknown type mid-file is counted", func(t *testing.T) {
		got, st := decodeBytes(t, concat(good, mrtRec(1001, 99, 0, []byte{1, 2, 3}), good))
		if len(got) != 2 || st.Skipped[SkipUnsupportedType] != 1 {
			t.Fatalf("got %d updates, skipped %v", len(got), st.Skipped)
		}
	})
}

func TestTruncatedGzipFixture(t *testing.T) {
	r, err := Open([]string{filepath.Join("..", "..", "testdata", "mrt", "updates.20100722.2015.truncated-20000B.gz")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := feedtest.ReadAll(t, r)
	st := r.Stats()
	// bgpdump -m prints 2,545 elements for this file.
	if len(got) != 2545 {
		t.Errorf("got %d elements, want 2545", len(got))
	}
	if st.Skipped[SkipTruncated] != 1 || st.TotalSkipped() != 1 {
		t.Errorf("skipped = %v, want one truncation", st.Skipped)
	}
}

func stateRec(ts uint32, peer byte) []byte {
	return mrtRec(ts, typeBGP4MP, bgp4mpStateChangeAS4, concat(bgp4mpHeader(true, 64500, [4]byte{192, 0, 2, peer}), []byte{0, 1, 0, 2}))
}

// TestMergeDirectory: files of a directory are merged by time, ties in file
// order; documentation is passed over and a non-MRT file is skipped and
// listed.
func TestMergeDirectory(t *testing.T) {
	dir := t.TempDir()
	feedtest.WriteFile(t, filepath.Join(dir, "a.gz"), concat(stateRec(10, 1), stateRec(30, 1), stateRec(50, 1)), true)
	os.WriteFile(filepath.Join(dir, "b"), concat(stateRec(20, 2), stateRec(30, 2), stateRec(40, 2)), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# notes\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "zzz.bin"), []byte("PK\x03\x04 not mrt at all, a zip maybe"), 0o644)
	r, err := Open([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := feedtest.ReadAll(t, r)
	var seq []string
	for _, u := range got {
		seq = append(seq, u.Time.Format("05")+"/"+u.PeerAddr.String())
	}
	want := "10/192.0.2.1 20/192.0.2.2 30/192.0.2.1 30/192.0.2.2 40/192.0.2.2 50/192.0.2.1"
	if s := strings.Join(seq, " "); s != want {
		t.Errorf("order = %s\nwant    %s", s, want)
	}
	st := r.Stats()
	if len(st.SkippedFiles) != 1 || !strings.HasSuffix(st.SkippedFiles[0], "zzz.bin") {
		t.Errorf("skipped files = %v", st.SkippedFiles)
	}
	if st.Files != 2 {
		t.Errorf("files = %d, want 2", st.Files)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub", ".hidden"), 0o755)
	for _, f := range []string{"x.gz", "sub/y.bz2", "sub/.hidden/z", "sub/NOTES.txt"} {
		os.WriteFile(filepath.Join(dir, f), []byte{1}, 0o644)
	}
	got, err := Expand([]string{dir, filepath.Join(dir, "*.gz")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("Expand = %v, want x.gz and sub/y.bz2 once each", got)
	}
	if _, err := Expand([]string{filepath.Join(dir, "*.nothing")}); !errors.Is(err, ErrNoInput) {
		t.Errorf("empty glob: err = %v", err)
	}
	if _, err := Expand([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head []byte
		want Compression
	}{{[]byte{0x1f, 0x8b, 8}, Gzip}, {[]byte("BZh9"), Bzip2}, {[]byte{0, 0, 0, 1}, Plain}, {nil, Plain}} {
		if got := Sniff(tc.head); got != tc.want {
			t.Errorf("Sniff(%x) = %v, want %v", tc.head, got, tc.want)
		}
	}
}

// TestCloseEarly: closing a reader mid-file stops its goroutines.
func TestCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	r, err := Open([]string{filepath.Join("..", "..", "testdata", "mrt", "updates.et-header.2015.first3000.gz")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := r.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left after Close (before: %d)", n, before)
	}
}

func TestInternerShares(t *testing.T) {
	attrs := concat(origin, attr(0x40, 2, as4Seg(2, 64500, 64501)), nextHop)
	rec := mrtRec(1000, typeBGP4MP, bgp4mpMessageAS4, concat(bgp4mpHeader(true, 64500, [4]byte{192, 0, 2, 9}), bgpUpdate(nil, attrs, nlri192)))
	got, _ := decodeBytes(t, concat(rec, rec, rec))
	if len(got) != 3 || got[0].Attrs.Path != got[2].Attrs.Path {
		t.Fatal("equal AS paths are not shared")
	}
}

// TestOpenFile: the decompressed bytes of a gzip file; os.Open's error for
// a missing file; a damaged gzip header named with its path.
func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	gz := filepath.Join(dir, "a.gz")
	feedtest.WriteFile(t, gz, []byte("hello"), true)
	r, err := OpenFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hello" || r.Close() != nil {
		t.Fatalf("%q, %v", b, err)
	}
	if _, err := OpenFile(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.gz")
	if err := os.WriteFile(bad, []byte{0x1f, 0x8b, 0xff, 0xff, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("damaged gzip: %v", err)
	}
}
