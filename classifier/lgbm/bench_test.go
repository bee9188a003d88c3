package lgbm

import "testing"

// sink keeps benchmark results alive.
var sink float64

func BenchmarkPredictRaw(b *testing.B) {
	for _, c := range []struct{ name, model, rows string }{
		{"multiclass-5x40trees-30features", "model.txt", "predictions.csv"},
		{"binary-12trees-8features", "binary_model.txt", "binary_predictions.csv"},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, err := Load(c.model, readFixture(b, c.model))
			if err != nil {
				b.Fatal(err)
			}
			_, rows := readCSV(b, c.rows)
			out := make([]float64, m.NClasses())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := m.PredictRaw(rows[i%len(rows)][:m.NFeatures()], out); err != nil {
					b.Fatal(err)
				}
				i++
			}
			sink += out[0]
		})
	}
}

func BenchmarkPredictProba(b *testing.B) {
	m, err := Load("model.txt", readFixture(b, "model.txt"))
	if err != nil {
		b.Fatal(err)
	}
	_, rows := readCSV(b, "predictions.csv")
	out := make([]float64, m.NClasses())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.PredictProba(rows[i%len(rows)][:m.NFeatures()], out); err != nil {
			b.Fatal(err)
		}
		i++
	}
	sink += out[0]
}

func BenchmarkLoad(b *testing.B) {
	text := readFixture(b, "model.txt")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Load("model.txt", text)
		if err != nil {
			b.Fatal(err)
		}
		sink += float64(m.NTrees())
	}
}

// BenchmarkContributions times one call (one row, one class) and, for the
// multiclass model, the five calls that explain every class of a row, to
// compare with one PredictRaw (which scores all classes at once).
func BenchmarkContributions(b *testing.B) {
	for _, c := range []struct {
		name, model, rows string
		allClasses        bool
	}{
		{"multiclass-5x40trees-30features/one-class", "model.txt", "predictions.csv", false},
		{"multiclass-5x40trees-30features/all-5-classes", "model.txt", "predictions.csv", true},
		{"binary-12trees-8features", "binary_model.txt", "binary_predictions.csv", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, err := Load(c.model, readFixture(b, c.model))
			if err != nil {
				b.Fatal(err)
			}
			_, rows := readCSV(b, c.rows)
			out := make([]float64, m.NFeatures()+1)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				x := rows[i%len(rows)][:m.NFeatures()]
				if c.allClasses {
					for k := range m.NClasses() {
						if err := m.Contributions(x, k, out); err != nil {
							b.Fatal(err)
						}
					}
				} else if err := m.Contributions(x, i%m.NClasses(), out); err != nil {
					b.Fatal(err)
				}
				i++
			}
			sink += out[0]
		})
	}
}
