package classifier

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/protobuf/proto"
)

var (
	t0 = time.Date(2008, 2, 24, 18, 47, 57, 0, time.UTC)
	in = bgpfeed.NewInterner(0)
)

func upd(at time.Duration, peer int, prefix string, asns ...uint32) *bgpfeed.Update {
	segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: asns}}
	return &bgpfeed.Update{Time: t0.Add(at), Source: "rv2", Kind: bgpfeed.KindAnnounce,
		PeerAddr: netip.AddrFrom4([4]byte{192, 0, 2, byte(peer)}), PeerASN: asns[0],
		Prefix: netip.MustParsePrefix(prefix), Attrs: &bgpfeed.Attrs{Path: in.Intern(bgpfeed.AppendKey(nil, segs), segs)}}
}

func wd(at time.Duration, peer int, prefix string) *bgpfeed.Update {
	return &bgpfeed.Update{Time: t0.Add(at), Source: "rv2", Kind: bgpfeed.KindWithdraw,
		PeerAddr: netip.AddrFrom4([4]byte{192, 0, 2, byte(peer)}), PeerASN: 1, Prefix: netip.MustParsePrefix(prefix)}
}

func cand(u *bgpfeed.Update, expected ...uint32) *features.Candidate {
	p := u.Attrs.Path.ASNs(nil)
	return &features.Candidate{Update: u, Path: p, Origin: u.OriginASN(), Expected: expected, ExpectedPrefix: u.Prefix, NewOrigin: true, ExpectedRouted: true}
}

func verdict(k Class, p float64) Verdict {
	var v Verdict
	v.Class = k
	v.Proba[k] = p
	return v
}

type recorder struct{ evs []*pb.AlertEvent }

func (r *recorder) emit(e *pb.AlertEvent) {
	r.evs = append(r.evs, proto.Clone(e).(*pb.AlertEvent))
}

// feed mimics score: Add for flagged candidates, then Route for all.
func feed(e *Eventer, u *bgpfeed.Update, k Class, p float64, expected ...uint32) {
	if k != Benign {
		e.Add(cand(u, expected...), verdict(k, p), []*pb.Reason{{Feature: "origin_known_for_prefix", Value: 0, Contribution: 2}})
	}
	e.Route(u)
}

func TestHijackLifecycle(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2}, r.emit)
	feed(e, upd(0, 1, "208.65.153.0/24", 3356, 3491, 17557), OriginHijack, 0.9, 36561)
	if len(r.evs) != 0 {
		t.Fatalf("opened with one peer: %v", r.evs)
	}
	feed(e, upd(7*time.Second, 2, "208.65.153.0/24", 7018, 3491, 17557), OriginHijack, 0.95, 36561)
	if len(r.evs) != 1 || r.evs[0].State != pb.AlertState_OPEN {
		t.Fatalf("events = %v, want OPEN", r.evs)
	}
	open := r.evs[0]
	if open.SuspectAsn != 17557 || open.ExpectedOrigins[0] != 36561 || open.PeerCount != 2 || open.Confidence != 0.95 || open.Type != pb.AlertType_ORIGIN_HIJACK {
		t.Errorf("OPEN = %v", open)
	}
	if !open.FirstSeen.AsTime().Equal(t0) {
		t.Errorf("first_seen = %v", open.FirstSeen.AsTime())
	}
	// A third peer the model scored benign (or never scored) still joins.
	feed(e, upd(90*time.Second, 3, "208.65.153.0/24", 1299, 3491, 17557), Benign, 0)
	feed(e, upd(95*time.Second, 4, "208.65.153.0/24", 2914, 3491, 17557), Benign, 0)
	if got := e.Open(); len(got) != 1 || got[0].PeerCount != 4 {
		t.Fatalf("open alerts = %v", got)
	}
	// The expected origin's own announcements do not join.
	feed(e, upd(100*time.Second, 5, "208.65.153.0/24", 2914, 36561), Benign, 0)
	if got := e.Open(); got[0].PeerCount != 4 {
		t.Errorf("expected origin joined the alert: %v", got[0])
	}
	// Peers move back or withdraw: resolved when the last one is gone.
	for i, p := range []int{1, 2, 3} {
		e.Route(wd(time.Duration(200+i)*time.Second, p, "208.65.153.0/24"))
	}
	feed(e, upd(300*time.Second, 4, "208.65.153.0/24", 2914, 36561), Benign, 0)
	last := r.evs[len(r.evs)-1]
	if last.State != pb.AlertState_RESOLVED || last.Resolution != "withdrawn" || last.Id != open.Id {
		t.Fatalf("last event = %v, want RESOLVED withdrawn of %s", last, open.Id)
	}
	for i := 1; i < len(r.evs); i++ {
		if r.evs[i].Sequence <= r.evs[i-1].Sequence {
			t.Errorf("sequence not increasing: %d after %d", r.evs[i].Sequence, r.evs[i-1].Sequence)
		}
	}
}

func TestSinglePeerIsDroppedAndQuietResolves(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, Pending: 10 * time.Minute, Quiet: 30 * time.Minute}, r.emit)
	feed(e, upd(0, 1, "10.0.0.0/16", 1, 666), OriginHijack, 0.9, 100)
	feed(e, upd(11*time.Minute, 9, "10.99.0.0/16", 9, 99), Benign, 0)
	if len(r.evs) != 0 || e.Dropped != 1 {
		t.Fatalf("events %v dropped %d", r.evs, e.Dropped)
	}
	feed(e, upd(12*time.Minute, 1, "10.1.0.0/24", 1, 777), SubprefixHijack, 0.8, 100)
	feed(e, upd(12*time.Minute, 2, "10.1.0.0/24", 2, 777), SubprefixHijack, 0.8, 100)
	feed(e, upd(43*time.Minute, 9, "10.99.0.0/16", 9, 99), Benign, 0)
	if len(r.evs) != 2 || r.evs[1].State != pb.AlertState_RESOLVED || r.evs[1].Resolution != "quiet" {
		t.Fatalf("events = %v", r.evs)
	}
}

func TestLeakGroupsPerLeaker(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 5}, r.emit)
	for i := 0; i < 50; i++ {
		if i == 4 && len(e.Open()) != 0 {
			t.Fatal("a leak of 4 prefixes opened, MinLeakPrefixes is 5")
		}
		if i == 5 && len(e.Open()) != 1 {
			t.Fatal("a leak of 5 prefixes did not open")
		}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16).String()
		for peer := 1; peer <= 2; peer++ {
			u := upd(time.Duration(i)*time.Second, peer, p, 1, 5, 2, uint32(1000+i))
			c := cand(u)
			c.Leaker = 5
			c.Leak = asrel.Leak{Type: asrel.LeakHairpin, Leaker: 1}
			e.Add(c, verdict(RouteLeak, 0.9), nil)
			e.Route(u)
		}
	}
	open := e.Open()
	if len(open) != 1 || open[0].PrefixCount != 50 || open[0].SuspectAsn != 5 || open[0].LeakType != 1 || open[0].Type != pb.AlertType_ROUTE_LEAK {
		t.Fatalf("open = %v", open)
	}
}

// TestLeakHeldAcrossOrigins: a leak alert is held by every leaked route,
// whatever its origin. Peer 1 leaks 12 prefixes of 12 origins, then its
// route for the first prefix goes back to a path without the leaker;
// peer 2 leaks the same prefixes 20 s later: one alert, opened with both
// peers, resolved only when the last leaked route is replaced. (When the
// alert was held only by the routes of the first prefix's origin, the
// first replacement dropped it, and each peer started an alert of one.)
func TestLeakHeldAcrossOrigins(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 10}, r.emit)
	pfx := func(i int) string { return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16).String() }
	leak := func(at time.Duration, peer int) {
		for i := 0; i < 12; i++ {
			u := upd(at, peer, pfx(i), uint32(peer), 3356, 5, 6762, uint32(1000+i))
			c := cand(u)
			c.Leaker = 5
			c.Leak = asrel.Leak{Type: asrel.LeakHairpin, Leaker: 2, To: 1, From: 3}
			e.Add(c, verdict(RouteLeak, 0.9), nil)
			e.Route(u)
		}
	}
	leak(0, 1)
	e.Route(upd(3*time.Second, 1, pfx(0), 1, 3356, 6762, 1000)) // back to a path without AS5
	if len(e.Open()) != 0 {
		t.Fatal("opened with one peer")
	}
	leak(20*time.Second, 2)
	open := e.Open()
	if len(open) != 1 || open[0].PeerCount != 2 || open[0].PrefixCount != 12 || open[0].SuspectAsn != 5 {
		t.Fatalf("open = %v, want one leak by AS5 of 12 prefixes from 2 peers", open)
	}
	if !slices.Equal(open[0].LeakSegment, []uint32{3356, 5, 6762}) {
		t.Fatalf("leak segment %v, want [3356 5 6762]", open[0].LeakSegment)
	}
	// Replacing all but one leaked route keeps it open; the last resolves it.
	for peer := 1; peer <= 2; peer++ {
		for i := 0; i < 12; i++ {
			if peer == 2 && i == 11 {
				break
			}
			e.Route(upd(time.Minute, peer, pfx(i), uint32(peer), 3356, 6762, uint32(1000+i)))
		}
	}
	if len(e.Open()) != 1 {
		t.Fatal("resolved while a leaked route is still carried")
	}
	e.Route(upd(2*time.Minute, 2, pfx(11), 2, 3356, 6762, 1011))
	if len(e.Open()) != 0 || r.evs[len(r.evs)-1].State != pb.AlertState_RESOLVED || r.evs[len(r.evs)-1].Resolution != "withdrawn" {
		t.Fatalf("after the last leaked route: open %d, last event %v", len(e.Open()), r.evs[len(r.evs)-1])
	}
}

// TestMemoryJoinsPeersOneAfterAnother: a hijack that peer 1 carries for
// 4 s, replaced by the real route, and peer 2 carries 15 s later, opens
// with both peers when EventerConfig.Memory covers the gap, and not
// without Memory or when the gap is longer.
func TestMemoryJoinsPeersOneAfterAnother(t *testing.T) {
	run := func(memory, gap time.Duration) []*pb.AlertEvent {
		var r recorder
		e := NewEventer(EventerConfig{MinPeers: 2, Memory: memory}, r.emit)
		feed(e, upd(0, 1, "10.0.0.0/16", 1, 666), OriginHijack, 0.99, 100)
		feed(e, upd(4*time.Second, 1, "10.0.0.0/16", 1, 100), Benign, 0) // back to the owner
		feed(e, upd(4*time.Second+gap, 2, "10.0.0.0/16", 2, 666), OriginHijack, 0.99, 100)
		return e.Open()
	}
	if open := run(time.Minute, 15*time.Second); len(open) != 1 || open[0].PeerCount != 2 || open[0].SuspectAsn != 666 {
		t.Fatalf("memory 1m, gap 15s: open %v, want the hijack with 2 peers", open)
	}
	if open := run(0, 15*time.Second); len(open) != 0 {
		t.Fatalf("no memory: open %v, want none (never two peers at once)", open)
	}
	if open := run(time.Minute, 90*time.Second); len(open) != 0 {
		t.Fatalf("memory 1m, gap 90s: open %v, want none", open)
	}
	// An alert forgotten by advance (no new announcement of it) is dropped
	// once.
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, Memory: time.Minute}, r.emit)
	feed(e, upd(0, 1, "10.0.0.0/16", 1, 666), OriginHijack, 0.99, 100)
	feed(e, upd(4*time.Second, 1, "10.0.0.0/16", 1, 100), Benign, 0)
	feed(e, upd(3*time.Minute, 3, "10.9.0.0/16", 3, 7), Benign, 0)
	if e.Dropped != 1 || len(e.Open()) != 0 {
		t.Fatalf("dropped %d, open %d; want 1 and 0", e.Dropped, len(e.Open()))
	}
}

func TestIDsAreDeterministic(t *testing.T) {
	run := func() string {
		var r recorder
		e := NewEventer(EventerConfig{MinPeers: 1}, r.emit)
		feed(e, upd(0, 1, "10.0.0.0/16", 1, 666), OriginHijack, 0.9, 100)
		return r.evs[0].Id
	}
	if a, b := run(), run(); a != b || len(a) != 16 {
		t.Errorf("ids %q and %q", a, b)
	}
}

// TestVetoes: a route-leak verdict without a valley, and a hijack verdict
// whose expected origin carries the route right before the suspect, never
// become alerts, however many peers agree; the same verdicts without the
// vetoed shape do.
func TestVetoes(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 1}, r.emit)
	for peer := 1; peer <= 5; peer++ {
		// The model says leak, but the path has no valley (Leaker 0).
		e.Add(cand(upd(0, peer, "10.0.0.0/16", uint32(peer), 5, 100)), verdict(RouteLeak, 0.99), nil)
		// 200 originates space of its upstream 100, the prefix's owner.
		e.Add(cand(upd(0, peer, "10.1.0.0/16", uint32(peer), 100, 200), 100), verdict(OriginHijack, 0.99), nil)
		e.Add(cand(upd(0, peer, "10.2.1.0/24", uint32(peer), 3, 100, 100, 200), 100), verdict(SubprefixHijack, 0.99), nil)
	}
	if len(r.evs) != 0 || e.Vetoed[VetoLeakNoValley] != 5 || e.Vetoed[VetoOwnerUpstream] != 10 {
		t.Fatalf("events %v, vetoed %v", r.evs, e.Vetoed)
	}
	// The owner elsewhere in the path is no veto (a forged path can name
	// it), and a leak with a valley opens.
	for peer := 1; peer <= 2; peer++ {
		e.Add(cand(upd(time.Second, peer, "10.3.0.0/16", uint32(peer), 100, 7, 200), 100), verdict(OriginHijack, 0.99), nil)
		c := cand(upd(time.Second, peer, "10.4.0.0/16", uint32(peer), 5, 2, 100))
		c.Leaker, c.Leak = 5, asrel.Leak{Type: asrel.LeakHairpin, Leaker: 1}
		e.Add(c, verdict(RouteLeak, 0.99), nil)
	}
	if len(r.evs) != 2 {
		t.Fatalf("events %v, want the origin hijack and the leak", r.evs)
	}
}

// TestBogonOriginRule: a public prefix originated by a private ASN opens a
// BOGON_ORIGIN alert once two peers carry it, whatever the model said; a
// bogon prefix, a public origin and an AS_SET origin do not.
func TestBogonOriginRule(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2}, r.emit)
	vec := func(originBogon, prefixBogon float64) []float64 {
		v := make([]float64, features.NumFeatures)
		v[features.FOriginBogon], v[features.FBogonPrefix] = originBogon, prefixBogon
		return v
	}
	for peer := 1; peer <= 2; peer++ {
		if e.Rules(cand(upd(0, peer, "10.0.0.0/8", uint32(peer), 3, 64512)), vec(1, 1)) {
			t.Error("rule fired for a bogon prefix")
		}
		if e.Rules(cand(upd(0, peer, "198.51.7.0/24", uint32(peer), 3, 3356)), vec(0, 0)) {
			t.Error("rule fired for a public origin")
		}
		c := cand(upd(0, peer, "198.51.8.0/24", uint32(peer), 3, 4))
		c.Origin = 0 // the path ends in an AS_SET
		if e.Rules(c, vec(1, 0)) {
			t.Error("rule fired for an AS_SET origin")
		}
		if !e.Rules(cand(upd(time.Second, peer, "103.109.236.0/24", uint32(peer), 3, 65551)), vec(1, 0)) {
			t.Error("rule did not fire for AS65551 originating 103.109.236.0/24")
		}
	}
	if len(r.evs) != 1 {
		t.Fatalf("events %v", r.evs)
	}
	ev := r.evs[0]
	if ev.Type != pb.AlertType_BOGON_ORIGIN || ev.SuspectAsn != 65551 || ev.Prefix != "103.109.236.0/24" || ev.State != pb.AlertState_OPEN || ev.Confidence != 1 || ev.PeerCount != 2 {
		t.Errorf("event %v", ev)
	}
}

// TestPriorCarriers: a hijack whose first vantage point's verdict was
// under the threshold opens on the second peer's strong verdict, because
// the state says the first peer carries the route (PeersWithOrigin); one
// peer re-announcing alone does not.
func TestPriorCarriers(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2}, r.emit)
	c := cand(upd(0, 1, "10.0.0.0/16", 1, 666), 100)
	e.Add(c, verdict(OriginHijack, 0.99), nil)
	if len(r.evs) != 0 {
		t.Fatalf("opened with one peer: %v", r.evs)
	}
	c = cand(upd(time.Second, 2, "10.9.0.0/16", 2, 666), 100)
	c.PeersWithOrigin = 1 // peer 1 carries it: its own verdict was benign
	e.Add(c, verdict(OriginHijack, 0.99), nil)
	if len(r.evs) != 1 || r.evs[0].PeerCount != 2 {
		t.Fatalf("events %v, want an OPEN with 2 peers", r.evs)
	}
}

// With shards (Kafka partitions split among classifiers), a leak wave is
// grouped per shard: two Eventers that each see the prefixes of their own
// shards open alerts of different ids, and an Eventer that sees one
// shard's updates gives them the same id as another that sees them
// together with other shards' (a partition that moves keeps its ids).
// Without shards (the default) the ids are unchanged.
func TestLeakGroupsPerShard(t *testing.T) {
	// The leak wave: 20 prefixes in one BGP UPDATE (one time), prefix i
	// on shard i%2.
	type item struct {
		u     *bgpfeed.Update
		shard int
	}
	var wave []item
	for i := 0; i < 20; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16).String()
		wave = append(wave, item{upd(0, 1, p, 1, 5, 2, uint32(1000+i)), i % 2})
	}
	run := func(sharded bool, only int) []*pb.AlertEvent {
		var r recorder
		e := NewEventer(EventerConfig{MinPeers: 1, MinLeakPrefixes: 5}, r.emit)
		for _, it := range wave {
			if only >= 0 && it.shard != only {
				continue
			}
			if sharded {
				e.SetShard(it.shard)
			}
			c := cand(it.u)
			c.Leaker = 5
			c.Leak = asrel.Leak{Type: asrel.LeakHairpin, Leaker: 1}
			e.Add(c, verdict(RouteLeak, 0.9), nil)
			e.Route(it.u)
		}
		return r.evs
	}
	opens := func(evs []*pb.AlertEvent) map[string]uint32 {
		m := map[string]uint32{}
		for _, ev := range evs {
			if ev.State == pb.AlertState_OPEN {
				m[ev.Id] = ev.SuspectAsn
			}
		}
		return m
	}
	plain := opens(run(false, -1))
	if len(plain) != 1 {
		t.Fatalf("unsharded: %d leak alerts opened, want 1", len(plain))
	}
	both := opens(run(true, -1))
	s0, s1 := opens(run(true, 0)), opens(run(true, 1))
	if len(both) != 2 || len(s0) != 1 || len(s1) != 1 {
		t.Fatalf("sharded: %d alerts over both shards, %d and %d on each alone; want 2, 1, 1", len(both), len(s0), len(s1))
	}
	for id := range s0 {
		if s1[id] != 0 {
			t.Errorf("the two shards opened one id %s", id)
		}
		if both[id] == 0 || plain[id] != 0 {
			t.Errorf("shard 0's id %s: in both-shards run %v, in unsharded run %v", id, both[id] != 0, plain[id] != 0)
		}
	}
	for id := range s1 {
		if both[id] == 0 {
			t.Errorf("shard 1's id %s not opened when the Eventer sees both shards", id)
		}
	}
}

// TestVetoLeakEstablished: a leak verdict through a valley the state knew
// before monitoring began is vetoed; the same verdict on a new valley
// opens.
func TestVetoLeakEstablished(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 1}, r.emit)
	for peer := 1; peer <= 3; peer++ {
		c := cand(upd(0, peer, "10.4.0.0/16", uint32(peer), 5, 2, 100))
		c.Leaker, c.Leak, c.LeakEstablished = 5, asrel.Leak{Type: asrel.LeakHairpin, Leaker: 1}, true
		e.Add(c, verdict(RouteLeak, 0.99), nil)
	}
	if len(r.evs) != 0 || e.Vetoed[VetoLeakEstablished] != 3 {
		t.Fatalf("established valley: events %v, vetoed %v", r.evs, e.Vetoed)
	}
	for peer := 1; peer <= 2; peer++ {
		c := cand(upd(time.Second, peer, "10.5.0.0/16", uint32(peer), 6, 2, 100))
		c.Leaker, c.Leak = 6, asrel.Leak{Type: asrel.LeakHairpin, Leaker: 1}
		e.Add(c, verdict(RouteLeak, 0.99), nil)
	}
	if len(r.evs) != 1 || r.evs[0].SuspectAsn != 6 {
		t.Fatalf("new valley: events %v", r.evs)
	}
}

// TestWeakShare: weak evidence opens an origin-hijack alert only when at
// least MinWeakShare of the active sessions give it; strong verdicts are
// not subject to the share.
func TestWeakShare(t *testing.T) {
	weak := Verdict{Class: Benign, Weak: OriginHijack}
	weak.Proba[OriginHijack] = 0.6
	run := func(share float64, peers, active int) int {
		var r recorder
		e := NewEventer(EventerConfig{MinPeers: 2, MinWeakPeers: 5, MinWeakShare: share}, r.emit)
		for peer := 1; peer <= peers; peer++ {
			c := cand(upd(0, peer, "10.6.0.0/16", uint32(peer), 3, 200), 100)
			c.ActivePeers = active
			e.Add(c, weak, nil)
		}
		return len(r.evs)
	}
	if n := run(0.5, 8, 20); n != 0 {
		t.Errorf("8 weak peers of 20 opened %d alerts, want none at share 0.5", n)
	}
	if n := run(0.5, 10, 20); n != 1 {
		t.Errorf("10 weak peers of 20 opened %d alerts, want 1", n)
	}
	if n := run(-1, 5, 20); n != 1 {
		t.Errorf("no share: 5 weak peers of 20 opened %d alerts, want 1", n)
	}
	if n := run(0.5, 4, 6); n != 0 {
		t.Errorf("4 weak peers opened %d alerts, want none below MinWeakPeers", n)
	}
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinWeakShare: 0.9}, r.emit)
	for peer := 1; peer <= 2; peer++ {
		c := cand(upd(0, peer, "10.7.0.0/16", uint32(peer), 3, 200), 100)
		c.ActivePeers = 40
		e.Add(c, verdict(OriginHijack, 0.999), nil)
	}
	if len(r.evs) != 1 {
		t.Errorf("strong verdicts of 2 of 40 peers: %d alerts, want 1", len(r.evs))
	}
}

// TestHijackGroupsPerVictimAndReopens: one hijacker originating several
// prefixes of one victim is one alert; an alert that resolved and comes
// back within the quiet time reopens under its id.
func TestHijackGroupsPerVictimAndReopens(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, Quiet: time.Hour}, r.emit)
	for _, p := range []string{"10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"} {
		for peer := 1; peer <= 2; peer++ {
			feed(e, upd(0, peer, p, uint32(peer), 3, 666), OriginHijack, 0.999, 100)
		}
	}
	// Another victim is another alert.
	for peer := 1; peer <= 2; peer++ {
		feed(e, upd(0, peer, "10.2.0.0/24", uint32(peer), 3, 666), OriginHijack, 0.999, 200)
	}
	if e.Opened != 2 || len(r.evs) != 2 {
		t.Fatalf("opened %d, events %v", e.Opened, r.evs)
	}
	first := r.evs[0]
	if first.PrefixCount != 1 {
		t.Errorf("first event at OPEN lists %d prefixes", first.PrefixCount)
	}
	open := e.Open()
	var got *pb.AlertEvent
	for _, a := range open {
		if a.Id == first.Id {
			got = a
		}
	}
	if got == nil || got.PrefixCount != 3 {
		t.Fatalf("alert of victim 100: %v", got)
	}
	// All withdrawn: resolved.
	for _, p := range []string{"10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"} {
		for peer := 1; peer <= 2; peer++ {
			e.Route(wd(time.Minute, peer, p))
		}
	}
	if e.Resolved != 1 {
		t.Fatalf("resolved %d", e.Resolved)
	}
	// Back 10 minutes later: the same id opens again.
	n := len(r.evs)
	for peer := 1; peer <= 2; peer++ {
		feed(e, upd(10*time.Minute, peer, "10.1.0.0/24", uint32(peer), 3, 666), OriginHijack, 0.999, 100)
	}
	if e.Opened != 2 || e.Reopened != 1 || len(r.evs) != n+1 {
		t.Fatalf("opened %d reopened %d, events %v", e.Opened, e.Reopened, r.evs[n:])
	}
	if ev := r.evs[n]; ev.Id != first.Id || ev.State != pb.AlertState_OPEN || ev.Resolution != "" {
		t.Errorf("reopened event %v, want OPEN under id %s", ev, first.Id)
	}
	// Two hours after the next resolution it is a new alert.
	for peer := 1; peer <= 2; peer++ {
		e.Route(wd(11*time.Minute, peer, "10.1.0.0/24"))
	}
	for peer := 1; peer <= 2; peer++ {
		feed(e, upd(3*time.Hour, peer, "10.1.0.0/24", uint32(peer), 3, 666), OriginHijack, 0.999, 100)
	}
	if e.Opened != 3 || r.evs[len(r.evs)-1].Id == first.Id {
		t.Errorf("opened %d, last event %v", e.Opened, r.evs[len(r.evs)-1])
	}
}

func TestVetoExpectedUnrouted(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2}, r.emit)
	// Only a prefix-to-origin table names AS100 for the prefix: the two
	// peers' verdicts are vetoed.
	for peer := 1; peer <= 2; peer++ {
		u := upd(time.Duration(peer)*time.Second, peer, "10.0.0.0/24", uint32(peer), 666)
		c := cand(u, 100)
		c.ExpectedRouted = false
		e.Add(c, verdict(OriginHijack, 0.99), nil)
		e.Route(u)
	}
	if len(r.evs) != 0 || e.Vetoed[VetoExpectedUnrouted] != 2 {
		t.Fatalf("events %v, vetoed %v", r.evs, e.Vetoed)
	}
	// A route of the data carried AS200 for this or a covering prefix.
	for peer := 1; peer <= 2; peer++ {
		feed(e, upd(time.Minute+time.Duration(peer)*time.Second, peer, "10.1.0.0/24", uint32(peer), 666), OriginHijack, 0.99, 200)
	}
	if len(r.evs) != 1 || r.evs[0].State != pb.AlertState_OPEN || r.evs[0].ExpectedOrigins[0] != 200 {
		t.Fatalf("events = %v, want the OPEN of the routed victim", r.evs)
	}
	// No expected origin at all (a new prefix) is not this veto's business.
	c := cand(upd(2*time.Minute, 3, "10.2.0.0/24", 3, 666))
	c.ExpectedRouted = false
	if veto(OriginHijack, c) == VetoExpectedUnrouted {
		t.Error("vetoed a candidate without expected origins")
	}
}

func TestConfirmHoldsBackTransientRoutes(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, Confirm: 2 * time.Minute}, r.emit)
	// Path exploration: two peers carry the route for 30 s.
	feed(e, upd(0, 1, "10.0.0.0/24", 1, 666), OriginHijack, 0.99, 100)
	feed(e, upd(5*time.Second, 2, "10.0.0.0/24", 2, 666), OriginHijack, 0.99, 100)
	e.Route(wd(30*time.Second, 1, "10.0.0.0/24"))
	e.Route(wd(31*time.Second, 2, "10.0.0.0/24"))
	// A hijack that stays.
	feed(e, upd(time.Minute, 1, "10.1.0.0/24", 1, 777), OriginHijack, 0.99, 100)
	feed(e, upd(70*time.Second, 2, "10.1.0.0/24", 2, 777), OriginHijack, 0.99, 100)
	feed(e, upd(3*time.Minute, 9, "10.99.0.0/16", 9, 99), Benign, 0)
	if len(r.evs) != 0 {
		t.Fatalf("opened before --confirm passed: %v", r.evs)
	}
	feed(e, upd(190*time.Second, 9, "10.99.0.0/16", 9, 99), Benign, 0)
	if len(r.evs) != 1 || r.evs[0].State != pb.AlertState_OPEN || r.evs[0].SuspectAsn != 777 {
		t.Fatalf("events = %v, want the OPEN of AS777 only", r.evs)
	}
	if got := r.evs[0].FirstSeen.AsTime(); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("first_seen = %v, want the first announcement %v", got, t0.Add(time.Minute))
	}
	if e.Transient != 1 || e.Dropped != 1 || e.Opened != 1 {
		t.Errorf("transient %d dropped %d opened %d, want 1 1 1", e.Transient, e.Dropped, e.Opened)
	}
	// At the end of the input, an alert still held back opens: its route
	// was still carried when the data stopped.
	feed(e, upd(4*time.Minute, 1, "10.2.0.0/24", 1, 888), OriginHijack, 0.99, 100)
	feed(e, upd(4*time.Minute+time.Second, 2, "10.2.0.0/24", 2, 888), OriginHijack, 0.99, 100)
	e.Finish()
	if len(r.evs) != 2 || r.evs[1].SuspectAsn != 888 || r.evs[1].State != pb.AlertState_OPEN {
		t.Fatalf("events after Finish = %v", r.evs)
	}
	// Without Confirm an alert opens at once (the live default).
	var r2 recorder
	e2 := NewEventer(EventerConfig{MinPeers: 2}, r2.emit)
	feed(e2, upd(0, 1, "10.0.0.0/24", 1, 666), OriginHijack, 0.99, 100)
	feed(e2, upd(5*time.Second, 2, "10.0.0.0/24", 2, 666), OriginHijack, 0.99, 100)
	if len(r2.evs) != 1 {
		t.Fatalf("no Confirm: events = %v", r2.evs)
	}
}

// TestVetoClique: a leak verdict naming a tier-1 as the leaker, or a
// path-hijack verdict naming one as the forged neighbour, is vetoed;
// Hurricane Electric only for IPv6; another suspect opens.
func TestVetoClique(t *testing.T) {
	for _, tc := range []struct {
		k    Class
		veto int
		set  func(c *features.Candidate, asn uint32)
	}{
		{RouteLeak, VetoLeakClique, func(c *features.Candidate, asn uint32) {
			c.Leaker, c.Leak = asn, asrel.Leak{Type: asrel.LeakLateral, Leaker: 1}
		}},
		{PathHijack, VetoPathClique, func(c *features.Candidate, asn uint32) { c.NewLinkAS = asn }},
	} {
		var r recorder
		e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 1}, r.emit)
		add := func(at time.Duration, peer int, prefix string, asn uint32) {
			c := cand(upd(at, peer, prefix, uint32(peer), asn, 2, 100))
			tc.set(c, asn)
			e.Add(c, verdict(tc.k, 0.99), nil)
		}
		for peer := 1; peer <= 2; peer++ {
			add(0, peer, "10.4.0.0/16", 3356)
			add(0, peer, "2001:db8:1::/48", 6939)
		}
		if len(r.evs) != 0 || e.Vetoed[tc.veto] != 4 {
			t.Fatalf("%v by tier-1s: events %v, vetoed %v", tc.k, r.evs, e.Vetoed)
		}
		for peer := 1; peer <= 2; peer++ {
			add(time.Second, peer, "10.5.0.0/16", 6939)
			add(time.Second, peer, "10.6.0.0/16", 64999)
		}
		if len(r.evs) != 2 || r.evs[0].SuspectAsn != 6939 || r.evs[1].SuspectAsn != 64999 || r.evs[0].Type != tc.k.AlertType() {
			t.Fatalf("%v by AS6939 on IPv4 and by AS64999: events %v", tc.k, r.evs)
		}
	}
}

// TestVetoVictimResponse: while an origin hijack alert on a prefix is open,
// and for Quiet after it resolved, a path-hijack verdict on that prefix or
// a more-specific of it whose origin is the victim (the victim announcing
// its space through a new provider) is vetoed; another origin's, or the
// victim's after that time, is not.
func TestVetoVictimResponse(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, Quiet: time.Hour}, r.emit)
	forged := func(at time.Duration, peer int, prefix string, next, origin uint32) {
		u := upd(at, peer, prefix, uint32(peer), next, origin)
		c := cand(u)
		c.NewLinkAS = next
		e.Add(c, verdict(PathHijack, 0.99), nil)
		e.Route(u)
	}
	// AS17557 hijacks AS36561's /24.
	feed(e, upd(0, 1, "208.65.153.0/24", 1, 3491, 17557), OriginHijack, 0.99, 36561)
	feed(e, upd(time.Second, 2, "208.65.153.0/24", 2, 3491, 17557), OriginHijack, 0.99, 36561)
	if len(r.evs) != 1 {
		t.Fatalf("hijack: events %v", r.evs)
	}
	// YouTube answers through new providers: its /24 and a /25.
	forged(time.Hour+30*time.Minute, 3, "208.65.153.0/24", 852, 36561)
	forged(time.Hour+31*time.Minute, 4, "208.65.153.0/24", 852, 36561)
	forged(time.Hour+32*time.Minute, 3, "208.65.153.128/25", 11164, 36561)
	forged(time.Hour+33*time.Minute, 4, "208.65.153.128/25", 11164, 36561)
	if e.Vetoed[VetoVictimResponse] != 4 || len(r.evs) != 2 || r.evs[1].State != pb.AlertState_RESOLVED {
		t.Fatalf("victim's response: vetoed %v, events %v", e.Vetoed, r.evs)
	}
	// Another origin's forged path on the prefix is not a response.
	forged(time.Hour+34*time.Minute, 3, "208.65.153.0/24", 64999, 64998)
	forged(time.Hour+35*time.Minute, 4, "208.65.153.0/24", 64999, 64998)
	if len(r.evs) != 3 || r.evs[2].SuspectAsn != 64999 {
		t.Fatalf("another origin: events %v", r.evs)
	}
	// Past Quiet after the hijack resolved, the victim's new path counts.
	forged(4*time.Hour, 3, "208.65.153.0/25", 9002, 36561)
	forged(4*time.Hour+time.Second, 4, "208.65.153.0/25", 9002, 36561)
	if e.Vetoed[VetoVictimResponse] != 4 || r.evs[len(r.evs)-1].SuspectAsn != 9002 {
		t.Fatalf("hours later: vetoed %v, events %v", e.Vetoed, r.evs)
	}
}

// TestVetoSibling: hijack verdicts within one organisation (the suspect
// origin a sibling of the expected one, or a new link between siblings)
// open nothing; the same verdicts across organisations do.
func TestVetoSibling(t *testing.T) {
	for _, tc := range []struct {
		k   Class
		set func(c *features.Candidate, sibling bool)
	}{
		{OriginHijack, func(c *features.Candidate, sibling bool) { c.OriginSibling = sibling }},
		{SubprefixHijack, func(c *features.Candidate, sibling bool) { c.OriginSibling, c.SubPrefix = sibling, true }},
		{PathHijack, func(c *features.Candidate, sibling bool) {
			c.NewLinkAS, c.NewLinkSibling, c.NewOrigin, c.Expected = 666, sibling, false, nil
		}},
	} {
		var r recorder
		e := NewEventer(EventerConfig{MinPeers: 2}, r.emit)
		for i, sibling := range []bool{true, false} {
			prefix := fmt.Sprintf("10.%d.0.0/16", i)
			for peer := 1; peer <= 2; peer++ {
				u := upd(time.Duration(i)*time.Minute+time.Duration(peer)*time.Second, peer, prefix, uint32(peer), 666, 100)
				c := cand(u, 200)
				tc.set(c, sibling)
				e.Add(c, verdict(tc.k, 0.99), nil)
				e.Route(u)
			}
		}
		if e.Vetoed[VetoSibling] != 2 || len(r.evs) != 1 || r.evs[0].Prefix != "10.1.0.0/16" || r.evs[0].Type != tc.k.AlertType() {
			t.Errorf("%v: vetoed %v, events %v; want the siblings' two verdicts vetoed and the other alert open", tc.k, e.Vetoed, r.evs)
		}
	}
}

// TestVetoLeakLoop: a route-leak verdict on a path with a loop opens
// nothing; the same leak on a loop-free path does.
func TestVetoLeakLoop(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 1}, r.emit)
	for i, loop := range []bool{true, false} {
		for peer := 1; peer <= 2; peer++ {
			u := upd(time.Duration(i)*time.Minute+time.Duration(peer)*time.Second, peer, fmt.Sprintf("10.%d.0.0/16", i), uint32(peer), 64500, 100)
			c := cand(u)
			c.Leaker, c.Leak, c.Loop = 64500, asrel.Leak{Type: asrel.LeakHairpin, Leaker: 1}, loop
			e.Add(c, verdict(RouteLeak, 0.99), nil)
			e.Route(u)
		}
	}
	if e.Vetoed[VetoLeakLoop] != 2 || len(r.evs) != 1 || r.evs[0].Prefix != "10.1.0.0/16" {
		t.Errorf("vetoed %v, events %v; want the loop path's two verdicts vetoed and one leak open", e.Vetoed, r.evs)
	}
}

// TestVetoBeacon: path-hijack and route-leak verdicts on a RIS beacon
// announced by AS12654 open nothing, IPv4 and IPv6; the same verdicts on a
// prefix next to the beacons, or on a beacon announced by another origin,
// open alerts, and an origin hijack of a beacon is not touched.
func TestVetoBeacon(t *testing.T) {
	for _, k := range []Class{PathHijack, RouteLeak} {
		var r recorder
		e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 1}, r.emit)
		add := func(at time.Duration, prefix string, origin uint32) {
			via := 64500 + uint32(at/time.Minute) // a suspect each: one alert each
			for peer := 1; peer <= 2; peer++ {
				u := upd(at+time.Duration(peer)*time.Second, peer, prefix, uint32(peer), via, origin)
				c := cand(u)
				c.NewLinkAS, c.NewOrigin, c.Expected = via, false, nil
				c.Leaker, c.Leak = via, asrel.Leak{Type: asrel.LeakHairpin, Leaker: 1}
				e.Add(c, verdict(k, 0.99), nil)
				e.Route(u)
			}
		}
		add(0, "84.205.66.0/24", 12654)
		add(time.Minute, "93.175.149.0/24", 12654)
		add(2*time.Minute, "2001:7fb:fe01::/48", 12654)
		if len(r.evs) != 0 || e.Vetoed[VetoBeacon] != 6 {
			t.Fatalf("%v on beacons: events %v, vetoed %v", k, r.evs, e.Vetoed)
		}
		add(3*time.Minute, "84.205.96.0/24", 12654) // outside the beacon blocks
		add(4*time.Minute, "84.205.67.0/24", 64999) // a beacon's space, another origin
		if len(r.evs) != 2 || e.Vetoed[VetoBeacon] != 6 || r.evs[0].Prefix != "84.205.96.0/24" || r.evs[1].Prefix != "84.205.67.0/24" {
			t.Fatalf("%v next to the beacons: events %v, vetoed %v", k, r.evs, e.Vetoed)
		}
	}
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2}, r.emit)
	feed(e, upd(0, 1, "84.205.66.0/24", 1, 64999), OriginHijack, 0.99, 12654)
	feed(e, upd(time.Second, 2, "84.205.66.0/24", 2, 64999), OriginHijack, 0.99, 12654)
	if len(r.evs) != 1 || e.Vetoed[VetoBeacon] != 0 {
		t.Fatalf("origin hijack of a beacon: events %v, vetoed %v", r.evs, e.Vetoed)
	}
}

// leakOf announces prefix i of leaker l at peer: path peer, 3356, l, src,
// origin, a peer-to-provider leak at l learned from src (smaller than l or
// not); flagged a route leak when score, then routed.
func leakOf(e *Eventer, at time.Duration, peer int, l, src uint32, smaller bool, i int, score bool) {
	u := upd(at, peer, fmt.Sprintf("10.%d.%d.0/24", l%256, i), uint32(peer), 3356, l, src, 65000+uint32(i))
	if score {
		c := cand(u)
		c.NewOrigin, c.Expected = false, nil
		c.Leaker, c.Leak = l, asrel.Leak{Type: asrel.LeakPeerToProvider, Leaker: 2, From: 3, To: 1}
		c.LeakFrom, c.LeakFromSmaller = src, smaller
		e.Add(c, verdict(RouteLeak, 0.99), nil)
	}
	e.Route(u)
}

// TestVetoLeakSharedSource: route-leak verdicts of two leakers that
// learned the routes from one smaller AS, minutes apart, open no alert
// (the AS is more likely their customer than leaked twice); a leaker with
// a source of its own, a source not smaller than the leaker, or the same
// source once SharedSource has passed, still alert.
func TestVetoLeakSharedSource(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 3}, r.emit)
	// leak announces prefix i of leaker l, learned from src, on peers 1
	// and 2: path peer, 3356, l, src, origin.
	leak := func(at time.Duration, l, src uint32, smaller bool, i int) {
		for peer := 1; peer <= 2; peer++ {
			leakOf(e, at+time.Duration(peer)*time.Second, peer, l, src, smaller, i, true)
		}
	}
	opened := func() (ls []uint32) {
		for _, ev := range r.evs {
			if ev.State == pb.AlertState_OPEN {
				ls = append(ls, ev.SuspectAsn)
			}
		}
		return ls
	}
	// Leaker 101 has two prefixes from 31133 (below MinLeakPrefixes) when
	// leaker 102's routes from 31133 come: neither opens, whatever comes.
	leak(0, 101, 31133, true, 1)
	leak(10*time.Second, 101, 31133, true, 2)
	leak(20*time.Second, 102, 31133, true, 1)
	for i := 3; i <= 6; i++ {
		leak(time.Duration(20+i)*time.Second, 101, 31133, true, i)
		leak(time.Duration(20+i)*time.Second, 102, 31133, true, i)
	}
	if got := opened(); len(got) != 0 || e.Vetoed[VetoLeakSharedSource] != 18 {
		t.Fatalf("two leakers of AS31133's routes: opened %v, vetoed %d", got, e.Vetoed[VetoLeakSharedSource])
	}
	// A source of its own: leaker 103 opens.
	for i := 1; i <= 3; i++ {
		leak(time.Minute+time.Duration(i)*time.Second, 103, 6181, true, i)
	}
	// A source as big as its leakers (a network peering with all, as
	// Hurricane Electric): leakers 104 and 105 both open.
	for i := 1; i <= 3; i++ {
		leak(2*time.Minute+time.Duration(i)*time.Second, 104, 6939, false, i)
		leak(2*time.Minute+time.Duration(i)*time.Second, 105, 6939, false, i)
	}
	if got := opened(); !slices.Equal(got, []uint32{103, 104, 105}) || e.Vetoed[VetoLeakSharedSource] != 18 {
		t.Fatalf("unshared sources: opened %v, vetoed %d", got, e.Vetoed[VetoLeakSharedSource])
	}
	// Once SharedSource (10m) has passed since 101 and 102, a third leaker
	// of 31133's routes is alone again.
	for i := 1; i <= 3; i++ {
		leak(20*time.Minute+time.Duration(i)*time.Second, 106, 31133, true, i)
	}
	if got := opened(); !slices.Equal(got, []uint32{103, 104, 105, 106}) {
		t.Fatalf("after the window: opened %v", got)
	}

	// Negative SharedSource: no such veto.
	r = recorder{}
	e = NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 3, SharedSource: -1}, r.emit)
	for i := 1; i <= 3; i++ {
		leak(time.Duration(i)*time.Second, 101, 31133, true, i)
		leak(time.Duration(i)*time.Second, 102, 31133, true, i)
	}
	if got := opened(); !slices.Equal(got, []uint32{101, 102}) || e.Vetoed[VetoLeakSharedSource] != 0 {
		t.Fatalf("SharedSource -1: opened %v, vetoed %d", got, e.Vetoed[VetoLeakSharedSource])
	}
}

// TestLeakSharedSourceAtOpening: a leak alert whose verdicts came before
// another leaker named their source does not open on a later peer's route
// either, while every source of it is shared.
func TestLeakSharedSourceAtOpening(t *testing.T) {
	var r recorder
	e := NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 3}, r.emit)
	src, smaller := uint32(31133), true
	add := func(at time.Duration, peer int, l uint32, i int, score bool) {
		leakOf(e, at, peer, l, src, smaller, i, score)
	}
	for i := 1; i <= 3; i++ {
		add(time.Duration(i)*time.Second, 1, 101, i, true) // one peer: not open yet
	}
	add(10*time.Second, 1, 102, 1, true)  // another leaker of 31133's routes
	add(20*time.Second, 2, 101, 1, false) // 101's route at a second peer
	if len(r.evs) != 0 {
		t.Fatalf("opened on a shared source: %v", r.evs)
	}
	// A route of 101's from a source bigger than 101 is evidence of its
	// own: the next peer opens the alert.
	src, smaller = 6939, false
	add(30*time.Second, 1, 101, 4, true)
	src, smaller = 31133, true
	add(40*time.Second, 2, 101, 2, false)
	if len(r.evs) != 1 || r.evs[0].SuspectAsn != 101 {
		t.Fatalf("a source the veto does not judge: events %v", r.evs)
	}
	// Without the other leaker, the second peer opens it.
	r = recorder{}
	e = NewEventer(EventerConfig{MinPeers: 2, MinLeakPrefixes: 3}, r.emit)
	for i := 1; i <= 3; i++ {
		add(time.Duration(i)*time.Second, 1, 101, i, true)
	}
	add(20*time.Second, 2, 101, 1, false)
	if len(r.evs) != 1 || r.evs[0].SuspectAsn != 101 {
		t.Fatalf("a source of its own: events %v", r.evs)
	}
}
