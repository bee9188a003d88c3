package lgbm

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// Tolerances against LightGBM's own predictions. Raw scores are sums of the
// same leaf values in the same order, so they agree exactly in practice;
// probabilities go through exp, whose last bit may differ between libm and Go.
const (
	rawTolerance  = 1e-9
	probTolerance = 1e-12
)

func closeEnough(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

// checkParity compares m with LightGBM on every row of a fixture CSV whose
// columns are the features, then rawCols raw scores, then (checked when
// withProb) as many probabilities.
func checkParity(t *testing.T, m *Model, csvName string, rawCols []string, withProb bool) {
	t.Helper()
	header, rows := readCSV(t, csvName)
	nf, nc := m.NFeatures(), m.NClasses()
	want := append(m.FeatureNames(), rawCols...)
	if withProb {
		for _, c := range rawCols {
			want = append(want, "prob"+c[len("raw"):])
		}
	}
	if len(header) < len(want) || !slices.Equal(header[:len(want)], want) {
		t.Fatalf("%s header\n got %v\nwant %v\n%s", csvName, header, want, regenerate)
	}
	raw := make([]float64, nc)
	prob := make([]float64, nc)
	var maxRaw, maxProb float64
	exact := 0
	for i, row := range rows {
		x := row[:nf]
		if err := m.PredictRaw(x, raw); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		rowExact := true
		for k := range nc {
			py := row[nf+k]
			if !closeEnough(raw[k], py, rawTolerance) {
				t.Errorf("row %d class %d: raw score go %.17g, python %.17g (diff %g)", i, k, raw[k], py, raw[k]-py)
			}
			maxRaw = max(maxRaw, math.Abs(raw[k]-py))
			rowExact = rowExact && raw[k] == py
		}
		if rowExact {
			exact++
		}
		if !withProb {
			continue
		}
		if err := m.PredictProba(x, prob); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		for k := range nc {
			py := row[nf+nc+k]
			if !closeEnough(prob[k], py, probTolerance) {
				t.Errorf("row %d class %d: probability go %.17g, python %.17g", i, k, prob[k], py)
			}
			maxProb = max(maxProb, math.Abs(prob[k]-py))
		}
	}
	t.Logf("%s: %d rows, %d with bit-identical raw scores, max |raw diff| %g, max |prob diff| %g",
		csvName, len(rows), exact, maxRaw, maxProb)
}

func TestParityMulticlass(t *testing.T) {
	m, err := LoadDir(fixtureDir)
	if err != nil {
		t.Fatalf("%v; %s", err, regenerate)
	}
	if m.NClasses() != 5 || m.NFeatures() != 30 || m.NTrees() < 100 || m.Version() != "v4" {
		t.Fatalf("fixture model: %d classes, %d features, %d trees, version %s; want 5, 30, >= 100, v4",
			m.NClasses(), m.NFeatures(), m.NTrees(), m.Version())
	}
	_, rows := readCSV(t, "predictions.csv")
	if len(rows) < 1000 {
		t.Fatalf("predictions.csv has %d rows, want >= 1000; %s", len(rows), regenerate)
	}
	var rawCols []string
	for _, c := range m.Meta().ClassNames {
		rawCols = append(rawCols, "raw_"+c)
	}
	checkParity(t, m, "predictions.csv", rawCols, true)
}

func TestParityBinary(t *testing.T) {
	m, err := Load("binary_model.txt", readFixture(t, "binary_model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Objective() != "binary" || m.NClasses() != 1 {
		t.Fatalf("objective %s with %d outputs, want binary with 1", m.Objective(), m.NClasses())
	}
	checkParity(t, m, "binary_predictions.csv", []string{"raw"}, true)
}

// TestParityHeaderVariants proves the v4 handling: the same trees under a
// v2, v3 or v4 header, with a trailing parser section (LightGBM 4 writes one
// when trained with a parser config) or with CRLF line ends, predict exactly
// what LightGBM predicted.
func TestParityHeaderVariants(t *testing.T) {
	text := readFixture(t, "model.txt")
	parser := "\nparser:\n{\"className\": \"x\", \"a=b\": \"[linear_tree: 0]\"}\nend of parser\n\npandas_categorical:null"
	variants := []struct {
		name    string
		text    []byte
		version string
	}{
		{"v4", text, "v4"},
		{"v3", mustReplace(t, text, "\nversion=v4\n", "\nversion=v3\n"), "v3"},
		{"v2", mustReplace(t, text, "\nversion=v4\n", "\nversion=v2\n"), "v2"},
		{"v4 with parser section", mustReplace(t, text, "\npandas_categorical:null", parser), "v4"},
		{"crlf", bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n")), "v4"},
		{"no trailing sections", text[:bytes.Index(text, []byte("end of trees"))+len("end of trees")], "v4"},
	}
	var rawCols []string
	for _, c := range []string{"benign", "origin_hijack", "subprefix_hijack", "path_hijack", "route_leak"} {
		rawCols = append(rawCols, "raw_"+c)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			m, err := Load(v.name, v.text)
			if err != nil {
				t.Fatal(err)
			}
			if m.Version() != v.version {
				t.Errorf("Version() = %s, want %s", m.Version(), v.version)
			}
			checkParity(t, m, "predictions.csv", rawCols, false)
		})
	}
}
