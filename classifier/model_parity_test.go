package classifier

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/bgpsentry/bgpsentry/classifier/lgbm"
	"github.com/bgpsentry/bgpsentry/features"
)

// TestEmbeddedModelParity: the model make train exported (embedded in the
// binary and copied to testdata/model/bgpsentry with 1,200 test rows and
// Python's raw scores) gives the same raw scores in Go within 1e-9, and
// the embedded copy is the same model. A missing fixture fails.
func TestEmbeddedModelParity(t *testing.T) {
	dir := "../testdata/model/bgpsentry"
	m, err := lgbm.LoadDir(dir)
	if err != nil {
		t.Fatalf("fixture model: %v", err)
	}
	emb, err := os.ReadFile("model/" + lgbm.ModelFile)
	if err != nil {
		t.Fatalf("embedded model: %v", err)
	}
	fix, err := os.ReadFile(dir + "/" + lgbm.ModelFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(emb) != string(fix) {
		t.Fatal("classifier/model/model.txt differs from the parity fixture's model: rerun make train")
	}
	if err := m.CheckSchema(features.NameList(), features.SchemaVersion); err != nil {
		t.Fatalf("fixture model vs this binary's features: %v", err)
	}
	xs, raws := parityFixture(t)
	raw := make([]float64, m.NClasses())
	worst := 0.0
	for n, x := range xs {
		if err := m.PredictRaw(x, raw); err != nil {
			t.Fatal(err)
		}
		for k, cname := range ClassNames {
			want := raws[n][k]
			d := math.Abs(raw[k] - want)
			worst = max(worst, d)
			if d > 1e-9 {
				t.Fatalf("row %d class %s: Go %.17g, Python %.17g", n, cname, raw[k], want)
			}
		}
	}
	if len(xs) < 1000 {
		t.Fatalf("only %d rows in the fixture, want >= 1000", len(xs))
	}
	t.Logf("%d rows x %d classes, largest difference %g", len(xs), len(ClassNames), worst)
}

// parityFixture reads the parity fixture's rows: the feature vectors (in
// this binary's feature order) and Python's raw scores (class order).
func parityFixture(t *testing.T) (xs, raws [][]float64) {
	t.Helper()
	f, err := os.Open("../testdata/model/bgpsentry/predictions.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(n int, r []string, name string) float64 {
		j, ok := col[name]
		if !ok {
			t.Fatalf("predictions.csv lacks %q", name)
		}
		v, err := strconv.ParseFloat(r[j], 64)
		if err != nil {
			t.Fatalf("row %d %s: %v", n, name, err)
		}
		return v
	}
	for n, r := range rows[1:] {
		x := make([]float64, features.NumFeatures)
		for i, name := range features.Names {
			x[i] = num(n, r, name)
		}
		raw := make([]float64, NumClasses)
		for k, cname := range ClassNames {
			raw[k] = num(n, r, "raw_"+cname)
		}
		xs, raws = append(xs, x), append(raws, raw)
	}
	return xs, raws
}
