package lgbm

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/dmitryikh/leaves"
)

// Model is a loaded LightGBM classifier. It is immutable and safe for
// concurrent use.
type Model struct {
	file         string
	version      string
	objective    string
	sigmoid      float64
	nFeatures    int
	nClasses     int
	nTrees       int
	featureNames []string
	ens          *leaves.Ensemble // raw scores, no transformation
	meta         *Meta            // nil unless loaded by LoadDir or LoadBytes
	metaFile     string           // name of model.json, with meta

	// Contributions (contrib.go).
	classTrees [][]*tree // the trees of each class, in tree order
	shapLen    int       // TreeSHAP path elements a call needs
	contribErr string    // why the model cannot give contributions, or ""
	scratch    sync.Pool // of *shapScratch with shapLen elements
}

// Load reads a LightGBM text model (version v2, v3 or v4) with a multiclass
// or binary objective. name identifies the model in error messages (a file
// name, usually). It refuses linear trees, random forests, other objectives
// and versions, and any text whose trees are not well formed; it does not
// panic on any input.
func Load(name string, modelTxt []byte) (*Model, error) {
	p, err := parseText(modelTxt)
	if err != nil {
		fe := err.(*formatErr)
		return nil, &Error{Op: "load", File: name, Line: fe.line, Kind: fe.kind, Detail: fe.detail}
	}
	ens, err := leavesLoad(p.canonical)
	if err != nil {
		return nil, &Error{Op: "load", File: name, Kind: ErrFormat, Detail: err.Error()}
	}
	if ens.NRawOutputGroups() != p.numClass || ens.NEstimators()*p.numClass != p.nTrees {
		return nil, &Error{Op: "load", File: name, Kind: ErrFormat, Detail: fmt.Sprintf(
			"leaves read %d trees in %d groups, model has %d in %d", ens.NEstimators()*ens.NRawOutputGroups(),
			ens.NRawOutputGroups(), p.nTrees, p.numClass)}
	}
	m := &Model{
		file:         name,
		version:      p.version,
		objective:    p.objective,
		sigmoid:      p.sigmoid,
		nFeatures:    p.nFeatures,
		nClasses:     p.numClass,
		nTrees:       p.nTrees,
		featureNames: p.featureNames,
		ens:          ens,
	}
	m.prepareContributions(p.trees)
	return m, nil
}

// LoadFile reads the LightGBM text model at path; see Load.
func LoadFile(path string) (*Model, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lgbm: load: %w", err)
	}
	return Load(path, text)
}

// leavesLoad hands the canonical text to leaves. parseText checked all that
// leaves indexes, so a panic here is a loader bug; it becomes an error all
// the same.
func leavesLoad(canonical []byte) (ens *leaves.Ensemble, err error) {
	defer func() {
		if r := recover(); r != nil {
			ens, err = nil, fmt.Errorf("%w: %v", errLeavesPanic, r)
		}
	}()
	return leaves.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(canonical)), false)
}

// NFeatures is the length of the feature vector the model takes.
func (m *Model) NFeatures() int { return m.nFeatures }

// NClasses is the number of scores the model returns: num_class for a
// multiclass model, 1 for a binary one (the score of the positive class).
func (m *Model) NClasses() int { return m.nClasses }

// NTrees is the number of trees (iterations times NClasses).
func (m *Model) NTrees() int { return m.nTrees }

// FeatureNames returns the names of the features, in vector order, from the
// model text's feature_names line.
func (m *Model) FeatureNames() []string { return slices.Clone(m.featureNames) }

// Objective is "multiclass" or "binary".
func (m *Model) Objective() string { return m.objective }

// Version is the header version of the model text: "v2", "v3" or "v4".
func (m *Model) Version() string { return m.version }

// File is the name the model text was loaded under (the model.txt path for
// LoadFile and LoadDir).
func (m *Model) File() string { return m.file }

// Meta returns the model.json contract, or nil when the model was not
// loaded by LoadDir or LoadBytes. It must not be modified.
func (m *Model) Meta() *Meta { return m.meta }

// PredictRaw writes the raw scores of feature vector x into out, as
// LightGBM's predict(raw_score=True) does. x must have NFeatures() values
// (NaN means missing) and out NClasses(). It does not allocate.
func (m *Model) PredictRaw(x, out []float64) error {
	if len(x) != m.nFeatures {
		return &Error{Op: "predict", File: m.file, Kind: ErrFeatureCount,
			Detail: fmt.Sprintf("got %d, model wants %d", len(x), m.nFeatures)}
	}
	if len(out) != m.nClasses {
		return &Error{Op: "predict", File: m.file, Kind: ErrOutputSize,
			Detail: fmt.Sprintf("got %d, model has %d classes", len(out), m.nClasses)}
	}
	if err := m.ens.Predict(x, 0, out); err != nil {
		return &Error{Op: "predict", File: m.file, Kind: ErrFormat, Detail: err.Error()}
	}
	return nil
}

// PredictProba writes class probabilities into out, as LightGBM's predict()
// does: softmax over the raw scores of a multiclass model, the sigmoid of
// the raw score for a binary one (out[0] is then the positive class). The
// lengths are those of PredictRaw. It does not allocate.
func (m *Model) PredictProba(x, out []float64) error {
	if err := m.PredictRaw(x, out); err != nil {
		return err
	}
	if m.objective == "binary" {
		out[0] = 1 / (1 + math.Exp(-m.sigmoid*out[0]))
		return nil
	}
	softmax(out)
	return nil
}

// softmax is LightGBM's Common::Softmax: shift by the maximum, exponentiate,
// divide by the sum.
func softmax(v []float64) {
	max := v[0]
	for _, x := range v[1:] {
		if x > max {
			max = x
		}
	}
	sum := 0.0
	for i, x := range v {
		v[i] = math.Exp(x - max)
		sum += v[i]
	}
	for i := range v {
		v[i] /= sum
	}
}
