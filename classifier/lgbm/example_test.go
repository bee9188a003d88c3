package lgbm_test

import (
	"fmt"
	"math"

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
