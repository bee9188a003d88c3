package features

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
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
