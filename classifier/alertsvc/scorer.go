package alertsvc

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/classifier"
	"github.com/bgpsentry/bgpsentry/features"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// Scorer scores one announcement against the current state without
// changing it (Classify). It must be safe for concurrent use. An error
// wrapping ErrInvalidUpdate is the client's fault (INVALID_ARGUMENT); any
// other is INTERNAL.
type Scorer interface {
	Score(u *bgpfeed.Update) (*pb.Verdict, error)
}

// ScorerFunc adapts a function to Scorer.
type ScorerFunc func(u *bgpfeed.Update) (*pb.Verdict, error)

// Score calls f.
func (f ScorerFunc) Score(u *bgpfeed.Update) (*pb.Verdict, error) { return f(u) }

// FeaturizeFunc writes into vec (features.NumFeatures long) the feature
// vector of the announcement u against the live state WITHOUT changing
// that state, and returns its candidate (origin, expected origins). The
// wiring provides it (with whatever locking the state needs); it must be
// safe for concurrent use.
type FeaturizeFunc func(u *bgpfeed.Update, vec []float64) (*features.Candidate, error)

// ClassifierScorer scores with a classifier and a read-only featurizer.
func ClassifierScorer(c *classifier.Classifier, featurize FeaturizeFunc) Scorer {
	return ScorerFunc(func(u *bgpfeed.Update) (*pb.Verdict, error) {
		if u == nil || u.Kind != bgpfeed.KindAnnounce {
			return nil, fmt.Errorf("%w: not an announcement", ErrInvalidUpdate)
		}
		vec := make([]float64, features.NumFeatures)
		cand, err := featurize(u, vec)
		if err != nil {
			return nil, err
		}
		v, err := c.Classify(vec)
		if err != nil {
			return nil, fmt.Errorf("alertsvc: classify: %w", err)
		}
		return VerdictOf(c, vec, v, cand), nil
	})
}

// VerdictOf is the wire form of a classifier verdict for the vector vec:
// every class probability with its threshold, and every feature with its
// value and TreeSHAP contribution to the predicted class (values only when
// the model cannot give contributions). cand may be nil.
func VerdictOf(c *classifier.Classifier, vec []float64, v classifier.Verdict, cand *features.Candidate) *pb.Verdict {
	out := &pb.Verdict{
		PredictedClass: v.Class.String(),
		Type:           v.Class.AlertType(),
		Confidence:     v.Confidence(),
	}
	for k := classifier.Class(0); k < classifier.NumClasses; k++ {
		cp := &pb.ClassProbability{ClassName: k.String(), Type: k.AlertType(), Probability: v.Proba[k]}
		if k != classifier.Benign {
			cp.Threshold = c.Threshold(k)
		}
		out.Classes = append(out.Classes, cp)
	}
	contrib := make([]float64, len(vec)+1)
	if err := c.Model().Contributions(vec, int(v.Class), contrib); err != nil {
		clear(contrib)
	} else {
		out.BaseScore = contrib[len(vec)]
	}
	for i, x := range vec {
		name := fmt.Sprintf("feature_%d", i)
		if i < len(features.Names) {
			name = features.Names[i]
		}
		out.Features = append(out.Features, &pb.Reason{Feature: name, Value: x, Contribution: contrib[i]})
	}
	slices.SortStableFunc(out.Features, func(a, b *pb.Reason) int {
		return cmp.Compare(math.Abs(b.Contribution), math.Abs(a.Contribution))
	})
	if cand != nil {
		out.OriginAsn = cand.Origin
		out.ExpectedOrigins = append([]uint32(nil), cand.Expected...)
		if cand.ExpectedPrefix.IsValid() {
			out.ExpectedPrefix = cand.ExpectedPrefix.String()
		}
	}
	return out
}

// ModelInfoProvider describes the model in use (GetModelInfo).
type ModelInfoProvider interface {
	ModelInfo() (*pb.ModelInfo, error)
}

// ModelInfoFunc adapts a function to ModelInfoProvider.
type ModelInfoFunc func() (*pb.ModelInfo, error)

// ModelInfo calls f.
func (f ModelInfoFunc) ModelInfo() (*pb.ModelInfo, error) { return f() }

// ClassifierModelInfo describes c: its model.json contract, the thresholds
// in use (overrides included) and the feature schema of this binary.
func ClassifierModelInfo(c *classifier.Classifier) ModelInfoProvider {
	return ModelInfoFunc(func() (*pb.ModelInfo, error) {
		m := c.Model()
		mi := &pb.ModelInfo{
			Source:               c.Source(),
			FormatVersion:        m.Version(),
			FeatureNames:         features.NameList(),
			FeatureSchemaVersion: uint32(features.SchemaVersion),
			Thresholds:           map[string]float64{},
			Metrics:              map[string]float64{},
			Trees:                uint32(m.NTrees()),
		}
		for k := classifier.Class(0); k < classifier.NumClasses; k++ {
			mi.ClassNames = append(mi.ClassNames, k.String())
			if k != classifier.Benign {
				mi.Thresholds[k.String()] = c.Threshold(k)
			}
		}
		if meta := m.Meta(); meta != nil {
			mi.ModelSha256 = meta.ModelSHA256
			mi.LightgbmVersion = meta.LightGBMVersion
			mi.DataFingerprint = meta.DataFingerprint
			for k, v := range meta.Metrics {
				mi.Metrics[k] = v
			}
		}
		return mi, nil
	})
}
