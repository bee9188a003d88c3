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
