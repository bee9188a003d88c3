package features

import (
	"bytes"
	"context"

	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features/asorg"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/rpki"
)

var (
	t0     = time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC)
	in     = bgpfeed.NewInterner(0)
	peerA  = netip.MustParseAddr("192.0.2.1")
	peerB  = netip.MustParseAddr("192.0.2.2")
	peerC  = netip.MustParseAddr("192.0.2.3")
	peerAS = map[netip.Addr]uint32{peerA: 1, peerB: 1, peerC: 9}
)

func path(asns ...uint32) *bgpfeed.Path {
	segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: asns}}
	return in.Intern(bgpfeed.AppendKey(nil, segs), segs)
}

func ann(at time.Duration, peer netip.Addr, prefix string, p *bgpfeed.Path) *bgpfeed.Update {
	return &bgpfeed.Update{Time: t0.Add(at), Source: "test", Kind: bgpfeed.KindAnnounce, PeerAddr: peer, PeerASN: peerAS[peer],
		Prefix: netip.MustParsePrefix(prefix), Attrs: &bgpfeed.Attrs{Path: p}}
}

func table(u *bgpfeed.Update) *bgpfeed.Update { u.Table = true; return u }

// rel: 1 and 2 are providers of 5; 1 peers with 2; 2 provides 100, 1
// provides 3, 3 provides 666.
const relText = "1|5|-1\n2|5|-1\n1|2|0\n2|100|-1\n1|3|-1\n3|666|-1\n"

func newTestState(t *testing.T, roas string) *State {
	t.Helper()
	g, err := asrel.Read(strings.NewReader(relText), "rel")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Rel: g}
	if roas != "" {
		tab, err := rpki.Read(strings.NewReader(roas), "roas")
		if err != nil {
			t.Fatal(err)
		}
		cfg.RPKI = tab
	}
	s := NewState(cfg)
	// Baseline: 10.0.0.0/16 from AS100, seen by peers A and B via 1 2 100.
	s.Observe(table(ann(0, peerA, "10.0.0.0/16", path(1, 2, 100))), nil)
	s.Observe(table(ann(0, peerB, "10.0.0.0/16", path(1, 2, 100))), nil)
	// and 10.9.0.0/16 from AS666 via 1 3 666 at peer C.
	s.Observe(table(ann(0, peerC, "10.9.0.0/16", path(9, 1, 3, 666))), nil)
	return s
}

// observe returns the vector of u, failing when the gate lets it by.
func observe(t *testing.T, s *State, u *bgpfeed.Update) ([]float64, *Candidate) {
	t.Helper()
	vec := make([]float64, NumFeatures)
	c := s.Observe(u, vec)
	if c == nil {
		t.Fatalf("%s %s %s was not scored (gate)", u.PeerAddr, u.Prefix, u.Attrs.Path)
	}
	return vec, c
}

func want(t *testing.T, vec []float64, f int, v float64) {
	t.Helper()
	if math.Abs(vec[f]-v) > 1e-9 {
		t.Errorf("%s = %v, want %v", Names[f], vec[f], v)
	}
}

func TestExactOriginHijack(t *testing.T) {
	s := newTestState(t, "")
	vec, c := observe(t, s, ann(time.Minute, peerA, "10.0.0.0/16", path(1, 3, 666)))
	want(t, vec, FPrefixLen, 16)
	want(t, vec, FIsIPv6, 0)
	want(t, vec, FPrefixSeen, 1)
	want(t, vec, FPrefixOriginsEver, 1)
	want(t, vec, FPrefixOriginsNow, 1)
	want(t, vec, FOriginKnownForPrefix, 0)
	want(t, vec, FOriginForPrefixAgeHours, -1)
	want(t, vec, FOriginSeenAnywhere, 1)
	want(t, vec, FOriginPrefixes, 1)
	want(t, vec, FOriginIsExpected, 0)
	want(t, vec, FPeersSeeingPrefix, 2)
	want(t, vec, FPeersSeeingOrigin, 0)
	want(t, vec, FNewLinks, 0) // 1-3 and 3-666 were seen at peer C
	want(t, vec, FPathChanged, 1)
	want(t, vec, FPathEditDistance, 2) // 1 2 100 -> 1 3 666
	want(t, vec, FPeerOriginChanged, 1)
	want(t, vec, FCoveringPresent, 0)
	want(t, vec, FRelationsInferred, 0)
	if !c.NewOrigin || c.Origin != 666 || len(c.Expected) != 1 || c.Expected[0] != 100 || c.SubPrefix {
		t.Errorf("candidate = %+v", c)
	}
	// At a second peer a minute later, 666 has been seen for the prefix,
	// but it is young: not known, not expected; 100 still is.
	vec, c = observe(t, s, ann(2*time.Minute, peerB, "10.0.0.0/16", path(1, 3, 666)))
	want(t, vec, FOriginKnownForPrefix, 0)
	want(t, vec, FOriginForPrefixAgeHours, 1.0/60)
	want(t, vec, FOriginIsExpected, 0)
	if len(c.Expected) != 1 || c.Expected[0] != 100 {
		t.Errorf("expected origins %v, want [100]", c.Expected)
	}
	want(t, vec, FPrefixOriginsEver, 2)
	want(t, vec, FPeersSeeingOrigin, 1)
	want(t, vec, FPrefixOriginsNow, 2)
}

func TestSubPrefixHijackAndOwnMoreSpecific(t *testing.T) {
	s := newTestState(t, "")
	vec, c := observe(t, s, ann(time.Minute, peerA, "10.0.1.0/24", path(1, 3, 666)))
	want(t, vec, FPrefixSeen, 0)
	want(t, vec, FPrefixAgeHours, -1)
	want(t, vec, FCoveringPresent, 1)
	want(t, vec, FCoveringLenDiff, 8)
	want(t, vec, FCoveringOrigins, 1)
	want(t, vec, FCoveringOriginMatch, 0)
	want(t, vec, FCoveringPeers, 2)
	if !c.SubPrefix || c.ExpectedPrefix.String() != "10.0.0.0/16" || c.Expected[0] != 100 {
		t.Errorf("candidate = %+v", c)
	}
	vec, c = observe(t, s, ann(2*time.Minute, peerA, "10.0.2.0/24", path(1, 2, 100)))
	want(t, vec, FCoveringOriginMatch, 1)
	want(t, vec, FOriginIsExpected, 1)
	if c.SubPrefix || len(c.Expected) != 0 {
		t.Errorf("own more-specific: candidate = %+v", c)
	}
	// The /16 now has two more-specifics under it.
	vec, _ = observe(t, s, ann(3*time.Minute, peerC, "10.0.0.0/16", path(9, 1, 3, 777)))
	want(t, vec, FMoreSpecifics, 2)
}

func TestForgedOriginNewLink(t *testing.T) {
	s := newTestState(t, "")
	vec, c := observe(t, s, ann(time.Minute, peerC, "10.0.0.0/16", path(9, 1, 3, 666, 100)))
	want(t, vec, FOriginKnownForPrefix, 1)
	want(t, vec, FOriginIsExpected, 1)
	want(t, vec, FNewLinks, 1)
	want(t, vec, FOriginLinkNew, 1)
	want(t, vec, FNewLinkPosition, 1)
	want(t, vec, FYoungestLinkAgeHours, 0)
	want(t, vec, FNewLinkReverseSeen, 0)
	if c.NewLinkAS != 666 || c.NewOrigin {
		t.Errorf("candidate = %+v", c)
	}
	// The reverse direction of a link seen before.
	// 1->9 is new, but 9->1 was seen (at peer C).
	vec, _ = observe(t, s, ann(2*time.Minute, peerA, "10.5.0.0/16", path(1, 9, 777)))
	want(t, vec, FNewLinkReverseSeen, 1)
}

func TestRouteLeakHairpin(t *testing.T) {
	s := newTestState(t, "")
	// 5 learned 10.0.0.0/16 from its provider 2 and sent it to its
	// provider 1: RFC 7908 type 1.
	vec, c := observe(t, s, ann(time.Minute, peerA, "10.0.0.0/16", path(1, 5, 2, 100)))
	want(t, vec, FValleyViolation, 1)
	want(t, vec, FLeakType, float64(asrel.LeakHairpin))
	want(t, vec, FLeakPosition, 2)
	want(t, vec, FUnknownRelLinks, 0)
	if c.Leaker != 5 || c.Leak.Type != asrel.LeakHairpin {
		t.Errorf("candidate = %+v", c)
	}
	// The leaker's burst counter grows with a second leaked prefix.
	vec, _ = observe(t, s, ann(time.Minute+time.Second, peerA, "10.0.3.0/24", path(1, 5, 2, 100)))
	if vec[FLeakerBurst] < 0.99 {
		t.Errorf("leaker_burst = %v after one leaked route", vec[FLeakerBurst])
	}
}

// TestLeakFrom: the candidate names the AS the leaker learned the route
// from, and whether it has fewer neighbours than the leaker (a customer
// the relationships call a peer looks so).
func TestLeakFrom(t *testing.T) {
	s := newTestState(t, "")
	// 5 (neighbours 1, 2) learned 10.0.0.0/16 from its provider 2
	// (neighbours 5, 1, 100): a source bigger than its leaker.
	_, c := observe(t, s, ann(time.Minute, peerA, "10.0.0.0/16", path(1, 5, 5, 2, 100)))
	if c.Leaker != 5 || c.LeakFrom != 2 || c.LeakFromSmaller {
		t.Errorf("hairpin at 5: Leaker %d, LeakFrom %d, LeakFromSmaller %v", c.Leaker, c.LeakFrom, c.LeakFromSmaller)
	}
	// 2 learned 10.70.0.0/16 from its peer 7 (2's only neighbour) and sent
	// it to its peer 1: a source smaller than its leaker.
	g, err := asrel.Read(strings.NewReader("1|2|0\n2|100|-1\n2|7|0\n1|3|-1\n"), "rel")
	if err != nil {
		t.Fatal(err)
	}
	s = NewState(Config{Rel: g})
	_, c = observe(t, s, ann(time.Minute, peerA, "10.70.0.0/16", path(1, 2, 7, 7)))
	if c.Leaker != 2 || c.LeakFrom != 7 || !c.LeakFromSmaller || c.Leak.Type != asrel.LeakLateral {
		t.Errorf("lateral at 2: Leaker %d, LeakFrom %d, LeakFromSmaller %v, type %v", c.Leaker, c.LeakFrom, c.LeakFromSmaller, c.Leak.Type)
	}
	// No valley: no source.
	_, c = observe(t, s, ann(2*time.Minute, peerA, "10.100.0.0/16", path(1, 2, 100)))
	if c.Leaker != 0 || c.LeakFrom != 0 || c.LeakFromSmaller {
		t.Errorf("valley-free: Leaker %d, LeakFrom %d, LeakFromSmaller %v", c.Leaker, c.LeakFrom, c.LeakFromSmaller)
	}
}

// TestLeakEstablished: a leak whose valley (to, leaker, from) the state
// saw during the warm-up, or more than Config.Young ago, is established; a
// valley first seen in monitoring, minutes ago, is not.
func TestLeakEstablished(t *testing.T) {
	g, err := asrel.Read(strings.NewReader(relText), "rel")
	if err != nil {
		t.Fatal(err)
	}
	s := NewState(Config{Rel: g, Warmup: 10 * time.Minute, Young: time.Hour})
	// Warm-up: the hairpin 1 5 2 is already there for 10.0.0.0/16.
	if c := s.Observe(ann(0, peerA, "10.0.0.0/16", path(1, 5, 2, 100)), nil); c != nil {
		t.Fatal("scored during the warm-up")
	}
	// Monitoring: the same valley for another prefix is established.
	_, c := observe(t, s, ann(11*time.Minute, peerB, "10.7.0.0/16", path(1, 5, 2, 100)))
	if c.Leaker != 5 || !c.LeakEstablished {
		t.Errorf("valley seen in the warm-up: Leaker %d, LeakEstablished %v", c.Leaker, c.LeakEstablished)
	}
	// A new valley: 5 learned 10.8.0.0/16 from its provider 1 and sent
	// it to its provider 2.
	_, c = observe(t, s, ann(12*time.Minute, peerA, "10.8.0.0/16", path(2, 5, 1, 3, 666)))
	if c.Leaker != 5 || c.LeakEstablished {
		t.Errorf("new valley: Leaker %d, LeakEstablished %v", c.Leaker, c.LeakEstablished)
	}
	// Minutes later it is still new (a leak wave), an hour later it is not.
	_, c = observe(t, s, ann(20*time.Minute, peerB, "10.9.0.0/16", path(2, 5, 1, 3, 666)))
	if c.LeakEstablished {
		t.Error("valley first seen 8 minutes ago is established")
	}
	_, c = observe(t, s, ann(80*time.Minute, peerC, "10.10.0.0/16", path(9, 2, 5, 1, 3, 666)))
	if !c.LeakEstablished {
		t.Error("valley first seen 68 minutes ago (Young 1h) is not established")
	}
	// The valleys survive a snapshot.
	var buf bytes.Buffer
	if err := s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := Load(&buf, Config{Rel: g, Warmup: 10 * time.Minute, Young: time.Hour}, in)
	if err != nil {
		t.Fatal(err)
	}
	_, c = observe(t, r, ann(81*time.Minute, peerB, "10.11.0.0/16", path(1, 5, 2, 100)))
	if !c.LeakEstablished {
		t.Error("restored state forgot the warm-up valley")
	}
}

func TestWithdrawAndSessionDown(t *testing.T) {
	s := newTestState(t, "")
	w := &bgpfeed.Update{Time: t0.Add(time.Minute), Source: "test", Kind: bgpfeed.KindWithdraw, PeerAddr: peerA, PeerASN: 1, Prefix: netip.MustParsePrefix("10.0.0.0/16")}
	s.Observe(w, nil)
	vec, _ := observe(t, s, ann(2*time.Minute, peerC, "10.0.0.0/16", path(9, 1, 3, 666)))
	want(t, vec, FPeersSeeingPrefix, 1) // only B
	want(t, vec, FPeersActive, 3)
	down := &bgpfeed.Update{Time: t0.Add(3 * time.Minute), Source: "test", Kind: bgpfeed.KindState, PeerAddr: peerB, PeerASN: 1, OldState: 6, NewState: 1}
	s.Observe(down, nil)
	vec, _ = observe(t, s, ann(4*time.Minute, peerA, "10.0.0.0/16", path(1, 3, 667)))
	want(t, vec, FPeersSeeingPrefix, 1) // only C's route; B's went with its session
	want(t, vec, FPeersActive, 2)
}

func TestPathShape(t *testing.T) {
	s := newTestState(t, "")
	segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: []uint32{1, 2, 64512, 64512, 64512}}, {Type: bgpfeed.SegSet, ASNs: []uint32{7, 8}}}
	p := in.Intern(bgpfeed.AppendKey(nil, segs), segs)
	vec, _ := observe(t, s, ann(time.Minute, peerA, "192.168.0.0/24", p))
	want(t, vec, FPathLen, 6)
	want(t, vec, FPathUniqueLen, 3)
	want(t, vec, FPrependMax, 2)
	want(t, vec, FHasASSet, 1)
	want(t, vec, FBogonASNs, 1)
	want(t, vec, FBogonPrefix, 1)
	want(t, vec, FIsIPv6, 0)
	vec, _ = observe(t, s, ann(2*time.Minute, peerA, "2001:db8::/32", path(1, 2, 64513)))
	want(t, vec, FIsIPv6, 1)
	want(t, vec, FOriginBogon, 1)
}

func TestRPKI(t *testing.T) {
	s := newTestState(t, `{"roas":[{"prefix":"10.0.0.0/16","maxLength":16,"asn":100,"ta":"t"}]}`)
	vec, _ := observe(t, s, ann(time.Minute, peerA, "10.0.0.0/16", path(1, 3, 666)))
	want(t, vec, FRPKIInvalidASN, 1)
	want(t, vec, FRPKIValid, 0)
	want(t, vec, FRPKIExpectedValid, 1)
	vec, _ = observe(t, s, ann(2*time.Minute, peerA, "10.0.4.0/24", path(1, 2, 100)))
	want(t, vec, FRPKIInvalidLength, 1)
	vec, _ = observe(t, s, ann(3*time.Minute, peerA, "10.77.0.0/16", path(1, 2, 100)))
	want(t, vec, FRPKINotFound, 1)
}

func TestGateAndWarmup(t *testing.T) {
	s := newTestState(t, "")
	// Nothing new: same origin, known links, valley-free.
	if c := s.Observe(ann(time.Minute, peerA, "10.0.0.0/16", path(1, 2, 100)), make([]float64, NumFeatures)); c != nil {
		t.Errorf("a re-announcement of a known route was scored: %+v", c)
	}
	// A young origin keeps being scored at other peers, for Config.Young.
	observe(t, s, ann(90*time.Second, peerC, "10.0.0.0/16", path(9, 1, 3, 666)))
	observe(t, s, ann(100*time.Second, peerA, "10.0.0.0/16", path(1, 3, 666)))
	if c := s.Observe(ann(2*time.Hour, peerB, "10.0.0.0/16", path(1, 3, 666)), nil); c != nil {
		t.Errorf("an origin known for 2h is still scored: %+v", c)
	}
	// ObserveAll returns it, marked not gated.
	if c, gated := s.ObserveAll(ann(3*time.Hour, peerB, "10.0.0.0/16", path(1, 2, 100)), nil); c == nil || gated {
		t.Errorf("ObserveAll = %v, %v", c, gated)
	}
	w := NewState(Config{Warmup: 10 * time.Minute})
	if c := w.Observe(ann(0, peerA, "10.1.0.0/16", path(1, 2, 300)), nil); c != nil {
		t.Error("scored during warm-up")
	}
	wv := make([]float64, NumFeatures)
	if c := w.Observe(ann(11*time.Minute, peerA, "10.2.0.0/16", path(1, 2, 301)), wv); c == nil {
		t.Error("not scored after warm-up")
	}
	want(t, wv, FRelationsInferred, 1)
	if w.Relations() == nil {
		t.Error("relationships were not inferred when scoring started")
	}
	obs, scored, learned := w.Counts()
	if obs != 2 || scored != 1 || learned != 1 {
		t.Errorf("counts = %d %d %d", obs, scored, learned)
	}
}

func TestOriginBurst(t *testing.T) {
	s := newTestState(t, "")
	var last float64
	for i := 0; i < 5; i++ {
		vec, _ := observe(t, s, ann(time.Minute+time.Duration(i)*time.Second, peerA, netip.PrefixFrom(netip.AddrFrom4([4]byte{20, byte(i), 0, 0}), 16).String(), path(1, 3, 666)))
		if i > 0 && vec[FOriginNewPrefixesBurst] <= last {
			t.Errorf("burst did not grow: %v after %v", vec[FOriginNewPrefixesBurst], last)
		}
		last = vec[FOriginNewPrefixesBurst]
	}
	if last < 3.9 || last > 4 {
		t.Errorf("burst after 4 new prefixes within seconds = %v, want just under 4", last)
	}
	// It decays: an hour later (time constant 5 minutes) almost nothing.
	vec, _ := observe(t, s, ann(time.Hour, peerA, "21.0.0.0/16", path(1, 3, 666)))
	if vec[FOriginNewPrefixesBurst] > 0.01 {
		t.Errorf("burst an hour later = %v", vec[FOriginNewPrefixesBurst])
	}
}

func TestNamesComplete(t *testing.T) {
	seen := map[string]bool{}
	for i, n := range Names {
		if n == "" {
			t.Errorf("feature %d has no name", i)
		}
		if seen[n] {
			t.Errorf("duplicate name %q", n)
		}
		seen[n] = true
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b []uint32
		d    int
	}{{nil, []uint32{1, 2}, 2}, {[]uint32{1, 2, 3}, []uint32{1, 2, 3}, 0}, {[]uint32{1, 2, 100}, []uint32{1, 3, 4, 100}, 2}, {[]uint32{1}, nil, 1}} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%v, %v) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

// TestGateAgrees: the cheap gate of Observe and the gate featurize
// computes with the full vector agree on a real update stream.
func TestGateAgrees(t *testing.T) {
	r, err := mrt.Open([]string{"../testdata/mrt/updates.20100722.2015.gz"}, mrt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := NewState(Config{Warmup: time.Minute})
	b := NewState(Config{Warmup: time.Minute})
	vec := make([]float64, NumFeatures)
	n, gated := 0, 0
	for {
		u, err := r.Next(context.Background())
		if err != nil {
			break
		}
		u2 := u
		ca := a.Observe(&u, vec)
		_, g := b.ObserveAll(&u2, vec)
		if (ca != nil) != g {
			t.Fatalf("update %d (%s %s %s): Observe gate %v, featurize gate %v", n, u.PeerAddr, u.Prefix, u.Attrs.Path, ca != nil, g)
		}
		n++
		if g {
			gated++
		}
	}
	if n < 5000 || gated == 0 || gated == n {
		t.Fatalf("%d updates, %d gated", n, gated)
	}
	t.Logf("%d updates, %d gated", n, gated)
}

// TestExpectedRouted: an expected origin that only a prefix-to-origin
// table names is not routed; a route of the data (a RIB entry or an
// update) for the prefix or a covering prefix, or the table naming it for
// a covering prefix too, makes it so. Eager and lazy tables agree.
func TestExpectedRouted(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		s := NewState(Config{})
		entries := []TableEntry{
			{netip.MustParsePrefix("10.0.0.0/24"), path(100)}, // table only
			{netip.MustParsePrefix("10.1.0.0/22"), path(200)}, // a block of 200
			{netip.MustParsePrefix("10.1.1.0/24"), path(200)}, // and its /24
			{netip.MustParsePrefix("10.2.0.0/24"), path(300)}, // table, then routed
			{netip.MustParsePrefix("10.3.0.0/22"), path(400)}, // another AS's aggregate
			{netip.MustParsePrefix("10.3.1.0/24"), path(500)}, // table only
		}
		if lazy {
			var oe []OriginEntry
			for _, e := range entries {
				oe = append(oe, OriginEntry{Prefix: e.Prefix, ASN: e.Path.Origin(), Attrs: &bgpfeed.Attrs{Path: e.Path}})
			}
			s.LearnOriginsLazy(t0, oe, in)
		} else {
			s.LearnTable(t0, entries)
		}
		// A RIB entry of a peer carries 300 for 10.2.0.0/24.
		s.Observe(table(ann(0, peerA, "10.2.0.0/24", path(1, 300))), nil)
		cases := []struct {
			prefix string
			routed bool
		}{
			{"10.0.0.0/24", false}, // YouTube-like /24 without the /22: only the table
			{"10.1.1.0/24", true},  // the table names 200 for the covering /22 too
			{"10.2.0.0/24", true},  // a peer's route carried 300
			{"10.3.1.0/24", false}, // the covering /22 is another AS's
		}
		for _, tc := range cases {
			_, c := observe(t, s, ann(time.Minute, peerB, tc.prefix, path(1, 666)))
			if len(c.Expected) == 0 {
				t.Fatalf("lazy %v %s: no expected origin", lazy, tc.prefix)
			}
			if c.ExpectedRouted != tc.routed {
				t.Errorf("lazy %v %s: ExpectedRouted = %v, want %v (expected %v)", lazy, tc.prefix, c.ExpectedRouted, tc.routed, c.Expected)
			}
		}
		// An update carrying the expected origin makes it routed.
		s.Observe(ann(2*time.Minute, peerC, "10.0.0.0/24", path(9, 100)), nil)
		if _, c := observe(t, s, ann(3*time.Minute, peerA, "10.0.0.0/24", path(1, 777))); !c.ExpectedRouted {
			t.Errorf("lazy %v: 10.0.0.0/24 after AS100's own update: not routed (expected %v)", lazy, c.Expected)
		}
	}
}

// TestSiblings: AS666 and AS100 are one organisation (as-org data), so
// 666 taking 100's prefix, or announcing it behind a link to it that is
// new, is marked as a move within the organisation; AS2, of another
// organisation, is not.
func TestSiblings(t *testing.T) {
	orgs, err := asorg.Read(strings.NewReader(`{"type":"Organization","organizationId":"ORG-A","name":"A","country":"NL","source":"RIPE"}
{"type":"Organization","organizationId":"ORG-B","name":"B","country":"NL","source":"RIPE"}
{"type":"ASN","asn":"666","organizationId":"ORG-A","name":"A-1","source":"RIPE"}
{"type":"ASN","asn":"100","organizationId":"ORG-A","name":"A-2","source":"RIPE"}
{"type":"ASN","asn":"2","organizationId":"ORG-B","name":"B-1","source":"RIPE"}
`), "orgs")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestState(t, "")
	s.cfg.Orgs = orgs
	vec, c := observe(t, s, ann(time.Minute, peerA, "10.0.0.0/16", path(1, 3, 666)))
	want(t, vec, FOriginSiblingOfExpected, 1)
	if !c.OriginSibling || c.NewLinkSibling {
		t.Errorf("origin change to a sibling: candidate = %+v", c)
	}
	_, c = observe(t, s, ann(2*time.Minute, peerC, "10.9.0.0/16", path(9, 1, 3, 100, 666)))
	if c.NewLinkAS != 100 || !c.NewLinkSibling || c.OriginSibling {
		t.Errorf("new link between siblings: candidate = %+v", c)
	}
	_, c = observe(t, s, ann(3*time.Minute, peerB, "10.9.0.0/16", path(9, 1, 2, 666)))
	if c.NewLinkAS != 2 || c.NewLinkSibling {
		t.Errorf("new link to another organisation: candidate = %+v", c)
	}
}

// TestLoop: a path in which an AS appears twice, apart, is marked (its
// valleys are not leaks); prepending is not a loop.
func TestLoop(t *testing.T) {
	s := newTestState(t, "")
	_, c := observe(t, s, ann(time.Minute, peerA, "10.0.0.0/16", path(1, 3, 1, 1, 2, 100)))
	if !c.Loop {
		t.Errorf("1 3 1 2 100: candidate = %+v, want Loop", c)
	}
	_, c = observe(t, s, ann(2*time.Minute, peerB, "10.0.0.0/16", path(1, 3, 3, 3, 2, 100)))
	if c.Loop {
		t.Errorf("1 3 3 3 2 100 (prepending): candidate = %+v, want no Loop", c)
	}
}

// TestTableTimes: the state knows when its baselines were made (the
// earliest and latest of them, eager or lazy tables and RIB entries
// alike) and when the data began (its first update that is not a
// baseline entry).
func TestTableTimes(t *testing.T) {
	s := NewState(Config{})
	if _, _, ok := s.TableTimes(); ok {
		t.Fatal("TableTimes of an empty state")
	}
	if _, ok := s.FirstLive(); ok {
		t.Fatal("FirstLive of an empty state")
	}
	rib := t0.Add(-48 * time.Hour)
	s.LearnOriginsLazy(t0.Add(30*24*time.Hour), []OriginEntry{{Prefix: netip.MustParsePrefix("10.0.0.0/16"), ASN: 100}}, in)
	s.LearnTable(rib, []TableEntry{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Path: path(1, 2, 100)}})
	s.Observe(table(ann(-time.Hour, peerA, "10.2.0.0/16", path(1, 200))), make([]float64, NumFeatures))
	s.Observe(ann(time.Minute, peerA, "10.3.0.0/16", path(1, 300)), make([]float64, NumFeatures))
	s.Observe(ann(2*time.Minute, peerA, "10.4.0.0/16", path(1, 400)), make([]float64, NumFeatures))
	first, last, ok := s.TableTimes()
	if !ok || !first.Equal(rib) || !last.Equal(t0.Add(30*24*time.Hour)) {
		t.Errorf("TableTimes = %s %s %v, want %s %s", first, last, ok, rib, t0.Add(30*24*time.Hour))
	}
	if live, ok := s.FirstLive(); !ok || !live.Equal(t0.Add(time.Minute)) {
		t.Errorf("FirstLive = %s %v, want %s", live, ok, t0.Add(time.Minute))
	}
}

// TestLeakAcrossSiblings: AS5 hands a route from its provider AS2 to its
// provider AS1, a hairpin leak; when the as-org data says AS5 and AS2 are
// one organisation, the link between them is marked a sibling link and
// the same path is one network's transit: no valley, no leaker. The same
// holds for relationships inferred later (UseInferredRelations).
func TestLeakAcrossSiblings(t *testing.T) {
	orgs, err := asorg.Read(strings.NewReader(`{"type":"Organization","organizationId":"ORG-A","name":"A","country":"NL","source":"RIPE"}
{"type":"ASN","asn":"5","organizationId":"ORG-A","name":"A-1","source":"RIPE"}
{"type":"ASN","asn":"2","organizationId":"ORG-A","name":"A-2","source":"RIPE"}
`), "orgs")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		orgs     *asorg.Table
		inferred bool
		valley   float64
	}{{nil, false, 1}, {orgs, false, 0}, {nil, true, 1}, {orgs, true, 0}} {
		g, err := asrel.Read(strings.NewReader(relText), "rel")
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Orgs: tc.orgs}
		if !tc.inferred {
			cfg.Rel = g
		}
		s := NewState(cfg)
		if tc.inferred {
			s.UseInferredRelations(g)
		}
		vec := make([]float64, NumFeatures)
		c, _ := s.ObserveAll(ann(time.Minute, peerA, "10.0.0.0/16", path(1, 5, 2, 100)), vec)
		if c == nil {
			t.Fatal("not featurized")
		}
		if vec[FValleyViolation] != tc.valley || (tc.valley == 0) != (c.Leaker == 0) {
			t.Errorf("orgs %v, inferred %v: valley_violation %v, leaker %d; want valley %v", tc.orgs != nil, tc.inferred, vec[FValleyViolation], c.Leaker, tc.valley)
		}
	}
}
