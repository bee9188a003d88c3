package lgbm

// These tests pin the leaves behaviours the loader works around, on the
// exact leaves version in go.mod. When one fails after a leaves upgrade, the
// workaround it justifies can be revisited.

import (
	"bufio"
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/dmitryikh/leaves"
)

func leavesFromText(text []byte) (*leaves.Ensemble, error) {
	return leaves.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(text)), false)
}

func TestLeavesRefusesV4Header(t *testing.T) {
	text := readFixture(t, "model.txt")
	if _, err := leavesFromText(text); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("leaves read a version=v4 model: %v", err)
	}
	// With only the version line changed, leaves reads the LightGBM 4 text
	// and agrees with our loader on every parity row: v4 adds nothing to
	// the header and trees that leaves reads.
	ens, err := leavesFromText(mustReplace(t, text, "\nversion=v4\n", "\nversion=v3\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load("model.txt", text)
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readCSV(t, "predictions.csv")
	got, want := make([]float64, 5), make([]float64, 5)
	for i, row := range rows {
		if err := ens.Predict(row[:30], 0, got); err != nil {
			t.Fatal(err)
		}
		if err := m.PredictRaw(row[:30], want); err != nil {
			t.Fatal(err)
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("row %d: leaves on the v3-relabelled text %v, loader %v", i, got, want)
			}
		}
	}
}

func TestLeavesIgnoresLinearTrees(t *testing.T) {
	text := mustReplace(t, readFixture(t, "linear_model.txt"), "\nversion=v4\n", "\nversion=v3\n")
	ens, err := leavesFromText(text)
	if err != nil {
		t.Fatalf("leaves refuses linear trees now (%v): the ErrLinearTree check may be revisited", err)
	}
	_, rows := readCSV(t, "linear_predictions.csv")
	worst := 0.0
	for _, row := range rows {
		worst = max(worst, math.Abs(ens.PredictSingle(row[:4], 0)-row[4]))
	}
	if worst < 1e-3 {
		t.Fatalf("leaves predicts the linear model within %g of LightGBM: the ErrLinearTree check may be revisited", worst)
	}
	t.Logf("leaves is off by up to %.3g on the linear model", worst)
}

func TestLeavesShortVector(t *testing.T) {
	text := mustReplace(t, readFixture(t, "binary_model.txt"), "\nversion=v4\n", "\nversion=v3\n")
	ens, err := leavesFromText(text)
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readCSV(t, "binary_predictions.csv")
	x := rows[0][:8]
	if got := ens.PredictSingle(x, 0); got == 0 || got != rows[0][8] {
		t.Fatalf("PredictSingle(8 features) = %v, want %v", got, rows[0][8])
	}
	if got := ens.PredictSingle(x[:7], 0); got != 0 {
		t.Fatalf("PredictSingle(7 features) = %v; leaves now fails loudly?", got)
	}
	out := []float64{0}
	if err := ens.Predict(append(x, 1, 2, 3), 0, out); err != nil {
		t.Fatalf("leaves refuses a long vector now: %v", err)
	}
}

func TestLeavesPanicsOnBadTree(t *testing.T) {
	text := mustReplace(t, readFixture(t, "binary_model.txt"), "\nversion=v4\n", "\nversion=v3\n")
	text = mustReplace(t, text, "left_child=2 4 -1 -3 -2 -4", "left_child=2 4 -1 -3 -2 9")
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		_, _ = leavesFromText(text)
		return false
	}()
	if !panicked {
		t.Fatal("leaves no longer panics on a child index out of range")
	}
	if _, err := Load("bad", text); err == nil {
		t.Fatal("Load accepted a child index out of range")
	}
}

// TestLeavesZeroThreshold pins a difference between leaves and LightGBM on
// values within float32(1e-35) of zero, which matters only at nodes whose
// missing type is Zero (zero_as_missing, or no NaN in training with
// zero-heavy features; the parity fixtures have none). LightGBM's dense
// input drops |v| <= kZeroThreshold = float64(float32(1e-35)), so these
// values are zero and missing, while leaves treats (-1e-35, 1e-35] as zero:
// 1.000000005e-35 and -1e-35 are not zero for leaves. Contributions follows
// LightGBM, so in this sliver its sum differs from PredictRaw. (The lgb
// column is LightGBM 4.7.0's raw score and pred_contrib sum for this model,
// given label_index and feature_infos, which LightGBM requires.)
func TestLeavesZeroThreshold(t *testing.T) {
	// Tree 0 sends b right when b > -1 unless b is zero (missing, default
	// left); tree 1 adds 0 for a = 0.
	text := mustReplace(t, []byte(countsModel), "threshold=0.5\n", "threshold=-1\n")
	m, err := Load("zero", text)
	if err != nil {
		t.Fatal(err)
	}
	raw := []float64{0}
	contrib := make([]float64, 3)
	for _, c := range []struct {
		b           float64
		leaves, lgb float64
	}{
		{0, -1, -1},
		{1e-35, -1, -1},
		{1.000000005e-35, 1, -1},
		{-1e-35, 1, -1},
		{zeroThreshold, 1, -1},
		{-zeroThreshold, 1, -1},
		{1.00000002e-35, 1, 1},
		{-1.00000002e-35, 1, 1},
	} {
		x := []float64{0, c.b}
		if err := m.PredictRaw(x, raw); err != nil {
			t.Fatal(err)
		}
		if err := m.Contributions(x, 0, contrib); err != nil {
			t.Fatal(err)
		}
		if raw[0] != c.leaves || sum(contrib) != c.lgb {
			t.Errorf("b = %.17g: leaves %v (pinned %v), contributions sum %v (LightGBM %v)", c.b, raw[0], c.leaves, sum(contrib), c.lgb)
		}
	}
}
