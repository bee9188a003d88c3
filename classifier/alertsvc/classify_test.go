package alertsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/classifier"
	"github.com/bgpsentry/bgpsentry/classifier/lgbm"
	"github.com/bgpsentry/bgpsentry/features"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc/codes"
)

// announcement is the wire form of an announcement of 203.0.113.0/24 by
// AS 64500 through 3356 174.
func announcement() *pb.Update {
	return &pb.Update{
		TimeUnixNs: 1700000000e9,
		Source:     "rrc00",
		Kind:       pb.Kind_KIND_ANNOUNCE,
		PeerAddr:   []byte{192, 0, 2, 1},
		PeerAsn:    3356,
		PrefixAddr: []byte{203, 0, 113, 0},
		PrefixLen:  24,
		Attrs: &pb.Attrs{
			AsPath:  []*pb.Segment{{Type: pb.Segment_TYPE_AS_SEQUENCE, Asns: []uint32{3356, 174, 64500}}},
			NextHop: []byte{192, 0, 2, 1},
		},
	}
}

// TestAlertsClassify: Classify hands the decoded update to the Scorer and
// maps its errors to status codes.
func TestAlertsClassify(t *testing.T) {
	var seen bgpfeed.Update
	scorer := ScorerFunc(func(u *bgpfeed.Update) (*pb.Verdict, error) {
		seen = *u
		switch u.OriginASN() {
		case 64666:
			return nil, fmt.Errorf("%w: origin 64666 is refused", ErrInvalidUpdate)
		case 64667:
			return nil, errors.New("state unavailable")
		}
		return &pb.Verdict{
			PredictedClass: "origin_hijack",
			Type:           pb.AlertType_ORIGIN_HIJACK,
			Confidence:     0.97,
			Classes: []*pb.ClassProbability{
				{ClassName: "benign", Probability: 0.03},
				{ClassName: "origin_hijack", Type: pb.AlertType_ORIGIN_HIJACK, Probability: 0.97, Threshold: 0.9},
			},
			Features: []*pb.Reason{{Feature: "origin_known_for_prefix", Value: 0, Contribution: 2.5}},
		}, nil
	})
	_, addr := serve(t, NewBroker(BrokerConfig{}), Config{Scorer: scorer})
	c := dial(t, addr)
	ctx := testCtx(t)

	v, err := c.Classify(ctx, &pb.ClassifyRequest{Update: announcement()})
	if err != nil {
		t.Fatal(err)
	}
	if v.PredictedClass != "origin_hijack" || v.Confidence != 0.97 || len(v.Classes) != 2 || v.Features[0].Contribution != 2.5 {
		t.Errorf("verdict %v", v)
	}
	if seen.Prefix != netip.MustParsePrefix("203.0.113.0/24") || seen.OriginASN() != 64500 || seen.PeerASN != 3356 || seen.Source != "rrc00" {
		t.Errorf("scorer saw %+v", seen)
	}

	withdraw := announcement()
	withdraw.Kind, withdraw.Attrs = pb.Kind_KIND_WITHDRAW, nil
	refused := announcement()
	refused.Attrs.AsPath[0].Asns = []uint32{3356, 64666}
	failing := announcement()
	failing.Attrs.AsPath[0].Asns = []uint32{3356, 64667}
	badPrefix := announcement()
	badPrefix.PrefixLen = 33
	for _, tc := range []struct {
		name string
		req  *pb.ClassifyRequest
		code codes.Code
	}{
		{"no update", &pb.ClassifyRequest{}, codes.InvalidArgument},
		{"withdrawal", &pb.ClassifyRequest{Update: withdraw}, codes.InvalidArgument},
		{"bad prefix", &pb.ClassifyRequest{Update: badPrefix}, codes.InvalidArgument},
		{"scorer refuses", &pb.ClassifyRequest{Update: refused}, codes.InvalidArgument},
		{"scorer fails", &pb.ClassifyRequest{Update: failing}, codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Classify(ctx, tc.req)
			wantCode(t, err, tc.code)
		})
	}

	// Without a Scorer or model info: UNIMPLEMENTED.
	_, addr = serve(t, NewBroker(BrokerConfig{}), Config{})
	c = dial(t, addr)
	_, err = c.Classify(ctx, &pb.ClassifyRequest{Update: announcement()})
	wantCode(t, err, codes.Unimplemented)
	_, err = c.GetModelInfo(ctx, &pb.GetModelInfoRequest{})
	wantCode(t, err, codes.Unimplemented)
}

func TestAlertsGetModelInfo(t *testing.T) {
	info := ModelInfoFunc(func() (*pb.ModelInfo, error) {
		return &pb.ModelInfo{
			Source:               "embedded",
			ModelSha256:          "abc123",
			FeatureNames:         features.NameList(),
			FeatureSchemaVersion: features.SchemaVersion,
			ClassNames:           []string{"benign", "origin_hijack"},
			Thresholds:           map[string]float64{"origin_hijack": 0.9},
			Metrics:              map[string]float64{"macro_f1": 0.93},
		}, nil
	})
	_, addr := serve(t, NewBroker(BrokerConfig{}), Config{ModelInfo: info})
	resp, err := dial(t, addr).GetModelInfo(testCtx(t), &pb.GetModelInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m := resp.GetModel()
	if m.ModelSha256 != "abc123" || m.FeatureSchemaVersion != features.SchemaVersion ||
		!slices.Equal(m.FeatureNames, features.NameList()) || m.Thresholds["origin_hijack"] != 0.9 || m.Metrics["macro_f1"] != 0.93 {
		t.Errorf("model info %v", m)
	}
}

// synthModel writes a small 5-class LightGBM model over this binary's
// feature schema (one stump per class on feature k, with the node counts
// TreeSHAP needs) and loads it: the adapters are tested against the real
// classifier without depending on the trained model.
func synthModel(t *testing.T) *classifier.Classifier {
	t.Helper()
	var b strings.Builder
	n := int(classifier.NumClasses)
	fmt.Fprintf(&b, "tree\nversion=v4\nnum_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\nmax_feature_idx=%d\nobjective=multiclass num_class:%d\n",
		n, n, features.NumFeatures-1, n)
	fmt.Fprintf(&b, "feature_names=%s\nfeature_infos=%s\ntree_sizes=%s\n\n",
		strings.Join(features.NameList(), " "), strings.TrimSpace(strings.Repeat("none ", features.NumFeatures)), strings.TrimSpace(strings.Repeat("1 ", n)))
	for k := range n {
		fmt.Fprintf(&b, "Tree=%d\nnum_leaves=2\nnum_cat=0\nsplit_feature=%d\nsplit_gain=1\nthreshold=0.5\ndecision_type=2\nleft_child=-1\nright_child=-2\n", k, k)
		fmt.Fprintf(&b, "leaf_value=%g %g\nleaf_weight=30 10\nleaf_count=30 10\ninternal_value=0\ninternal_weight=40\ninternal_count=40\nis_linear=0\nshrinkage=1\n\n", -0.5-0.1*float64(k), 1.0+0.2*float64(k))
	}
	b.WriteString("end of trees\n")
	meta, _ := json.Marshal(map[string]any{
		"feature_names":    features.NameList(),
		"schema_version":   features.SchemaVersion,
		"class_names":      classifier.ClassNames,
		"thresholds":       map[string]float64{"origin_hijack": 0.4, "subprefix_hijack": 0.5, "path_hijack": 0.5, "route_leak": 0.5},
		"metrics":          map[string]float64{"macro_f1": 0.9},
		"data_fingerprint": "synthetic",
		"lightgbm_version": "4.6.0",
	})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, lgbm.ModelFile), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, lgbm.MetaFile), meta, 0o600); err != nil {
		t.Fatal(err)
	}
	clf, err := classifier.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return clf
}

// TestAlertsClassifierAdapters: ClassifierScorer and ClassifierModelInfo
// over a real classifier.
func TestAlertsClassifierAdapters(t *testing.T) {
	clf := synthModel(t)
	x := make([]float64, features.NumFeatures)
	x[int(classifier.OriginHijack)] = 1 // the stump of origin_hijack goes right
	var featurized int
	scorer := ClassifierScorer(clf, func(u *bgpfeed.Update, vec []float64) (*features.Candidate, error) {
		featurized++
		copy(vec, x)
		return &features.Candidate{Update: u, Origin: 64500, Expected: []uint32{64496}, ExpectedPrefix: netip.MustParsePrefix("203.0.112.0/22")}, nil
	})
	_, addr := serve(t, NewBroker(BrokerConfig{}), Config{Scorer: scorer, ModelInfo: ClassifierModelInfo(clf)})
	c := dial(t, addr)
	ctx := testCtx(t)
	v, err := c.Classify(ctx, &pb.ClassifyRequest{Update: announcement()})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := clf.Classify(x)
	if featurized != 1 || v.PredictedClass != "origin_hijack" || v.PredictedClass != want.Class.String() || v.Confidence != want.Confidence() ||
		v.Type != pb.AlertType_ORIGIN_HIJACK || v.Classes[1].Threshold != 0.4 {
		t.Errorf("verdict %s %v, want %s %v", v.PredictedClass, v.Confidence, want.Class, want.Confidence())
	}
	if len(v.Classes) != int(classifier.NumClasses) || len(v.Features) != features.NumFeatures {
		t.Fatalf("%d classes, %d features", len(v.Classes), len(v.Features))
	}
	sum, prev := v.BaseScore, math.Inf(1)
	for _, r := range v.Features {
		sum += r.Contribution
		if math.Abs(r.Contribution) > prev {
			t.Errorf("features not sorted by |contribution|: %v after %v", r.Contribution, prev)
		}
		prev = math.Abs(r.Contribution)
	}
	raw := make([]float64, clf.Model().NClasses())
	if err := clf.Model().PredictRaw(x, raw); err != nil {
		t.Fatal(err)
	}
	if math.Abs(sum-raw[want.Class]) > 1e-9 {
		t.Errorf("contributions + base add up to %v, raw score %v", sum, raw[want.Class])
	}
	if v.OriginAsn != 64500 || v.ExpectedPrefix != "203.0.112.0/22" || !slices.Equal(v.ExpectedOrigins, []uint32{64496}) {
		t.Errorf("candidate fields %v %v %v", v.OriginAsn, v.ExpectedPrefix, v.ExpectedOrigins)
	}

	resp, err := c.GetModelInfo(ctx, &pb.GetModelInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m := resp.GetModel()
	if m.Source == "" || m.DataFingerprint != "synthetic" || m.Metrics["macro_f1"] != 0.9 || !slices.Equal(m.FeatureNames, features.NameList()) || len(m.ClassNames) != int(classifier.NumClasses) ||
		m.Thresholds["origin_hijack"] != clf.Threshold(classifier.OriginHijack) || m.Trees == 0 || !strings.HasPrefix(m.FormatVersion, "v") {
		t.Errorf("model info %v", m)
	}
}
