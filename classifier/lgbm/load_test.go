package lgbm

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// loadCase is a model text that Load must refuse with an error of kind,
// whose message contains every string in msg.
type loadCase struct {
	name string
	text []byte
	kind error
	msg  []string
}

func runLoadCases(t *testing.T, cases []loadCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Load("testmodel.txt", c.text)
			if err == nil {
				t.Fatalf("Load succeeded (%d features, %d trees), want %v", m.NFeatures(), m.NTrees(), c.kind)
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("error %q is not %v", err, c.kind)
			}
			var le *Error
			if !errors.As(err, &le) || le.File != "testmodel.txt" {
				t.Fatalf("error %q (%T) does not name the file", err, err)
			}
			for _, s := range append([]string{"lgbm: load testmodel.txt"}, c.msg...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestLoadMinimal(t *testing.T) {
	m, err := Load("minimal", []byte(minimalModel))
	if err != nil {
		t.Fatal(err)
	}
	out := []float64{0}
	if err := m.PredictRaw([]float64{math.NaN()}, out); err != nil || out[0] != 0.5 {
		t.Fatalf("PredictRaw = %v, %v; want 0.5", out[0], err)
	}

	m, err = Load("stump", []byte(stumpModel))
	if err != nil {
		t.Fatal(err)
	}
	// Tree 0: b <= 0.5 (NaN counts as 0) -> -1, else 1. Tree 1: category of a
	// in {1, 2, 32} -> 0.25, else 0. Sigmoid scale 2.
	for _, c := range []struct{ a, b, raw float64 }{
		{1, 0, -0.75}, {0, 0, -1}, {32, 1, 1.25}, {3, 1, 1}, {-1, math.NaN(), -1}, {math.NaN(), 0.6, 1},
	} {
		if err := m.PredictRaw([]float64{c.a, c.b}, out); err != nil || out[0] != c.raw {
			t.Errorf("PredictRaw(%v, %v) = %v, %v; want %v", c.a, c.b, out[0], err, c.raw)
		}
		if err := m.PredictProba([]float64{c.a, c.b}, out); err != nil || math.Abs(out[0]-1/(1+math.Exp(-2*c.raw))) > 1e-15 {
			t.Errorf("PredictProba(%v, %v) = %v, %v", c.a, c.b, out[0], err)
		}
	}
}

func TestLoadRefusesLinearTrees(t *testing.T) {
	linear := readFixture(t, "linear_model.txt")
	binary := readFixture(t, "binary_model.txt")
	advice := "leaves ignores the linear models in the leaves and would predict wrong; retrain with linear_tree=false"
	runLoadCases(t, []loadCase{
		{"fixture", linear, ErrLinearTree, []string{"linear trees not supported", "tree 0 has is_linear=1", advice}},
		{"fixture under v3", mustReplace(t, linear, "version=v4", "version=v3"), ErrLinearTree, []string{"is_linear=1"}},
		{"one tree of many", mustReplace(t, binary, "is_linear=0\nshrinkage=0.1\n\n\nTree=5", "is_linear=1\nshrinkage=0.1\n\n\nTree=5"),
			ErrLinearTree, []string{"tree 4 has is_linear=1"}},
		{"parameters only", mustReplace(t, binary, "[linear_tree: 0]", "[linear_tree: 1]"), ErrLinearTree, []string{"trained with linear_tree=1"}},
	})
	if _, err := Load("linear_model.txt", linear); !strings.Contains(err.Error(), "linear_model.txt:") {
		t.Errorf("error %q does not name the file and line", err)
	}
}

func TestLoadRefusesVersions(t *testing.T) {
	text := readFixture(t, "binary_model.txt")
	supported := "(supported: v2, v3, v4)"
	runLoadCases(t, []loadCase{
		{"v1", mustReplace(t, text, "version=v4", "version=v1"), ErrVersion, []string{"testmodel.txt:2:", "version=v1 " + supported}},
		{"v5", mustReplace(t, text, "version=v4", "version=v5"), ErrVersion, []string{"version=v5 " + supported}},
		{"V4", mustReplace(t, text, "version=v4", "version=V4"), ErrVersion, []string{"version=V4"}},
		{"empty", mustReplace(t, text, "version=v4", "version="), ErrVersion, []string{"version= "}},
		{"missing", mustReplace(t, text, "version=v4\n", ""), ErrVersion, []string{"no version line"}},
	})
}

func TestLoadRefusesObjectives(t *testing.T) {
	binary := readFixture(t, "binary_model.txt")
	multi := readFixture(t, "model.txt")
	obj := "objective=binary sigmoid:1"
	runLoadCases(t, []loadCase{
		{"regression", mustReplace(t, binary, obj, "objective=regression"), ErrObjective, []string{`"regression"; want multiclass or binary`}},
		{"multiclassova", mustReplace(t, binary, obj, "objective=multiclassova num_class:1 sigmoid:1"), ErrObjective, []string{"multiclassova"}},
		{"lambdarank", mustReplace(t, binary, obj, "objective=lambdarank"), ErrObjective, nil},
		{"cross_entropy", mustReplace(t, binary, obj, "objective=cross_entropy"), ErrObjective, nil},
		{"custom", mustReplace(t, binary, obj+"\n", ""), ErrObjective, []string{"no objective"}},
		{"random forest", mustReplace(t, binary, obj, obj+"\naverage_output"), ErrObjective, []string{"random forest"}},
		{"bad sigmoid", mustReplace(t, binary, obj, "objective=binary sigmoid:0"), ErrFormat, []string{"sigmoid"}},
		{"binary with 5 classes", mustReplace(t, multi, "objective=multiclass num_class:5", "objective=binary sigmoid:1"), ErrFormat, nil},
		{"num_class disagrees", mustReplace(t, multi, "objective=multiclass num_class:5", "objective=multiclass num_class:4"), ErrFormat, []string{"num_class=5"}},
	})
}

func TestLoadRefusesGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.UintN(256))
	}
	binary := readFixture(t, "binary_model.txt")
	runLoadCases(t, []loadCase{
		{"empty", nil, ErrFormat, []string{"empty model text"}},
		{"blank lines", []byte("\n\n \r\n"), ErrFormat, []string{"empty model text"}},
		{"noise", noise, ErrFormat, []string{"not a LightGBM text model"}},
		{"json dump", []byte(`{"name":"tree","version":"v4","num_class":1}`), ErrFormat, []string{"not a LightGBM text model"}},
		{"header only", []byte("tree\nversion=v4\n"), ErrFormat, []string{"no num_class"}},
		{"model.json", readFixture(t, "model.json"), ErrFormat, nil},
		{"csv", readFixture(t, "predictions.csv"), ErrFormat, nil},
		{"repeated header key", mustReplace(t, binary, "label_index=0\n", "label_index=0\nlabel_index=1\n"), ErrFormat, []string{`key "label_index" repeated`}},
		{"num_tree_per_iteration", mustReplace(t, binary, "num_tree_per_iteration=1", "num_tree_per_iteration=2"), ErrFormat, nil},
		{"feature_names short", mustReplace(t, binary, " f07\n", "\n"), ErrFormat, []string{"feature_names has 7 names, max_feature_idx=7 wants 8"}},
		{"feature_names repeated", mustReplace(t, binary, " f07\n", " f06\n"), ErrFormat, []string{`"f06" at 6 and 7`}},
		{"tree_sizes short", mustReplace(t, binary, "tree_sizes=880 ", "tree_sizes="), ErrFormat, []string{"more trees than the 11"}},
		{"tree_sizes long", mustReplace(t, binary, "tree_sizes=880 ", "tree_sizes=880 880 "), ErrFormat, []string{"want \"Tree=12\""}},
		{"tree index", mustReplace(t, binary, "Tree=3\n", "Tree=7\n"), ErrFormat, []string{`got "Tree=7", want "Tree=3"`}},
		{"no end of trees", mustReplace(t, binary, "end of trees", "end of tree"), ErrFormat, []string{`want "end of trees"`}},
	})
}

// TestLoadRefusesBadTrees mutates tree 0 of the binary fixture:
//
//	left_child=2 4 -1 -3 -2 -4
//	right_child=1 3 5 -5 -6 -7
func TestLoadRefusesBadTrees(t *testing.T) {
	text := readFixture(t, "binary_model.txt")
	tree0 := func(old, new string) []byte { return mustReplace(t, text, old, new) }
	const (
		left  = "left_child=2 4 -1 -3 -2 -4\nright_child=1 3 5 -5 -6 -7"
		split = "num_leaves=7\nnum_cat=0\nsplit_feature=1 3 3 3 3 3"
	)
	runLoadCases(t, []loadCase{
		{"leaf twice", tree0(left, "left_child=2 4 -1 -3 -2 -2\nright_child=1 3 5 -5 -6 -7"), ErrFormat, []string{"tree 0: leaf 1 is the child of two nodes"}},
		{"node twice", tree0(left, "left_child=2 4 -1 -3 -2 -4\nright_child=1 3 4 -5 -6 -7"), ErrFormat, []string{"node 4 is the child of two nodes"}},
		{"root as child", tree0(left, "left_child=2 4 -1 -3 -2 0\nright_child=1 3 5 -5 -6 -7"), ErrFormat, []string{"out of range"}},
		{"detached cycle", tree0(left, "left_child=2 -3 -1 4 3 -4\nright_child=1 -5 5 -2 -6 -7"), ErrFormat, []string{"2 of 6 nodes unreachable from the root (cycle)"}},
		{"child out of range", tree0(left, "left_child=2 4 -1 -3 -2 9\nright_child=1 3 5 -5 -6 -7"), ErrFormat, []string{"left_child 9 out of range [1, 6)"}},
		{"leaf out of range", tree0(left, "left_child=2 4 -1 -3 -2 -4\nright_child=1 3 5 -5 -6 -9"), ErrFormat, []string{"leaf 8 out of range [0, 7)"}},
		{"child too short", tree0(left, "left_child=2 4 -1 -3 -2\nright_child=1 3 5 -5 -6 -7"), ErrFormat, []string{"left_child has 5 values, want 6"}},
		{"split feature out of range", tree0(split, "num_leaves=7\nnum_cat=0\nsplit_feature=1 3 3 3 3 8"), ErrFormat, []string{"node 5 splits on feature 8, model has 8"}},
		{"num_leaves disagrees", tree0(split, "num_leaves=8\nnum_cat=0\nsplit_feature=1 3 3 3 3 3"), ErrFormat, []string{"leaf_value has 7 values, want 8"}},
		{"num_leaves huge", tree0(split, "num_leaves=2000000000\nnum_cat=0\nsplit_feature=1 3 3 3 3 3"), ErrFormat, []string{"want an integer in [1, 131072]"}},
		{"num_leaves zero", tree0(split, "num_leaves=0\nnum_cat=0\nsplit_feature=1 3 3 3 3 3"), ErrFormat, nil},
		{"missing type 3", tree0("decision_type=2 8 10", "decision_type=2 12 10"), ErrFormat, []string{"node 1: bad decision_type 12"}},
		{"categorical without categories", tree0("decision_type=2 8 10", "decision_type=3 8 10"), ErrFormat, []string{"categorical node 0"}},
		{"repeated key", tree0(split, "num_leaves=7\nnum_cat=0\nnum_cat=0\nsplit_feature=1 3 3 3 3 3"), ErrFormat, []string{`tree 0: key "num_cat" repeated`}},
		{"missing key", tree0("\nright_child=1 3 5 -5 -6 -7", ""), ErrFormat, []string{"tree 0 has no right_child"}},
		{"nan leaf", tree0("leaf_value=-0.53415270333310816", "leaf_value=nan"), ErrFormat, []string{"bad number"}},
		{"inf leaf", tree0("leaf_value=-0.53415270333310816", "leaf_value=-inf"), ErrFormat, []string{"leaf_value 0 is -Inf"}},
		{"nan threshold", tree0("threshold=1.0000000180025095e-35", "threshold=NaN"), ErrFormat, []string{"bad number"}},
		{"double space", tree0("left_child=2 4", "left_child=2  4"), ErrFormat, nil},
		// The node statistics are optional, but whole when present.
		{"leaf_count short", tree0("leaf_count=1102 346 547 255 491 147 112\n", "leaf_count=1102 346 547 255 491 147\n"), ErrFormat, []string{"tree 0: leaf_count has 6 values, want 7"}},
		{"internal_count fraction", tree0("internal_count=3000 1531", "internal_count=3000.5 1531"), ErrFormat, []string{`tree 0: internal_count: bad integer "3000.5"`}},
		{"internal_count too big", tree0("internal_count=3000 1531", "internal_count=3000000000 1531"), ErrFormat, []string{`bad integer "3000000000"`}},
		{"internal_value", tree0("internal_value=-0.39021 ", "internal_value=nan "), ErrFormat, []string{`tree 0: internal_value: bad number "nan"`}},
		{"split feature past int32", tree0(split, "num_leaves=7\nnum_cat=0\nsplit_feature=1 3 3 3 3 2147483648"), ErrFormat, []string{`bad integer "2147483648"`}},
	})
}

func TestLoadRefusesBadCategories(t *testing.T) {
	stump := []byte(stumpModel)
	const node = "threshold=0\ndecision_type=1"
	runLoadCases(t, []loadCase{
		{"category set out of range", mustReplace(t, stump, node, "threshold=1\ndecision_type=1"), ErrFormat, []string{"threshold 1 is not a category set in [0, 1)"}},
		{"fractional category set", mustReplace(t, stump, node, "threshold=0.5\ndecision_type=1"), ErrFormat, []string{"threshold 0.5"}},
		{"boundaries past the bitset", mustReplace(t, stump, "cat_boundaries=0 2", "cat_boundaries=0 3"), ErrFormat, []string{"cat_boundaries must run from 0 to 2"}},
		{"boundaries not from 0", mustReplace(t, stump, "cat_boundaries=0 2", "cat_boundaries=1 2"), ErrFormat, []string{"cat_boundaries must run from 0 to 2"}},
		{"boundaries short", mustReplace(t, stump, "cat_boundaries=0 2", "cat_boundaries=2"), ErrFormat, []string{"cat_boundaries has 1 values, want 2"}},
		{"empty bitset", mustReplace(t, stump, "cat_threshold=6 1", "cat_threshold=0 0"), ErrFormat, []string{"categorical node 0 has no categories"}},
		{"no cat_threshold", mustReplace(t, stump, "cat_threshold=6 1\n", ""), ErrFormat, []string{"tree 1 has no cat_threshold"}},
		{"num_cat too big", mustReplace(t, stump, "num_cat=1", "num_cat=2"), ErrFormat, []string{"num_cat=\"2\": want an integer in [0, 1]"}},
	})
}

// TestLoadTruncated cuts model files at many points: Load never panics, and
// succeeds exactly when all of the trees and the "end of trees" line remain.
// (A cut in the header fails with the kind of what is missing: ErrVersion
// without a version line, ErrObjective without an objective.)
func TestLoadTruncated(t *testing.T) {
	for _, c := range []struct {
		file      string
		dense     int // cut at every byte of the first dense bytes (header, first trees)
		nCuts     int // evenly spaced cuts over the whole text
		treeEvery int // cuts around every treeEvery-th tree boundary
	}{
		{"binary_model.txt", 3000, 2000, 1},
		{"model.txt", 0, 150, 10},
	} {
		t.Run(c.file, func(t *testing.T) {
			text := readFixture(t, c.file)
			complete := bytes.Index(text, []byte("end of trees")) + len("end of trees")
			cuts := []int{complete - 1, complete, complete + 1, len(text)}
			for n := range min(c.dense, len(text)) {
				cuts = append(cuts, n)
			}
			step := max(1, len(text)/c.nCuts)
			for n := 0; n < len(text); n += step {
				cuts = append(cuts, n)
			}
			// Around tree boundaries: at the newline and just after it.
			for i, tree := 0, 0; ; tree++ {
				j := bytes.Index(text[i+1:], []byte("\nTree="))
				if j < 0 {
					break
				}
				i += 1 + j
				if tree%c.treeEvery == 0 {
					cuts = append(cuts, i, i+1)
				}
			}
			for _, n := range cuts {
				_, err := Load(c.file, text[:n])
				if n < complete && err == nil {
					t.Fatalf("Load of the first %d of %d bytes succeeded", n, len(text))
				}
				if n >= complete && err != nil {
					t.Fatalf("Load of the first %d bytes (trees complete): %v", n, err)
				}
				var le *Error
				if err != nil && !errors.As(err, &le) {
					t.Fatalf("cut at %d: %v is a %T, want *Error", n, err, err)
				}
			}
		})
	}
}

func TestPredictLengths(t *testing.T) {
	m, err := Load("model.txt", readFixture(t, "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 5)
	for _, n := range []int{0, 1, 29, 31, 300} {
		err := m.PredictRaw(make([]float64, n), out)
		if !errors.Is(err, ErrFeatureCount) {
			t.Errorf("PredictRaw with %d features: %v, want ErrFeatureCount", n, err)
		}
		if err2 := m.PredictProba(make([]float64, n), out); !errors.Is(err2, ErrFeatureCount) {
			t.Errorf("PredictProba with %d features: %v, want ErrFeatureCount", n, err2)
		}
		if n == 29 && err.Error() != "lgbm: predict model.txt: wrong number of features: got 29, model wants 30" {
			t.Errorf("message %q", err)
		}
	}
	if err := m.PredictRaw(nil, out); !errors.Is(err, ErrFeatureCount) {
		t.Errorf("PredictRaw(nil): %v", err)
	}
	for _, n := range []int{0, 1, 4, 6} {
		if err := m.PredictRaw(make([]float64, 30), make([]float64, n)); !errors.Is(err, ErrOutputSize) {
			t.Errorf("PredictRaw into %d outputs: %v, want ErrOutputSize", n, err)
		}
	}
}

func TestPredictDoesNotAllocate(t *testing.T) {
	m, err := Load("model.txt", readFixture(t, "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, m.NFeatures())
	out := make([]float64, m.NClasses())
	if n := testing.AllocsPerRun(100, func() { _ = m.PredictRaw(x, out) }); n != 0 {
		t.Errorf("PredictRaw allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.PredictProba(x, out) }); n != 0 {
		t.Errorf("PredictProba allocates %v times", n)
	}
}

func TestPredictConcurrent(t *testing.T) {
	m, err := Load("model.txt", readFixture(t, "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readCSV(t, "predictions.csv")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]float64, 5)
			for i := g; i < len(rows); i += 4 {
				if err := m.PredictRaw(rows[i][:30], out); err != nil {
					t.Error(err)
					return
				}
				for k := range out {
					if out[k] != rows[i][30+k] {
						t.Errorf("row %d class %d: %v, want %v", i, k, out[k], rows[i][30+k])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestFeatureNamesIsACopy(t *testing.T) {
	m, err := Load("model.txt", readFixture(t, "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	names := m.FeatureNames()
	names[0] = "changed"
	if m.FeatureNames()[0] != "f00" {
		t.Fatal("FeatureNames exposes the model's slice")
	}
}
