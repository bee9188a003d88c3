package classifier

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/bgpsentry/bgpsentry/classifier/lgbm"
	"github.com/bgpsentry/bgpsentry/features"
)

// TestRefusesOtherSchema: the parity fixture model has features f00..f29,
// not this binary's; Load must refuse it and say which feature differs.
func TestRefusesOtherSchema(t *testing.T) {
	_, err := Load("../testdata/model/parity")
	if !errors.Is(err, lgbm.ErrSchema) {
		t.Fatalf("err = %v, want a schema error", err)
	}
	if !strings.Contains(err.Error(), features.Names[0]) {
		t.Errorf("error does not name the first differing feature %q: %v", features.Names[0], err)
	}
}

func TestDefaultModel(t *testing.T) {
	_, statErr := os.Stat("model/" + lgbm.ModelFile)
	c, err := Default()
	if statErr != nil {
		if !errors.Is(err, ErrNoModel) {
			t.Fatalf("no model embedded, err = %v, want ErrNoModel", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("embedded model: %v", err)
	}
	if c.Model().NFeatures() != features.NumFeatures || c.Model().NClasses() != int(NumClasses) {
		t.Fatalf("embedded model has %d features, %d classes", c.Model().NFeatures(), c.Model().NClasses())
	}
	for k := OriginHijack; k < NumClasses; k++ {
		if th := c.Threshold(k); th <= 0 || th >= 1 {
			t.Errorf("threshold of %s = %v", k, th)
		}
	}
	// Every vector gives probabilities that sum to 1, and reasons whose
	// contributions are positive.
	x := make([]float64, features.NumFeatures)
	v, err := c.Classify(x)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, p := range v.Proba {
		sum += p
	}
	if sum < 0.999999 || sum > 1.000001 {
		t.Errorf("probabilities sum to %v", sum)
	}
	rs, err := c.Reasons(x, OriginHijack, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Contribution <= 0 {
			t.Errorf("reason %v has a non-positive contribution", r)
		}
	}
	if _, err := c.Classify(x[:3]); err == nil {
		t.Error("a short vector was accepted")
	}
}
