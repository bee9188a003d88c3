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
	f, err := os.Open(dir + "/predictions.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := rows[0]
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	x := make([]float64, m.NFeatures())
	raw := make([]float64, m.NClasses())
	worst := 0.0
	for n, r := range rows[1:] {
		for i, name := range features.Names {
			j, ok := col[name]
			if !ok {
				t.Fatalf("predictions.csv lacks feature %q", name)
			}
			if x[i], err = strconv.ParseFloat(r[j], 64); err != nil {
				t.Fatalf("row %d %s: %v", n, name, err)
			}
		}
		if err := m.PredictRaw(x, raw); err != nil {
			t.Fatal(err)
		}
		for k, cname := range ClassNames {
			j, ok := col["raw_"+cname]
			if !ok {
				t.Fatalf("predictions.csv lacks raw_%s", cname)
			}
			want, _ := strconv.ParseFloat(r[j], 64)
			d := math.Abs(raw[k] - want)
			worst = max(worst, d)
			if d > 1e-9 {
				t.Fatalf("row %d class %s: Go %.17g, Python %.17g", n, cname, raw[k], want)
			}
		}
	}
	if len(rows)-1 < 1000 {
		t.Fatalf("only %d rows in the fixture, want >= 1000", len(rows)-1)
	}
	t.Logf("%d rows x %d classes, largest difference %g", len(rows)-1, len(ClassNames), worst)
}
