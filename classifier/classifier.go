package classifier

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/bgpsentry/bgpsentry/classifier/lgbm"
	"github.com/bgpsentry/bgpsentry/features"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// Class is a model class; its index is the model's output index.
type Class int

// Classes, in model output order.
const (
	Benign Class = iota
	OriginHijack
	SubprefixHijack
	PathHijack
	RouteLeak
	NumClasses
)

// ClassNames are the class names of model.json, in order.
var ClassNames = [NumClasses]string{"benign", "origin_hijack", "subprefix_hijack", "path_hijack", "route_leak"}

// BogonOrigin is the class of the bogon-origin rule (Eventer.Rules): an
// alert class beyond the model's classes.
const BogonOrigin Class = NumClasses

func (c Class) String() string {
	if c >= 0 && c < NumClasses {
		return ClassNames[c]
	}
	if c == BogonOrigin {
		return "bogon_origin"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// AlertType is the alert type of a class (unspecified for Benign).
func (c Class) AlertType() pb.AlertType {
	switch c {
	case OriginHijack:
		return pb.AlertType_ORIGIN_HIJACK
	case SubprefixHijack:
		return pb.AlertType_SUBPREFIX_HIJACK
	case PathHijack:
		return pb.AlertType_PATH_HIJACK
	case RouteLeak:
		return pb.AlertType_ROUTE_LEAK
	case BogonOrigin:
		return pb.AlertType_BOGON_ORIGIN
	}
	return pb.AlertType_ALERT_TYPE_UNSPECIFIED
}

// ErrNoModel is returned by Default when the binary embeds no model.
var ErrNoModel = errors.New("classifier: no default model embedded (run make train, or give --model DIR)")

//go:embed model
var embedded embed.FS

// Classifier is a loaded model with its per-class thresholds.
type Classifier struct {
	model      *lgbm.Model
	thresholds [NumClasses]float64
	source     string
}

// Load loads DIR/model.txt and DIR/model.json and checks them against the
// feature schema of this binary.
func Load(dir string) (*Classifier, error) {
	m, err := lgbm.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return newClassifier(m, dir)
}

// Default loads the model embedded in the binary (classifier/model).
func Default() (*Classifier, error) {
	txt, err := fs.ReadFile(embedded, "model/"+lgbm.ModelFile)
	if err != nil {
		return nil, ErrNoModel
	}
	js, err := fs.ReadFile(embedded, "model/"+lgbm.MetaFile)
	if err != nil {
		return nil, ErrNoModel
	}
	m, err := lgbm.LoadBytes("embedded:"+lgbm.ModelFile, txt, js)
	if err != nil {
		return nil, err
	}
	return newClassifier(m, "embedded")
}

func newClassifier(m *lgbm.Model, source string) (*Classifier, error) {
	if err := m.CheckSchema(features.NameList(), features.SchemaVersion); err != nil {
		return nil, err
	}
	meta := m.Meta()
	if meta == nil {
		return nil, fmt.Errorf("classifier: %s: model has no model.json contract", source)
	}
	if len(meta.ClassNames) != int(NumClasses) {
		return nil, fmt.Errorf("classifier: %s: model has classes %v, this binary wants %v", source, meta.ClassNames, ClassNames)
	}
	for i, n := range meta.ClassNames {
		if n != ClassNames[i] {
			return nil, fmt.Errorf("classifier: %s: class %d is %q, this binary wants %q", source, i, n, ClassNames[i])
		}
	}
	c := &Classifier{model: m, source: source}
	for i := range c.thresholds {
		c.thresholds[i] = 0.5
		if t, ok := meta.Thresholds[ClassNames[i]]; ok {
			c.thresholds[i] = t
		}
	}
	return c, nil
}

// Source says where the model came from ("embedded" or its directory).
func (c *Classifier) Source() string {
	if c.source == "embedded" {
		return c.source
	}
	return filepath.Clean(c.source)
}

// Model is the underlying LightGBM model.
func (c *Classifier) Model() *lgbm.Model { return c.model }

// Threshold is the probability a class needs to raise an alert.
func (c *Classifier) Threshold(k Class) float64 { return c.thresholds[k] }

// SetThreshold overrides a class threshold (from configuration).
func (c *Classifier) SetThreshold(k Class, t float64) { c.thresholds[k] = t }

// Verdict is the model's answer for one vector.
type Verdict struct {
	Proba [NumClasses]float64
	// Class is the most probable non-benign class whose probability
	// passes its threshold, or Benign.
	Class Class
	// Weak is the most probable non-benign class when it is the most
	// probable class overall but below its threshold (else Benign): weak
	// evidence, which opens an alert only when many peers agree.
	Weak Class
}

// Confidence is the probability of the verdict's class.
func (v *Verdict) Confidence() float64 { return v.Proba[v.Class] }

// Flagged is the class an alert is about: Class, or Weak when Class is
// Benign and weak evidence counts for that class (Benign otherwise).
func (v *Verdict) Flagged() Class {
	if v.Class != Benign {
		return v.Class
	}
	if v.Weak.weakOpens() {
		return v.Weak
	}
	return Benign
}

// Classify scores one feature vector.
func (c *Classifier) Classify(x []float64) (Verdict, error) {
	var v Verdict
	if err := c.model.PredictProba(x, v.Proba[:]); err != nil {
		return v, err
	}
	c.decide(&v)
	return v, nil
}

// decide sets v's Class and Weak from its probabilities and the
// thresholds.
func (c *Classifier) decide(v *Verdict) {
	best := Benign
	for k := OriginHijack; k < NumClasses; k++ {
		if v.Proba[k] >= c.thresholds[k] && (best == Benign || v.Proba[k] > v.Proba[best]) {
			best = k
		}
	}
	v.Class = best
	if best == Benign {
		top := Benign
		for k := OriginHijack; k < NumClasses; k++ {
			if v.Proba[k] > v.Proba[top] {
				top = k
			}
		}
		v.Weak = top
	}
}

// Reasons are the top n features by contribution to class k's raw score
// for x (positive contributions first).
func (c *Classifier) Reasons(x []float64, k Class, n int) ([]*pb.Reason, error) {
	contrib := make([]float64, c.model.NFeatures()+1)
	if err := c.model.Contributions(x, int(k), contrib); err != nil {
		return nil, err
	}
	idx := make([]int, c.model.NFeatures())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return contrib[idx[a]] > contrib[idx[b]] })
	var out []*pb.Reason
	for _, i := range idx {
		if len(out) >= n || contrib[i] <= 0 {
			break
		}
		out = append(out, &pb.Reason{Feature: features.Names[i], Value: x[i], Contribution: contrib[i]})
	}
	return out, nil
}
