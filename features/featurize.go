package features

import (
	"errors"
	"fmt"
	"math"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// ErrNotScorable is returned by Featurize for an update that has no
// feature vector: not an announcement, or one without a prefix or path.
var ErrNotScorable = errors.New("features: not a scorable announcement")

// Featurize fills vec (length NumFeatures) with the features of the
// announcement u against the state as it is now, and returns its
// Candidate, without changing the state: u is not learned, its peer is not
// registered, nothing is cached. It is what the gRPC Classify call
// answers ("what would you say of this route?"), so the warm-up and the
// gate do not apply. Featurize only reads: calls may run concurrently with
// each other, but not with Observe (the caller holds a read lock for
// Featurize and a write lock for Observe).
func (s *State) Featurize(u *bgpfeed.Update, vec []float64) (*Candidate, error) {
	if u == nil || u.Kind != bgpfeed.KindAnnounce {
		return nil, fmt.Errorf("%w: not an announcement", ErrNotScorable)
	}
	if !u.Prefix.IsValid() || u.Attrs == nil || u.Attrs.Path == nil || u.Attrs.Path.Len() == 0 {
		return nil, fmt.Errorf("%w: an announcement needs a prefix and a non-empty AS path", ErrNotScorable)
	}
	if len(vec) < NumFeatures {
		return nil, fmt.Errorf("features: vector of %d values, want %d", len(vec), NumFeatures)
	}
	if s.lazy != nil {
		return nil, errors.New("features: Featurize on a state with a lazy baseline (LearnOriginsLazy): Materialize it first")
	}
	id, ok := s.peerIdx[peerKey{u.Source, u.PeerAddr, u.PeerASN}]
	if !ok {
		id = math.MaxUint16 // no route of an unknown peer matches
	}
	f := s.cachedFacts(u.Attrs.Path)
	ps, _ := s.prefixes.Get(u.Prefix)
	c, _ := s.featurize(u, f, vec[:NumFeatures], id, s.cachedFacts, ps)
	return c, nil
}
