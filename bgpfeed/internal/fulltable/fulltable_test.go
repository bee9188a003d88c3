package fulltable

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

var testPeers = []Peer{
	{ASN: 6939, Addr: netip.MustParseAddr("192.0.2.1"), NextHop6: netip.MustParseAddr("2001:db8::1")},
	{ASN: 3257, Addr: netip.MustParseAddr("192.0.2.2"), ID: netip.MustParseAddr("10.0.0.2")},
}

// excerpts are real pyasn lines (testdata/refdata/PROVENANCE.md).
func excerpts(t *testing.T) []Entry {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "testdata", "refdata")
	es, err := Load(filepath.Join(dir, "ipasn_20260730.every3700th.dat"), filepath.Join(dir, "ipasn6_20260730.every2600th.dat"))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// readBack decodes a written table with bgpfeed/mrt.
func readBack(t *testing.T, b []byte) ([]bgpfeed.Update, mrt.Stats) {
	t.Helper()
	r := mrt.NewReader("table.mrt", bytes.NewReader(b), mrt.Options{})
	defer r.Close()
	var us []bgpfeed.Update
	for {
		u, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	return us, r.Stats()
}

// checkPath checks one read-back route against the entry it came from:
// the path runs from the peer to the origin, 2 to 10 ASes, and an AS
// appears again only as prepending (next to itself).
func checkPath(t *testing.T, u bgpfeed.Update, origin uint32) {
	t.Helper()
	asns := u.Attrs.Path.ASNs(nil)
	if len(asns) < 2 || len(asns) > 10 || asns[0] != u.PeerASN || asns[len(asns)-1] != origin || u.OriginASN() != origin {
		t.Errorf("%s from AS%d: path %v, want AS%d ... AS%d, 2..10 ASes", u.Prefix, u.PeerASN, asns, u.PeerASN, origin)
		return
	}
	seen := map[uint32]bool{}
	for i, a := range asns {
		if seen[a] && asns[i-1] != a {
			t.Errorf("%s from AS%d: loop in path %v", u.Prefix, u.PeerASN, asns)
			return
		}
		seen[a] = true
	}
}

func TestWriteReadBack(t *testing.T) {
	es := excerpts(t)
	var n4, n6 int
	for _, e := range es {
		if e.Prefix.Addr().Is4() {
			n4++
		} else {
			n6++
		}
	}
	if n4 != 299 || n6 != 99 {
		t.Fatalf("excerpts: %d IPv4 and %d IPv6 prefixes, want 299 and 99", n4, n6)
	}
	var buf bytes.Buffer
	st, err := Write(&buf, es, Options{Seed: 1, Peers: testPeers})
	if err != nil {
		t.Fatal(err)
	}
	if st.IPv4 != n4 || st.IPv6 != n6 || st.Entries != 2*len(es) || st.Bytes != int64(buf.Len()) {
		t.Fatalf("stats %+v, want %d + %d prefixes, %d entries, %d bytes", st, n4, n6, 2*len(es), buf.Len())
	}
	if m := st.MeanPathLen(); m < 3 || m > 6 {
		t.Errorf("mean path length %.2f, want 3..6", m)
	}
	t.Logf("%d prefixes, %d entries, %d distinct paths, mean length %.2f, %d prepended, %d bytes; lengths %v",
		st.IPv4+st.IPv6, st.Entries, st.Paths, st.MeanPathLen(), st.Prepended, st.Bytes, st.PathLen)

	us, rst := readBack(t, buf.Bytes())
	if rst.TotalSkipped() != 0 || rst.Records != int64(1+len(es)) {
		t.Fatalf("reader: %d records, skipped %v", rst.Records, rst.Skipped)
	}
	origin := map[netip.Prefix]uint32{}
	for _, e := range es {
		origin[e.Prefix] = e.Origin
	}
	perPeer := map[uint32]int{}
	var got4, got6 int
	for _, u := range us {
		if u.Kind != bgpfeed.KindAnnounce || !u.Table || u.Format != bgpfeed.FormatTableDumpV2 || u.Attrs == nil {
			t.Fatalf("not a RIB entry: %+v", u)
		}
		perPeer[u.PeerASN]++
		p := testPeers[0]
		if u.PeerASN == testPeers[1].ASN {
			p = testPeers[1]
		}
		if u.PeerAddr != p.Addr {
			t.Errorf("%s: peer address %s, want %s", u.Prefix, u.PeerAddr, p.Addr)
		}
		if u.Prefix.Addr().Is4() {
			got4++
			if u.Attrs.NextHop != p.Addr {
				t.Errorf("%s: next hop %s, want %s", u.Prefix, u.Attrs.NextHop, p.Addr)
			}
		} else {
			got6++
			if u.PeerASN == testPeers[0].ASN && u.Attrs.NextHop != testPeers[0].NextHop6 {
				t.Errorf("%s: next hop %s, want %s", u.Prefix, u.Attrs.NextHop, testPeers[0].NextHop6)
			}
			if !u.Attrs.NextHop.Is6() {
				t.Errorf("%s: IPv6 route with next hop %s", u.Prefix, u.Attrs.NextHop)
			}
		}
		o, ok := origin[u.Prefix]
		if !ok {
			t.Fatalf("prefix %s not in the input", u.Prefix)
		}
		checkPath(t, u, o)
	}
	if got4 != 2*n4 || got6 != 2*n6 || perPeer[6939] != len(es) || perPeer[3257] != len(es) {
		t.Errorf("read back %d IPv4 and %d IPv6 routes, per peer %v; want %d, %d, %d each", got4, got6, perPeer, 2*n4, 2*n6, len(es))
	}
}

func TestDeterministic(t *testing.T) {
	es := excerpts(t)
	write := func(seed uint64) []byte {
		var b bytes.Buffer
		if _, err := Write(&b, es, Options{Seed: seed, Peers: testPeers}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if a, b := write(7), write(7); !bytes.Equal(a, b) {
		t.Error("two tables written with seed 7 differ")
	}
	if a, b := write(7), write(8); bytes.Equal(a, b) {
		t.Error("seeds 7 and 8 wrote the same table")
	}
}

func TestBadOptions(t *testing.T) {
	es := excerpts(t)[:3]
	for name, opt := range map[string]Options{
		"no peers":        {},
		"peer without AS": {Peers: []Peer{{Addr: netip.MustParseAddr("192.0.2.1")}}},
		"IPv6 router ID":  {Peers: []Peer{{ASN: 64500, Addr: netip.MustParseAddr("2001:db8::1")}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Write(io.Discard, es, opt); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestSharedFullTable writes the full table the scale test uses, from the
// whole 2026 asinfo tables, for one peer, and checks its shape: at least
// 1M IPv4 and 200k IPv6 prefixes, paths that repeat like a real table's.
func TestSharedFullTable(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the full table takes a few seconds to write")
	}
	dir := os.Getenv("BGPSENTRY_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "data")
	}
	v4 := filepath.Join(dir, "baseline", "asinfo", "ipasn_20260730.dat.gz")
	v6 := filepath.Join(dir, "baseline", "asinfo", "ipasn6_20260730.dat.gz")
	if _, err := os.Stat(v4); err != nil {
		t.Skipf("the shared data is not beside the repository (set BGPSENTRY_SHARED_DATA): %v", err)
	}
	es, err := Load(v4, v6)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Write(io.Discard, es, Options{Seed: 1, Peers: testPeers[:1]})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d IPv4 + %d IPv6 prefixes, %d distinct paths, mean length %.2f, %d prepended (%.1f%%), %d MB; lengths %v",
		st.IPv4, st.IPv6, st.Paths, st.MeanPathLen(), st.Prepended, 100*float64(st.Prepended)/float64(st.Entries), st.Bytes>>20, st.PathLen)
	if st.IPv4 < 1_000_000 || st.IPv6 < 200_000 {
		t.Errorf("%d IPv4 and %d IPv6 prefixes, want at least 1M and 200k", st.IPv4, st.IPv6)
	}
	if m := st.MeanPathLen(); m < 3.5 || m > 5.5 {
		t.Errorf("mean path length %.2f, want 3.5..5.5", m)
	}
	if st.Paths > st.Entries/3 {
		t.Errorf("%d distinct paths for %d routes: paths do not repeat like a real table's", st.Paths, st.Entries)
	}
	if p := float64(st.Prepended) / float64(st.Entries); p < 0.03 || p > 0.2 {
		t.Errorf("%.1f%% of the paths prepended, want 3..20%%", 100*p)
	}
}
