package features

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features/asrel"
)

// TestFeaturizeReadOnly: Featurize gives the vector Observe gives for the
// same announcement, and leaves the state as it was (no peer, path,
// prefix, link or origin added, and Observe afterwards still sees the
// origin as new).
func TestFeaturizeReadOnly(t *testing.T) {
	s := newTestState(t, "")
	type shape struct{ peers, paths, prefixes, links, originsOf int }
	shapeOf := func() shape {
		return shape{len(s.peers), len(s.pathInfo), s.Prefixes(), s.Links(), len(s.OriginsOf(netip.MustParsePrefix("10.0.0.0/16")))}
	}
	before := shapeOf()
	hijack := ann(time.Minute, peerA, "10.0.0.0/16", path(1, 3, 666))
	got := make([]float64, NumFeatures)
	c, err := s.Featurize(hijack, got)
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != 666 || !c.NewOrigin || !slices.Equal(c.Expected, []uint32{100}) {
		t.Errorf("candidate = %+v", c)
	}
	// A peer the state never saw, and a path never seen: no panic, no
	// registration.
	stranger := ann(time.Minute, netip.MustParseAddr("198.51.100.7"), "10.0.1.0/24", path(7, 8, 9))
	if _, err := s.Featurize(stranger, make([]float64, NumFeatures)); err != nil {
		t.Fatal(err)
	}
	if after := shapeOf(); after != before {
		t.Errorf("Featurize changed the state: %+v before, %+v after", before, after)
	}
	if o, _, _ := s.Counts(); o != 3 {
		t.Errorf("observed = %d after Featurize, want the 3 baseline entries", o)
	}
	want, _ := observe(t, s, hijack)
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: Featurize %v, Observe %v", Names[i], got[i], want[i])
			}
		}
	}
}

func TestFeaturizeRefuses(t *testing.T) {
	s := newTestState(t, "")
	vec := make([]float64, NumFeatures)
	w := &bgpfeed.Update{Kind: bgpfeed.KindWithdraw, Prefix: netip.MustParsePrefix("10.0.0.0/16")}
	noPath := &bgpfeed.Update{Kind: bgpfeed.KindAnnounce, Prefix: netip.MustParsePrefix("10.0.0.0/16"), Attrs: &bgpfeed.Attrs{}}
	for _, u := range []*bgpfeed.Update{nil, w, noPath} {
		if _, err := s.Featurize(u, vec); !errors.Is(err, ErrNotScorable) {
			t.Errorf("%v: err = %v, want ErrNotScorable", u, err)
		}
	}
	if _, err := s.Featurize(ann(0, peerA, "10.0.0.0/16", path(1, 2, 100)), vec[:3]); err == nil {
		t.Error("short vector accepted")
	}
}

// TestSessionDownCopies: Kafka writes a session state change to every
// partition, so a classifier owning several reads it several times, the
// late copies after the session came back. A repeated down must not end
// the routes announced since, and an update of the ended session read
// after the down must not revive its route.
func TestSessionDownCopies(t *testing.T) {
	s := newTestState(t, "")
	live := func(prefix string) int {
		ps, ok := s.prefixes.Get(netip.MustParsePrefix(prefix))
		if !ok {
			return 0
		}
		n := 0
		for _, r := range ps.routes {
			if s.live(r) && r.peer == s.peerIdx[peerKey{"test", peerA, peerAS[peerA]}] {
				n++
			}
		}
		return n
	}
	state := func(at time.Duration, down bool) *bgpfeed.Update {
		u := &bgpfeed.Update{Time: t0.Add(at), Source: "test", Kind: bgpfeed.KindState, PeerAddr: peerA, PeerASN: peerAS[peerA],
			OldState: bgpfeed.StateEstablished, NewState: 1} // Idle
		if !down {
			u.OldState, u.NewState = 5, bgpfeed.StateEstablished // from OpenConfirm
		}
		return u
	}
	s.Observe(ann(time.Minute, peerA, "10.5.0.0/16", path(1, 2, 100)), nil)
	s.Observe(state(2*time.Minute, true), nil) // partition 1's copy
	if live("10.5.0.0/16") != 0 {
		t.Fatal("the route outlived its session")
	}
	s.Observe(state(3*time.Minute, false), nil)
	s.Observe(ann(4*time.Minute, peerA, "10.6.0.0/16", path(1, 2, 100)), nil)
	// Partition 2: an announcement of the old session, then the down copy.
	s.Observe(ann(90*time.Second, peerA, "10.7.0.0/16", path(1, 2, 100)), nil)
	s.Observe(state(2*time.Minute, true), nil)
	if live("10.6.0.0/16") != 1 {
		t.Error("a late copy of the session-down ended a route of the new session")
	}
	if live("10.7.0.0/16") != 0 {
		t.Error("an announcement of the ended session, read late, is live")
	}
	if s.Stale() != 2 {
		t.Errorf("stale = %d, want 2 (the old announcement and the down copy)", s.Stale())
	}
	// A real second down still ends the session.
	s.Observe(state(5*time.Minute, true), nil)
	if live("10.6.0.0/16") != 0 {
		t.Error("a new session-down did not end the routes")
	}
}

// TestInferConcurrentSame: relationships inferred from the whole input
// and handed over after the baselines loaded (UseInferredRelations) stay
// in use: the state must not replace them by its own warm-up inference,
// which a state made without relationships would run.
func TestInferConcurrentSame(t *testing.T) {
	g, err := asrel.Read(strings.NewReader(relText), "rel")
	if err != nil {
		t.Fatal(err)
	}
	s := NewState(Config{Warmup: time.Minute})
	s.Observe(table(ann(0, peerA, "10.0.0.0/16", path(1, 2, 100))), nil)
	s.UseInferredRelations(g)
	s.Observe(ann(30*time.Second, peerA, "10.1.0.0/16", path(1, 3, 666)), nil)
	s.Observe(ann(2*time.Minute, peerB, "10.2.0.0/16", path(1, 2, 100)), nil) // after the warm-up
	if s.Relations() != g {
		t.Error("the inferred relationships were replaced after the warm-up")
	}
	vec := make([]float64, NumFeatures)
	if c := s.Observe(ann(3*time.Minute, peerC, "10.0.0.0/16", path(9, 1, 3, 666)), vec); c == nil || vec[FRelationsInferred] != 1 {
		t.Errorf("relations_inferred = %v (candidate %v), want 1", vec[FRelationsInferred], c)
	}
}
