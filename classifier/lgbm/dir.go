package lgbm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Names of the two files of a model directory, as training writes them.
const (
	ModelFile = "model.txt"
	MetaFile  = "model.json"
)

// Meta is model.json, the contract training writes beside model.txt.
type Meta struct {
	FeatureNames  []string `json:"feature_names"`
	SchemaVersion int      `json:"schema_version"`
	ClassNames    []string `json:"class_names"`
	// Thresholds holds a probability threshold per class name; classes
	// without one (benign, usually) are absent.
	Thresholds      map[string]float64 `json:"thresholds"`
	Metrics         map[string]float64 `json:"metrics"`
	DataFingerprint string             `json:"data_fingerprint"`
	LightGBMVersion string             `json:"lightgbm_version"`
	// ModelSHA256 is the hex sha256 of model.txt; when set, LoadDir checks it.
	ModelSHA256 string `json:"model_sha256,omitempty"`
}

// LoadDir loads dir/model.txt (see Load) with its contract dir/model.json;
// see LoadBytes for the checks.
func LoadDir(dir string) (*Model, error) {
	txtPath := filepath.Join(dir, ModelFile)
	jsonPath := filepath.Join(dir, MetaFile)
	text, err := os.ReadFile(txtPath)
	if err != nil {
		return nil, fmt.Errorf("lgbm: load: %w", err)
	}
	js, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, fmt.Errorf("lgbm: load: %w", err)
	}
	return LoadBytes(txtPath, text, js)
}

// LoadBytes loads a model from the contents of model.txt (see Load) and of
// its contract model.json, as LoadDir does from a directory, so that a
// binary can embed its default model:
//
//	//go:embed model/model.txt
//	var modelTxt []byte
//	//go:embed model/model.json
//	var modelJSON []byte
//
//	m, err := lgbm.LoadBytes("embedded:model.txt", modelTxt, modelJSON)
//
// It checks that the two agree: the same feature names, one class name per
// score (two for a binary model), thresholds only for known classes and in
// [0, 1], and the sha256 of modelTxt when model.json records it.
//
// name names modelTxt in errors and File(), as for Load. Errors in
// metaJSON name it after name with its final "model.txt" replaced by
// "model.json" ("dir/model.json" for "dir/model.txt"), or as
// "name (model.json)" when name does not end in "model.txt". LoadBytes
// keeps no reference to modelTxt or metaJSON.
func LoadBytes(name string, modelTxt, metaJSON []byte) (*Model, error) {
	m, err := Load(name, modelTxt)
	if err != nil {
		return nil, err
	}
	metaName := name + " (" + MetaFile + ")"
	if base, ok := strings.CutSuffix(name, ModelFile); ok {
		metaName = base + MetaFile
	}
	meta, err := decodeMeta(metaJSON)
	if err == nil {
		err = checkMeta(meta, m, modelTxt)
	}
	if err != nil {
		return nil, &Error{Op: "load", File: metaName, Kind: ErrMeta, Detail: err.Error()}
	}
	m.meta, m.metaFile = meta, metaName
	return m, nil
}

func decodeMeta(js []byte) (*Meta, error) {
	var meta Meta
	dec := json.NewDecoder(bytes.NewReader(js))
	if err := dec.Decode(&meta); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return &meta, nil
}

func checkMeta(meta *Meta, m *Model, text []byte) error {
	switch {
	case meta.SchemaVersion < 1:
		return fmt.Errorf("schema_version %d, want >= 1", meta.SchemaVersion)
	case meta.LightGBMVersion == "":
		return fmt.Errorf("no lightgbm_version")
	case meta.DataFingerprint == "":
		return fmt.Errorf("no data_fingerprint")
	}
	if meta.ModelSHA256 != "" {
		sum := sha256.Sum256(text)
		if got := hex.EncodeToString(sum[:]); got != meta.ModelSHA256 {
			return fmt.Errorf("model_sha256 %s, but %s has sha256 %s: model.json was written for another model", meta.ModelSHA256, ModelFile, got)
		}
	}
	var d SchemaError
	if diffNames(m.featureNames, meta.FeatureNames, &d) {
		return fmt.Errorf("feature_names differ from %s (model: %s, want: %s): %s", ModelFile, ModelFile, MetaFile, d.detail())
	}
	wantClasses := m.nClasses
	if m.objective == "binary" {
		wantClasses = 2
	}
	if len(meta.ClassNames) != wantClasses {
		return fmt.Errorf("%d class_names, the %s model has %d classes", len(meta.ClassNames), m.objective, wantClasses)
	}
	for i, c := range meta.ClassNames {
		if c == "" || slices.Index(meta.ClassNames, c) != i {
			return fmt.Errorf("class_names: %q empty or repeated", c)
		}
	}
	for c, t := range meta.Thresholds {
		if !slices.Contains(meta.ClassNames, c) {
			return fmt.Errorf("thresholds: unknown class %q", c)
		}
		if !(t >= 0 && t <= 1) || math.IsNaN(t) {
			return fmt.Errorf("thresholds: %q is %v, want a probability in [0, 1]", c, t)
		}
	}
	return nil
}

// CheckSchema compares the model's feature names and schema version (from
// model.json) with those the caller's featurizer produces. On a difference
// it returns a *SchemaError (wrapping ErrSchema) that says which version,
// the first index where the names differ, and the names missing from or
// extra in the model. A model loaded without model.json has no schema
// version and always fails the check.
func (m *Model) CheckSchema(wantNames []string, wantVersion int) error {
	e := &SchemaError{File: m.metaFile, WantVersion: wantVersion}
	bad := diffNames(m.featureNames, wantNames, e)
	if m.meta == nil {
		e.File = m.file
		e.NoVersion = true
		bad = true
	} else {
		e.ModelVersion = m.meta.SchemaVersion
		bad = bad || e.ModelVersion != wantVersion
	}
	if bad {
		return e
	}
	return nil
}
