package lgbm

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestFastSameAsLeaves: the flattened trees give leaves' raw scores to the
// bit on the fixture models and bgpsentry's own, for the fixture rows and
// for random vectors made of the values where decisions turn: each split's
// threshold and its neighbours, zero and values within leaves' and
// LightGBM's zero thresholds, NaN and the infinities.
func TestFastSameAsLeaves(t *testing.T) {
	models := map[string][]byte{
		"model.txt":        readFixture(t, "model.txt"),
		"binary_model.txt": readFixture(t, "binary_model.txt"),
	}
	own, err := os.ReadFile(filepath.Join("..", "model", "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	models["bgpsentry"] = own
	_, rows := readCSV(t, "predictions.csv")
	for name, text := range models {
		m, err := Load(name, text)
		if err != nil {
			t.Fatal(err)
		}
		if m.fast == nil {
			t.Fatalf("%s: no fast trees", name)
		}
		special := []float64{0, math.Copysign(0, -1), 1e-36, -1e-36, 1e-35, -1e-35, float64(float32(1e-35)), math.NaN(), math.Inf(1), math.Inf(-1)}
		for _, ts := range m.classTrees {
			for _, tr := range ts {
				for _, th := range tr.threshold {
					special = append(special, th, math.Nextafter(th, math.Inf(1)), math.Nextafter(th, math.Inf(-1)))
				}
			}
		}
		r := rand.New(rand.NewPCG(1, 1))
		var xs [][]float64
		for _, row := range rows {
			if len(row) >= m.NFeatures() {
				xs = append(xs, row[:m.NFeatures()])
			}
		}
		for range 20000 {
			x := make([]float64, m.NFeatures())
			for i := range x {
				x[i] = special[r.IntN(len(special))]
			}
			xs = append(xs, x)
		}
		got, want := make([]float64, m.NClasses()), make([]float64, m.NClasses())
		for _, x := range xs {
			m.predictFast(x, got)
			if err := m.ens.Predict(x, 0, want); err != nil {
				t.Fatal(err)
			}
			for k := range got {
				if math.Float64bits(got[k]) != math.Float64bits(want[k]) {
					t.Fatalf("%s: class %d of %v: %v, leaves %v", name, k, x, got[k], want[k])
				}
			}
		}
	}
}

// BenchmarkPredictLeaves is BenchmarkPredictRaw through leaves, which
// PredictRaw used before the flattened trees.
func BenchmarkPredictLeaves(b *testing.B) {
	m, err := Load("model.txt", readFixture(b, "model.txt"))
	if err != nil {
		b.Fatal(err)
	}
	_, rows := readCSV(b, "predictions.csv")
	out := make([]float64, m.NClasses())
	i := 0
	for b.Loop() {
		if err := m.ens.Predict(rows[i%len(rows)][:m.NFeatures()], 0, out); err != nil {
			b.Fatal(err)
		}
		i++
	}
	sink += out[0]
}
