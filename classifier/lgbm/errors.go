package lgbm

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels, checked with errors.Is. Every error this package returns wraps
// one of them (file errors wrap the os error instead).
var (
	// ErrFormat: the text is not a well-formed LightGBM text model
	// (garbage, truncated, inconsistent tree structure).
	ErrFormat = errors.New("lgbm: malformed model")
	// ErrVersion: the header's version is not v2, v3 or v4.
	ErrVersion = errors.New("lgbm: unsupported model version")
	// ErrLinearTree: the model has linear trees (linear_tree=true). leaves
	// ignores the linear part of the leaves and would predict wrong.
	ErrLinearTree = errors.New("lgbm: linear trees not supported")
	// ErrObjective: the objective is not multiclass or binary, or the model
	// is a random forest (average_output).
	ErrObjective = errors.New("lgbm: unsupported objective")
	// ErrMeta: model.json is missing fields or disagrees with model.txt.
	ErrMeta = errors.New("lgbm: bad model.json")
	// ErrFeatureCount: a feature vector whose length is not NFeatures().
	ErrFeatureCount = errors.New("lgbm: wrong number of features")
	// ErrOutputSize: an output slice whose length is not NClasses() (for
	// Contributions, NFeatures()+1).
	ErrOutputSize = errors.New("lgbm: wrong output size")
	// ErrClass: a class index outside [0, NClasses()).
	ErrClass = errors.New("lgbm: class index out of range")
	// ErrNoContributions: the model predicts but cannot give feature
	// contributions: its text lacks the node counts (internal_count,
	// leaf_count) that TreeSHAP uses as cover, or a tree is too deep.
	ErrNoContributions = errors.New("lgbm: contributions not available")
	// ErrSchema: the model's feature names or schema version differ from
	// what the caller (the featurizer of this build) produces.
	ErrSchema = errors.New("lgbm: feature schema mismatch")
)

// errLeavesPanic marks a panic inside leaves that Load recovered. The loader
// validates everything leaves indexes, so this should never be seen; the
// fuzz test fails when it is.
var errLeavesPanic = errors.New("lgbm: leaves panicked")

// Error is a failure to load or use a model: an operation on a file,
// optionally at a line, of a kind (one of the sentinels, which Unwrap
// returns), with details.
//
//	lgbm: load testdata/model/parity/linear_model.txt:27: linear trees not supported: tree 0 has is_linear=1 ...
type Error struct {
	Op     string // "load", "predict", ...
	File   string // model file as given to Load, LoadFile or LoadDir
	Line   int    // 1-based line in File, 0 when the error is not tied to a line
	Kind   error  // one of the package sentinels
	Detail string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("lgbm: ")
	b.WriteString(e.Op)
	if e.File != "" {
		b.WriteString(" ")
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Kind.Error(), "lgbm: "))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

// SchemaError tells how a model's feature list or schema version differs
// from the wanted one. It unwraps to ErrSchema.
type SchemaError struct {
	File string // model.json (or model.txt when loaded without metadata)

	// NoVersion: the model was loaded without model.json, so it has no
	// schema version to compare.
	NoVersion    bool
	ModelVersion int
	WantVersion  int

	ModelCount int // number of features in the model
	WantCount  int // number of features wanted
	// Index is the first position where the names differ, -1 when the lists
	// are equal. ModelName or WantName is "" when that list ends before Index.
	Index     int
	ModelName string
	WantName  string
	Missing   []string // wanted but not in the model, in wanted order
	Extra     []string // in the model but not wanted, in model order
}

func (e *SchemaError) Error() string {
	return "lgbm: check schema " + e.File + ": feature schema mismatch: " + e.detail()
}

// detail lists the differences.
func (e *SchemaError) detail() string {
	var parts []string
	switch {
	case e.NoVersion:
		parts = append(parts, fmt.Sprintf("no schema version (model loaded without model.json), want %d", e.WantVersion))
	case e.ModelVersion != e.WantVersion:
		parts = append(parts, fmt.Sprintf("schema version %d, want %d", e.ModelVersion, e.WantVersion))
	}
	if e.ModelCount != e.WantCount {
		parts = append(parts, fmt.Sprintf("model has %d features, want %d", e.ModelCount, e.WantCount))
	}
	if e.Index >= 0 {
		parts = append(parts, fmt.Sprintf("first difference at index %d: model %s, want %s",
			e.Index, quoteOrEnd(e.ModelName), quoteOrEnd(e.WantName)))
		if len(e.Missing) == 0 && len(e.Extra) == 0 {
			parts = append(parts, "same names in another order")
		}
	}
	if len(e.Missing) > 0 {
		parts = append(parts, "missing from model: "+quoteList(e.Missing))
	}
	if len(e.Extra) > 0 {
		parts = append(parts, "extra in model: "+quoteList(e.Extra))
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns ErrSchema.
func (e *SchemaError) Unwrap() error { return ErrSchema }

func quoteOrEnd(s string) string {
	if s == "" {
		return "(end of list)"
	}
	return fmt.Sprintf("%q", s)
}

// quoteList quotes at most 10 names.
func quoteList(names []string) string {
	const max = 10
	var b strings.Builder
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " (and %d more)", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}

// diffNames compares model feature names with wanted ones. It fills the name
// fields of a SchemaError and reports whether the lists differ.
func diffNames(model, want []string, e *SchemaError) bool {
	e.ModelCount, e.WantCount = len(model), len(want)
	e.Index = -1
	for i := 0; i < len(model) || i < len(want); i++ {
		var m, w string
		if i < len(model) {
			m = model[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if i >= len(model) || i >= len(want) || m != w {
			e.Index, e.ModelName, e.WantName = i, m, w
			break
		}
	}
	if e.Index < 0 {
		return false
	}
	inModel := make(map[string]bool, len(model))
	for _, n := range model {
		inModel[n] = true
	}
	inWant := make(map[string]bool, len(want))
	for _, n := range want {
		inWant[n] = true
		if !inModel[n] {
			e.Missing = append(e.Missing, n)
		}
	}
	for _, n := range model {
		if !inWant[n] {
			e.Extra = append(e.Extra, n)
		}
	}
	return true
}
