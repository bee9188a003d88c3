package lgbm

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fixtureDir holds what training/bgpsentry_train/parity.py writes.
const fixtureDir = "../../testdata/model/parity"

const regenerate = "regenerate with: scripts/venv.sh && PYTHONPATH=training .venv/bin/python -m bgpsentry_train.parity"

// readFixture returns a fixture file. A missing fixture fails the test: the
// parity check must not pass by skipping.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("parity fixture missing: %v; %s", err, regenerate)
	}
	return b
}

// readCSV returns the header and the rows of a fixture CSV as float64
// ("nan" and "inf" included).
func readCSV(t testing.TB, name string) ([]string, [][]float64) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(readFixture(t, name))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(recs) < 2 {
		t.Fatalf("%s: %d records, want a header and rows; %s", name, len(recs), regenerate)
	}
	rows := make([][]float64, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		row := make([]float64, len(rec))
		for j, s := range rec {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: row %d column %d: %v", name, i+2, j+1, err)
			}
			row[j] = v
		}
		rows = append(rows, row)
	}
	return recs[0], rows
}

// mustReplace replaces the first old in text by new and fails when old is
// not there, so a test cannot pass on a mutation that did not happen.
func mustReplace(t testing.TB, text []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(text, []byte(old)) {
		t.Fatalf("fixture has no %q; %s", old, regenerate)
	}
	return bytes.Replace(text, []byte(old), []byte(new), 1)
}

// minimalModel is the smallest model the loader accepts: one single-leaf
// tree over one feature.
const minimalModel = `tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=0
objective=binary sigmoid:1
feature_names=a
feature_infos=none
tree_sizes=1

Tree=0
num_leaves=1
num_cat=0
split_feature=
split_gain=
threshold=
decision_type=
left_child=
right_child=
leaf_value=0.5
is_linear=0
shrinkage=1

end of trees
`

// stumpModel splits once on feature 1 of 2, with a categorical tree too.
const stumpModel = `tree
version=v3
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:2
feature_names=a b
feature_infos=none none
tree_sizes=1 1

Tree=0
num_leaves=2
num_cat=0
split_feature=1
split_gain=1
threshold=0.5
decision_type=2
left_child=-1
right_child=-2
leaf_value=-1 1
shrinkage=1

Tree=1
num_leaves=2
num_cat=1
split_feature=0
split_gain=1
threshold=0
decision_type=1
left_child=-1
right_child=-2
leaf_value=0.25 0
cat_boundaries=0 2
cat_threshold=6 1
shrinkage=1

end of trees
`
