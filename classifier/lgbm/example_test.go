package lgbm_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/bgpsentry/bgpsentry/classifier/lgbm"
)

func ExampleLoadDir() {
	m, err := lgbm.LoadDir("../../testdata/model/parity")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Objective(), m.NClasses(), "classes,", m.NFeatures(), "features,", m.NTrees(), "trees")

	// The featurizer of this build produces schema version 2: refuse.
	if err := m.CheckSchema(m.FeatureNames(), 2); err != nil {
		fmt.Println(err)
	}

	x := make([]float64, m.NFeatures())
	for i := range x {
		x[i] = math.NaN() // all missing
	}
	p := make([]float64, m.NClasses())
	if err := m.PredictProba(x, p); err != nil {
		fmt.Println(err)
	}
	sum := 0.0
	for _, v := range p {
		sum += v
	}
	fmt.Printf("probabilities sum to %.6f\n", sum)

	// A vector of the wrong length is an error, not a silent 0.
	fmt.Println(m.PredictRaw(x[:29], p))
	// Output:
	// multiclass 5 classes, 30 features, 200 trees
	// lgbm: check schema ../../testdata/model/parity/model.json: feature schema mismatch: schema version 1, want 2
	// probabilities sum to 1.000000
	// lgbm: predict ../../testdata/model/parity/model.txt: wrong number of features: got 29, model wants 30
}

// A binary embeds its default model with go:embed and loads it with
// LoadBytes; here the bytes come from the parity fixture.
func ExampleLoadBytes() {
	dir := "../../testdata/model/parity"
	txt, err := os.ReadFile(filepath.Join(dir, lgbm.ModelFile))
	if err != nil {
		fmt.Println(err)
		return
	}
	js, err := os.ReadFile(filepath.Join(dir, lgbm.MetaFile))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := lgbm.LoadBytes("embedded:model.txt", txt, js)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.File(), m.Meta().ClassNames)
	fmt.Println(m.CheckSchema(m.FeatureNames(), 2))
	// Output:
	// embedded:model.txt [benign origin_hijack subprefix_hijack path_hijack route_leak]
	// lgbm: check schema embedded:model.json: feature schema mismatch: schema version 1, want 2
}

// Contributions explains a score: what each feature added to the raw score
// of a class, and the expected value, which sum to the raw score.
func ExampleModel_Contributions() {
	m, err := lgbm.LoadDir("../../testdata/model/parity")
	if err != nil {
		fmt.Println(err)
		return
	}
	x := make([]float64, m.NFeatures())
	for i := range x {
		x[i] = float64(i % 3)
	}
	raw := make([]float64, m.NClasses())
	if err := m.PredictRaw(x, raw); err != nil {
		fmt.Println(err)
		return
	}
	const class = 4 // route_leak
	contrib := make([]float64, m.NFeatures()+1)
	if err := m.Contributions(x, class, contrib); err != nil {
		fmt.Println(err)
		return
	}
	top, sum := 0, 0.0
	for i, c := range contrib {
		sum += c
		if i < m.NFeatures() && math.Abs(c) > math.Abs(contrib[top]) {
			top = i
		}
	}
	fmt.Printf("raw score %.6f, expected value %.6f, sum %.6f\n", raw[class], contrib[m.NFeatures()], sum)
	fmt.Printf("largest: %s %+.6f\n", m.FeatureNames()[top], contrib[top])

	fmt.Println(m.Contributions(x, 5, contrib))
	// Output:
	// raw score -1.272391, expected value -2.571541, sum -1.272391
	// largest: f16 +0.507345
	// lgbm: contributions ../../testdata/model/parity/model.txt: class index out of range: class 5, model has 5 (0 to 4)
}
