package lgbm

import (
	"errors"
	"math"
	"testing"
)

// FuzzLoad feeds the loader mutations of the fixture models. Load must
// return a model or an *Error and never panic; a model it returns must
// predict and give contributions (or ErrNoContributions) without panicking. A panic inside leaves that the loader recovered
// also fails: it means the validation let through text leaves cannot read.
//
//	go test ./classifier/lgbm -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"model.txt", "binary_model.txt", "linear_model.txt"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(minimalModel))
	f.Add([]byte(stumpModel))
	f.Add([]byte(countsModel))
	f.Add([]byte("tree\nversion=v4\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, text []byte) {
		m, err := Load("fuzz", text)
		if err != nil {
			if errors.Is(err, errLeavesPanic) {
				t.Fatalf("validated text panics leaves: %v", err)
			}
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error %v is a %T, want *Error", err, err)
			}
			return
		}
		if m.NFeatures() < 1 || m.NClasses() < 1 || len(m.FeatureNames()) != m.NFeatures() {
			t.Fatalf("model with %d features (%d names), %d classes", m.NFeatures(), len(m.FeatureNames()), m.NClasses())
		}
		x := make([]float64, m.NFeatures())
		out := make([]float64, m.NClasses())
		contrib := make([]float64, m.NFeatures()+1)
		for _, v := range []float64{0, math.NaN(), -1e300, 1e300, 1, 33} {
			for i := range x {
				x[i] = v
			}
			if err := m.PredictRaw(x, out); err != nil {
				t.Fatalf("PredictRaw: %v", err)
			}
			if err := m.PredictProba(x, out); err != nil {
				t.Fatalf("PredictProba: %v", err)
			}
			for k := range m.NClasses() {
				if err := m.Contributions(x, k, contrib); err != nil && !errors.Is(err, ErrNoContributions) {
					t.Fatalf("Contributions: %v", err)
				}
			}
		}
	})
}
