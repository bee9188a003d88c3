package features

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// TestLearnTableSameAsObserve: LearnTable leaves the state Observe of the
// same table announcements leaves, entries repeated, with several origins,
// invalid prefixes and paths among them, then the same live updates.
func TestLearnTableSameAsObserve(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	in := bgpfeed.NewInterner(0)
	path := func(asns ...uint32) *bgpfeed.Path {
		segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: asns}}
		return in.Intern(bgpfeed.AppendKey(nil, segs), segs)
	}
	var es []TableEntry
	for range 5000 {
		var p netip.Prefix
		if r.IntN(4) == 0 {
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, byte(r.IntN(8))}), 16+r.IntN(33)).Masked()
		} else {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + r.IntN(3)), byte(r.IntN(16)), byte(r.IntN(4))}), 8+r.IntN(17)).Masked()
		}
		e := TableEntry{Prefix: p, Path: path(uint32(64500 + r.IntN(40)))}
		switch r.IntN(50) {
		case 0:
			e.Path = nil
		case 1:
			e.Prefix = netip.Prefix{}
		case 2:
			e.Path = path(0)
		}
		es = append(es, e)
	}
	t0 := time.Date(2026, 7, 30, 0, 0, 0, 0, time.UTC)
	a, b := NewState(Config{}), NewState(Config{})
	a.LearnTable(t0, es[:3000])
	a.LearnTable(t0.Add(time.Hour), es[3000:])
	for i, e := range es {
		u := bgpfeed.Update{Time: t0, Kind: bgpfeed.KindAnnounce, Table: true, Prefix: e.Prefix, Attrs: &bgpfeed.Attrs{Path: e.Path}}
		if i >= 3000 {
			u.Time = t0.Add(time.Hour)
		}
		b.Observe(&u, nil)
	}
	live := bgpfeed.Update{Time: t0.Add(2 * time.Hour), Kind: bgpfeed.KindAnnounce, PeerAddr: netip.MustParseAddr("192.0.2.1"), PeerASN: 65000,
		Prefix: es[7].Prefix, Attrs: &bgpfeed.Attrs{Path: path(65000, 64999)}}
	va, vb := make([]float64, NumFeatures), make([]float64, NumFeatures)
	ca, cb := a.Observe(&live, va), b.Observe(&live, vb)
	if (ca == nil) != (cb == nil) || !reflect.DeepEqual(va, vb) {
		t.Fatalf("live update: %v %v, vectors\n%v\n%v", ca, cb, va, vb)
	}
	if a.observed != b.observed || a.learned != b.learned || a.now != b.now || a.Prefixes() != b.Prefixes() {
		t.Fatalf("counters: %d/%d/%d/%d vs %d/%d/%d/%d", a.observed, a.learned, a.now, a.Prefixes(), b.observed, b.learned, b.now, b.Prefixes())
	}
	if !reflect.DeepEqual(a.inferPaths, b.inferPaths) || !reflect.DeepEqual(a.origins, b.origins) || !reflect.DeepEqual(a.links, b.links) {
		t.Fatal("inference paths, origins or links differ")
	}
	for p, ps := range b.prefixes.All() {
		qs, ok := a.prefixes.Get(p)
		if !ok || qs.first != ps.first || !reflect.DeepEqual(qs.origins, ps.origins) || len(qs.routes) != len(ps.routes) {
			t.Fatalf("%v: %+v vs %+v", p, qs, ps)
		}
	}
}
