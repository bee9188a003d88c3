package mrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// fuzzSeeds are the first records of every testdata/mrt file,
// decompressed, plus the hand-built records of the unit tests.
func fuzzSeeds(f *testing.F) {
	files, err := Expand([]string{filepath.Join("..", "..", "testdata", "mrt")})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		fh, err := os.Open(p)
		if err != nil {
			f.Fatal(err)
		}
		zr, _, err := Decompress(fh)
		if err != nil {
			f.Fatal(err)
		}
		head := make([]byte, 8<<10)
		n, _ := io.ReadFull(zr, head)
		fh.Close()
		f.Add(head[:n])
	}
	hdr := bgp4mpHeader(false, 100, [4]byte{192, 0, 2, 1})
	f.Add(mrtRec(1000, typeBGP4MP, bgp4mpMessage, concat(hdr, bgpUpdate(nlri198,
		concat(origin, attr(0x40, 2, concat(as2Seg(2, 100, 23456), as2Seg(1, 7, 8))), nextHop, attr(0xc0, 17, as4Seg(2, 4200000001))), nlri192))))
	f.Add(mrtRec(1000, typeTableDump, 1, []byte{0, 0, 0, 1, 192, 0, 2, 0, 24, 1, 0, 0, 0, 1, 192, 0, 2, 9, 0, 100, 0, 4, 0x40, 1, 1, 0}))
}

// FuzzReader: whatever the bytes, the reader ends (EOF or an error), never
// panics, and every Update it yields is well formed. A panic inside GoBGP's
// decoders (which slice without bounds checks in places, e.g.
// PathAttributeMpReachNLRI on a 3-byte attribute) is recovered, and the
// record is skipped and counted as decoder-panic; a panic in bgpsentry's own
// code fails the fuzzer.
func FuzzReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The read runs in its own goroutine so that a decoder stuck in a
		// loop is reported as a crash (with the input saved) instead of
		// stalling the fuzzer.
		errc := make(chan error, 1)
		go func() { errc <- readFuzz(data) }()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			panic("mrt reader hung on this input")
		}
	})
}

func readFuzz(data []byte) error {
	r := NewReader("fuzz", bytes.NewReader(data), Options{Workers: 1})
	defer r.Close()
	for {
		u, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			break
		}
		switch u.Kind {
		case bgpfeed.KindAnnounce:
			if u.Attrs == nil || u.Attrs.Path == nil || !u.Prefix.IsValid() {
				return fmt.Errorf("malformed announcement %+v", u)
			}
			_ = AppendBGPDump(nil, &u)
		case bgpfeed.KindWithdraw:
			if !u.Prefix.IsValid() {
				return fmt.Errorf("malformed withdrawal %+v", u)
			}
		case bgpfeed.KindState:
		default:
			return fmt.Errorf("update of kind %d", u.Kind)
		}
	}
	for _, smp := range r.Stats().Samples {
		if smp.Kind == SkipDecoderPanic && strings.Contains(smp.Err.Error(), "github.com/bgpsentry/") {
			return fmt.Errorf("bgpsentry code panicked: %v", smp.Error())
		}
	}
	return nil
}

// TestGoBGPPanicsAreCounted: inputs on which GoBGP's decoders panic (found
// by FuzzReader, kept in testdata/fuzz/FuzzReader) are skipped and counted,
// and the records around them are still read.
func TestGoBGPPanicsAreCounted(t *testing.T) {
	// An IPv4 BGP4MP UPDATE whose MP_REACH_NLRI attribute is 3 bytes long:
	// GoBGP reads the next-hop length past the end of the value.
	hdr := bgp4mpHeader(true, 64500, [4]byte{192, 0, 2, 9})
	bad := mrtRec(1000, typeBGP4MP, bgp4mpMessageAS4, concat(hdr, bgpUpdate(nil,
		concat(origin, attr(0x40, 2, as4Seg(2, 64500)), attr(0x80, 14, []byte{0, 2, 1})), nil)))
	good := mrtRec(1001, typeBGP4MP, bgp4mpMessageAS4, concat(hdr, bgpUpdate(nil,
		concat(origin, attr(0x40, 2, as4Seg(2, 64500)), nextHop), nlri192)))
	got, st := decodeBytes(t, concat(good, bad, good))
	if len(got) != 2 {
		t.Fatalf("got %d updates, want the 2 good ones", len(got))
	}
	if st.TotalSkipped() != 1 {
		t.Fatalf("skipped = %v, want the bad record counted once", st.Skipped)
	}
	for _, smp := range st.Samples {
		if smp.Offset != int64(len(good)) {
			t.Errorf("skip at offset %d, want %d", smp.Offset, len(good))
		}
	}
}
