package lgbm

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file reads the LightGBM text format strictly and writes the canonical
// text that leaves parses. leaves reads only `version=v2` and `v3`, panics or
// allocates without bound on some malformed input, ignores `is_linear=1`, and
// stops reading after the trees. So the loader checks every value leaves
// indexes (array lengths, child indices, split features, category bitsets,
// and that each tree is a tree) before leaves sees it, and hands leaves only
// the header keys and tree keys it uses, verbatim, under `version=v3`.
//
// Format as written by LightGBM (src/boosting/gbdt_model_text.cpp,
// src/io/tree.cpp): a header of key=value lines starting with "tree", then
// "Tree=i" blocks of key=value lines separated by blank lines, then
// "end of trees", feature importances, "parameters:" ... "end of parameters",
// and since v4 an optional "parser:" ... "end of parser" section. Python's
// save_model appends "pandas_categorical:...". Nothing after the trees
// affects prediction.

// supportedVersions are the header versions the loader accepts. v4 (LightGBM
// 4) differs from v3 only by the optional trailing parser section, which
// carries no prediction data.
var supportedVersions = []string{"v2", "v3", "v4"}

const (
	// maxLeaves bounds num_leaves before anything is allocated for a tree.
	// LightGBM's own limit is 131072.
	maxLeaves = 131072
	// maxShown bounds how much of an offending line an error quotes.
	maxShown = 60
)

// field is one key=value line.
type field struct {
	value string
	line  int
}

// block is the key=value lines of the header or of one tree.
type block map[string]field

// parsedModel is what the loader keeps of a model text.
type parsedModel struct {
	version      string
	numClass     int
	nFeatures    int
	objective    string // "multiclass" or "binary"
	sigmoid      float64
	featureNames []string
	nTrees       int
	trees        []*tree // in file order; tree i scores class i % numClass
	canonical    []byte  // what leaves reads
}

// formatErr is a parse failure at a line; Load turns it into an *Error.
type formatErr struct {
	kind   error
	line   int
	detail string
}

func (e *formatErr) Error() string { return e.detail }

func errAt(kind error, line int, format string, args ...any) *formatErr {
	return &formatErr{kind: kind, line: line, detail: fmt.Sprintf(format, args...)}
}

// lineReader yields trimmed lines with 1-based numbers, the way leaves sees
// them (split at '\n', surrounding white space removed).
type lineReader struct {
	lines [][]byte
	next  int
}

func newLineReader(text []byte) *lineReader {
	return &lineReader{lines: bytes.Split(text, []byte{'\n'})}
}

// peek returns the next line without consuming it; ok is false at the end.
func (r *lineReader) peek() (s string, no int, ok bool) {
	if r.next >= len(r.lines) {
		return "", 0, false
	}
	return string(bytes.TrimSpace(r.lines[r.next])), r.next + 1, true
}

func (r *lineReader) skip() { r.next++ }

// skipBlank consumes blank lines.
func (r *lineReader) skipBlank() {
	for {
		s, _, ok := r.peek()
		if !ok || s != "" {
			return
		}
		r.skip()
	}
}

func shorten(s string) string {
	if len(s) > maxShown {
		return s[:maxShown] + "..."
	}
	return s
}

// scanLinear refuses linear trees wherever they are announced: is_linear in
// a tree block or linear_tree in the parameters section.
func scanLinear(text []byte) error {
	r := newLineReader(text)
	tree := -1
	for {
		s, no, ok := r.peek()
		if !ok {
			return nil
		}
		r.skip()
		switch {
		case strings.HasPrefix(s, "Tree="):
			if n, err := strconv.Atoi(s[len("Tree="):]); err == nil {
				tree = n
			}
		case strings.HasPrefix(s, "is_linear="):
			if v := s[len("is_linear="):]; v != "0" {
				return errAt(ErrLinearTree, no,
					"tree %d has is_linear=%s; leaves ignores the linear models in the leaves and would predict wrong; retrain with linear_tree=false",
					tree, shorten(v))
			}
		case strings.HasPrefix(s, "[linear_tree:"):
			if v := strings.TrimSpace(strings.TrimSuffix(s[len("[linear_tree:"):], "]")); v != "0" && v != "" && v != "false" {
				return errAt(ErrLinearTree, no,
					"trained with linear_tree=%s; leaves ignores the linear models in the leaves and would predict wrong; retrain with linear_tree=false",
					shorten(v))
			}
		}
	}
}

// readBlock reads key=value lines until a blank line, a "Tree=" line, the
// "end of trees" line or the end. A repeated key is an error.
func readBlock(r *lineReader, what string) (block, error) {
	b := block{}
	for {
		s, no, ok := r.peek()
		if !ok || s == "" || s == "end of trees" || (len(b) > 0 && strings.HasPrefix(s, "Tree=")) {
			return b, nil
		}
		r.skip()
		key, value, _ := strings.Cut(s, "=")
		if f, dup := b[key]; dup {
			return nil, errAt(ErrFormat, no, "%s: key %q repeated (first at line %d)", what, shorten(key), f.line)
		}
		b[key] = field{value: value, line: no}
	}
}

// parseText checks a model text and builds the canonical text for leaves.
func parseText(text []byte) (*parsedModel, error) {
	if err := scanLinear(text); err != nil {
		return nil, err
	}
	r := newLineReader(text)
	r.skipBlank()
	first, no, ok := r.peek()
	if !ok {
		return nil, errAt(ErrFormat, 0, "empty model text")
	}
	if first != "tree" {
		return nil, errAt(ErrFormat, no, "not a LightGBM text model: first line is %q, want \"tree\"", shorten(first))
	}
	r.skip()

	// The header runs to the first "Tree=" line; blank lines are allowed in it.
	hdr := block{}
	for {
		r.skipBlank()
		s, _, ok := r.peek()
		if !ok || strings.HasPrefix(s, "Tree=") || s == "end of trees" {
			break
		}
		b, err := readBlock(r, "header")
		if err != nil {
			return nil, err
		}
		for k, f := range b {
			if g, dup := hdr[k]; dup {
				return nil, errAt(ErrFormat, f.line, "header: key %q repeated (first at line %d)", shorten(k), g.line)
			}
			hdr[k] = f
		}
	}

	p := &parsedModel{}
	var canon bytes.Buffer
	if err := p.parseHeader(hdr, no, &canon); err != nil {
		return nil, err
	}
	counts := make([]int32, p.nFeatures) // scratch of tree.prepareContrib

	for i := 0; i < p.nTrees; i++ {
		r.skipBlank()
		s, no, ok := r.peek()
		if !ok {
			return nil, errAt(ErrFormat, len(r.lines), "truncated: tree_sizes lists %d trees, found %d", p.nTrees, i)
		}
		if s != "Tree="+strconv.Itoa(i) {
			return nil, errAt(ErrFormat, no, "got %q, want \"Tree=%d\" (tree_sizes lists %d trees)", shorten(s), i, p.nTrees)
		}
		r.skip()
		b, err := readBlock(r, "tree "+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		t, err := checkTree(i, no, b, p.nFeatures, counts, &canon)
		if err != nil {
			return nil, err
		}
		p.trees = append(p.trees, t)
	}
	r.skipBlank()
	s, no, ok := r.peek()
	switch {
	case !ok:
		return nil, errAt(ErrFormat, len(r.lines), "truncated: no \"end of trees\" after %d trees", p.nTrees)
	case strings.HasPrefix(s, "Tree="):
		return nil, errAt(ErrFormat, no, "more trees than the %d that tree_sizes lists", p.nTrees)
	case s != "end of trees":
		return nil, errAt(ErrFormat, no, "got %q, want \"end of trees\"", shorten(s))
	}
	// What follows (feature importances, parameters, the v4 parser section,
	// pandas_categorical) does not affect prediction and is dropped;
	// scanLinear has already looked at the parameters.
	canon.WriteString("end of trees\n")
	p.canonical = canon.Bytes()
	return p, nil
}

func (p *parsedModel) parseHeader(h block, firstLine int, canon *bytes.Buffer) error {
	get := func(key string) (field, error) {
		f, ok := h[key]
		if !ok {
			return f, errAt(ErrFormat, firstLine, "header has no %s", key)
		}
		return f, nil
	}
	getInt := func(key string, min int) (int, int, error) {
		f, err := get(key)
		if err != nil {
			return 0, 0, err
		}
		n, err := strconv.Atoi(f.value)
		if err != nil || n < min {
			return 0, f.line, errAt(ErrFormat, f.line, "%s=%q: want an integer >= %d", key, shorten(f.value), min)
		}
		return n, f.line, nil
	}

	v, ok := h["version"]
	if !ok {
		return errAt(ErrVersion, firstLine, "header has no version line (supported: %s)", strings.Join(supportedVersions, ", "))
	}
	supported := false
	for _, s := range supportedVersions {
		supported = supported || v.value == s
	}
	if !supported {
		return errAt(ErrVersion, v.line, "version=%s (supported: %s)", shorten(v.value), strings.Join(supportedVersions, ", "))
	}
	p.version = v.value

	var err error
	var line int
	if p.numClass, _, err = getInt("num_class", 1); err != nil {
		return err
	}
	perIter, line, err := getInt("num_tree_per_iteration", 1)
	if err != nil {
		return err
	}
	if perIter != p.numClass {
		return errAt(ErrFormat, line, "num_tree_per_iteration=%d differs from num_class=%d", perIter, p.numClass)
	}
	maxIdx, _, err := getInt("max_feature_idx", 0)
	if err != nil {
		return err
	}
	p.nFeatures = maxIdx + 1

	if f, ok := h["average_output"]; ok {
		return errAt(ErrObjective, f.line, "random forest model (average_output): leaves averages raw scores, LightGBM does not; train with boosting=gbdt")
	}
	if err := p.parseObjective(h, firstLine); err != nil {
		return err
	}

	names, err := get("feature_names")
	if err != nil {
		return err
	}
	p.featureNames = strings.Split(names.value, " ")
	if len(p.featureNames) != p.nFeatures {
		return errAt(ErrFormat, names.line, "feature_names has %d names, max_feature_idx=%d wants %d", len(p.featureNames), maxIdx, p.nFeatures)
	}
	seen := make(map[string]int, len(p.featureNames))
	for i, n := range p.featureNames {
		if n == "" {
			return errAt(ErrFormat, names.line, "feature_names: name %d is empty", i)
		}
		if j, dup := seen[n]; dup {
			return errAt(ErrFormat, names.line, "feature_names: %q at %d and %d", shorten(n), j, i)
		}
		seen[n] = i
	}

	sizes, err := get("tree_sizes")
	if err != nil {
		return err
	}
	for _, s := range strings.Split(sizes.value, " ") {
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			return errAt(ErrFormat, sizes.line, "tree_sizes: %q is not a size", shorten(s))
		}
		p.nTrees++
	}
	if p.nTrees%p.numClass != 0 {
		return errAt(ErrFormat, sizes.line, "tree_sizes lists %d trees, not a multiple of num_class=%d", p.nTrees, p.numClass)
	}

	// leaves reads the first block up to a blank line and needs only these.
	fmt.Fprintf(canon, "tree\nversion=v3\nnum_class=%d\nnum_tree_per_iteration=%d\nmax_feature_idx=%d\ntree_sizes=%s\n\n",
		p.numClass, perIter, maxIdx, sizes.value)
	return nil
}

// parseObjective accepts "multiclass num_class:N" and "binary sigmoid:S".
func (p *parsedModel) parseObjective(h block, firstLine int) error {
	f, ok := h["objective"]
	if !ok {
		return errAt(ErrObjective, firstLine, "header has no objective (custom objective?); want multiclass or binary")
	}
	tokens := strings.Fields(f.value)
	if len(tokens) == 0 {
		return errAt(ErrObjective, f.line, "empty objective; want multiclass or binary")
	}
	params := map[string]string{}
	for _, t := range tokens[1:] {
		k, v, _ := strings.Cut(t, ":")
		params[k] = v
	}
	switch tokens[0] {
	case "multiclass":
		n, err := strconv.Atoi(params["num_class"])
		if err != nil || n != p.numClass || n < 2 {
			return errAt(ErrFormat, f.line, "objective %q disagrees with num_class=%d", shorten(f.value), p.numClass)
		}
	case "binary":
		if p.numClass != 1 {
			return errAt(ErrFormat, f.line, "objective binary with num_class=%d", p.numClass)
		}
		s, err := strconv.ParseFloat(params["sigmoid"], 64)
		if err != nil || !(s > 0) || math.IsInf(s, 0) {
			return errAt(ErrFormat, f.line, "objective %q: want sigmoid:<positive number>", shorten(f.value))
		}
		p.sigmoid = s
	default:
		return errAt(ErrObjective, f.line, "objective %q; want multiclass or binary", shorten(f.value))
	}
	p.objective = tokens[0]
	return nil
}

// The tree keys leaves reads, in the order written for it: treeKeys for a
// tree with categorical splits, treeKeys[:8] without, leafKeys for a tree
// that is a single leaf.
var (
	treeKeys = []string{"num_leaves", "num_cat", "split_feature", "threshold", "decision_type",
		"left_child", "right_child", "leaf_value", "cat_boundaries", "cat_threshold"}
	leafKeys = []string{"num_leaves", "num_cat", "leaf_value"}
)

// tree is one tree as LightGBM's Tree holds it (src/io/tree.cpp), for
// Contributions; leaves predicts from its own copy. Node i < nLeaves-1 is
// internal; a child c < 0 is leaf ^c. The slices of internal nodes are nil
// for a tree that is a single leaf.
type tree struct {
	splitFeature []int32
	threshold    []float64
	decisionType []uint8
	leftChild    []int32
	rightChild   []int32
	leafValue    []float64
	// The node statistics of training. LightGBM writes them all; a text
	// without them loads (as in LightGBM, where they read as zeros) but
	// cannot give contributions: internal_count and leaf_count are the
	// cover of TreeSHAP. internal_value is kept for completeness (LightGBM
	// writes it with 6 significant digits only; TreeSHAP does not use it).
	internalValue []float64
	internalCount []int32
	leafCount     []int32
	// Category bitsets of the categorical splits, when num_cat > 0.
	catBoundaries []int32
	catThreshold  []uint32

	// Derived at load, for Contributions.
	hasCounts bool    // internal_count and leaf_count present (or one leaf)
	expected  float64 // LightGBM's Tree::ExpectedValue, when hasCounts
	pathLen   int     // path elements treeSHAP uses, see shapPathLen
}

// treeParser reads the values of one tree block exactly as leaves does:
// split on single spaces, parsed with strconv.
type treeParser struct {
	what string
	line int // of the "Tree=" line
	b    block
}

func (tp *treeParser) get(key string) (field, error) {
	f, ok := tp.b[key]
	if !ok {
		return f, errAt(ErrFormat, tp.line, "%s has no %s", tp.what, key)
	}
	return f, nil
}

func (tp *treeParser) count(f field, key string, want int) error {
	n := 0
	if f.value != "" {
		n = strings.Count(f.value, " ") + 1
	}
	if n != want {
		return errAt(ErrFormat, f.line, "%s: %s has %d values, want %d", tp.what, key, n, want)
	}
	return nil
}

// floats parses want numbers (not NaN) of key.
func (tp *treeParser) floats(key string, want int) ([]float64, error) {
	f, err := tp.get(key)
	if err != nil {
		return nil, err
	}
	if err := tp.count(f, key, want); err != nil {
		return nil, err
	}
	out := make([]float64, 0, want)
	for _, s := range strings.Split(f.value, " ") {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) {
			return nil, errAt(ErrFormat, f.line, "%s: %s: bad number %q", tp.what, key, shorten(s))
		}
		out = append(out, v)
	}
	return out, nil
}

// ints parses want integers of key that fit in bits (signed or not).
func (tp *treeParser) ints(key string, want, bits int, signed bool) ([]int64, error) {
	f, err := tp.get(key)
	if err != nil {
		return nil, err
	}
	if want > 0 || f.value != "" {
		if err := tp.count(f, key, want); err != nil {
			return nil, err
		}
	}
	out := make([]int64, 0, want)
	if want == 0 {
		return out, nil
	}
	for _, s := range strings.Split(f.value, " ") {
		var v int64
		if signed {
			v, err = strconv.ParseInt(s, 10, bits)
		} else {
			var u uint64
			u, err = strconv.ParseUint(s, 10, bits)
			v = int64(u)
		}
		if err != nil {
			return nil, errAt(ErrFormat, f.line, "%s: %s: bad integer %q", tp.what, key, shorten(s))
		}
		out = append(out, v)
	}
	return out, nil
}

// one parses the single integer of key, in [min, max].
func (tp *treeParser) one(key string, min, max int) (int, error) {
	f, err := tp.get(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(f.value)
	if err != nil || n < min || n > max {
		return 0, errAt(ErrFormat, f.line, "%s: %s=%q: want an integer in [%d, %d]", tp.what, key, shorten(f.value), min, max)
	}
	return n, nil
}

// optionalInts parses the int32 values of a key LightGBM may omit: nil when
// absent, else want values that must parse.
func (tp *treeParser) optionalInts(key string, want int) ([]int32, error) {
	if _, ok := tp.b[key]; !ok {
		return nil, nil
	}
	v, err := tp.ints(key, want, 32, true)
	if err != nil {
		return nil, err
	}
	return narrow[int32](v), nil
}

func narrow[T int32 | uint32 | uint8](v []int64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

// checkTree validates one tree block against everything leaves relies on,
// appends its canonical form to canon and returns the parsed tree.
func checkTree(idx, treeLine int, b block, nFeatures int, counts []int32, canon *bytes.Buffer) (*tree, error) {
	tp := &treeParser{what: "tree " + strconv.Itoa(idx), line: treeLine, b: b}
	nLeaves, err := tp.one("num_leaves", 1, maxLeaves)
	if err != nil {
		return nil, err
	}
	nCat, err := tp.one("num_cat", 0, max(nLeaves-1, 0))
	if err != nil {
		return nil, err
	}
	t := &tree{}
	if t.leafValue, err = tp.floats("leaf_value", nLeaves); err != nil {
		return nil, err
	}
	for i, v := range t.leafValue {
		if math.IsInf(v, 0) {
			return nil, errAt(ErrFormat, b["leaf_value"].line, "%s: leaf_value %d is %v", tp.what, i, v)
		}
	}
	keys := leafKeys
	if nLeaves > 1 {
		if err := checkSplits(tp, t, nLeaves, nCat, nFeatures); err != nil {
			return nil, err
		}
		keys = treeKeys[:8]
		if nCat > 0 {
			keys = treeKeys
		}
	}
	t.prepareContrib(counts)
	fmt.Fprintf(canon, "Tree=%d\n", idx)
	for _, k := range keys {
		canon.WriteString(k)
		canon.WriteByte('=')
		canon.WriteString(b[k].value)
		canon.WriteByte('\n')
	}
	canon.WriteByte('\n')
	return t, nil
}

// checkSplits validates the internal nodes of a tree with nLeaves > 1 and
// keeps them in t.
func checkSplits(tp *treeParser, t *tree, nLeaves, nCat, nFeatures int) error {
	what, b := tp.what, tp.b
	nNodes := nLeaves - 1
	features, err := tp.ints("split_feature", nNodes, 31, false)
	if err != nil {
		return err
	}
	thresholds, err := tp.floats("threshold", nNodes)
	if err != nil {
		return err
	}
	decisions, err := tp.ints("decision_type", nNodes, 32, false)
	if err != nil {
		return err
	}
	left, err := tp.ints("left_child", nNodes, 32, true)
	if err != nil {
		return err
	}
	right, err := tp.ints("right_child", nNodes, 32, true)
	if err != nil {
		return err
	}

	var catBounds, catBits []int64
	if nCat > 0 {
		if catBits, err = tp.ints("cat_threshold", len(strings.Split(b["cat_threshold"].value, " ")), 32, false); err != nil {
			return err
		}
		if catBounds, err = tp.ints("cat_boundaries", nCat+1, 32, false); err != nil {
			return err
		}
		line := b["cat_boundaries"].line
		if catBounds[0] != 0 || catBounds[nCat] != int64(len(catBits)) {
			return errAt(ErrFormat, line, "%s: cat_boundaries must run from 0 to %d (len of cat_threshold)", what, len(catBits))
		}
		for i := 1; i <= nCat; i++ {
			if catBounds[i] < catBounds[i-1] {
				return errAt(ErrFormat, line, "%s: cat_boundaries decrease at %d", what, i)
			}
		}
	}

	for i := 0; i < nNodes; i++ {
		if features[i] >= int64(nFeatures) {
			return errAt(ErrFormat, b["split_feature"].line, "%s: node %d splits on feature %d, model has %d", what, i, features[i], nFeatures)
		}
		d := decisions[i]
		if d > 15 || (d>>2)&3 == 3 {
			return errAt(ErrFormat, b["decision_type"].line, "%s: node %d: bad decision_type %d", what, i, d)
		}
		if d&1 == 0 {
			continue
		}
		// Categorical: the threshold indexes the category bitsets.
		t := thresholds[i]
		if nCat == 0 || t != math.Trunc(t) || t < 0 || t >= float64(nCat) {
			return errAt(ErrFormat, b["threshold"].line, "%s: categorical node %d: threshold %v is not a category set in [0, %d)", what, i, t, nCat)
		}
		set := catBits[catBounds[int(t)]:catBounds[int(t)+1]]
		nonEmpty := false
		for _, w := range set {
			nonEmpty = nonEmpty || w != 0
		}
		if !nonEmpty {
			return errAt(ErrFormat, b["cat_threshold"].line, "%s: categorical node %d has no categories", what, i)
		}
	}
	if err := checkShape(what, b, nLeaves, left, right); err != nil {
		return err
	}

	// The statistics LightGBM may omit; when present they must be whole.
	if _, ok := b["internal_value"]; ok {
		if t.internalValue, err = tp.floats("internal_value", nNodes); err != nil {
			return err
		}
	}
	if t.internalCount, err = tp.optionalInts("internal_count", nNodes); err != nil {
		return err
	}
	if t.leafCount, err = tp.optionalInts("leaf_count", nLeaves); err != nil {
		return err
	}

	t.splitFeature = narrow[int32](features)
	t.threshold = thresholds
	t.decisionType = narrow[uint8](decisions)
	t.leftChild = narrow[int32](left)
	t.rightChild = narrow[int32](right)
	if nCat > 0 {
		t.catBoundaries = narrow[int32](catBounds)
		t.catThreshold = narrow[uint32](catBits)
	}
	return nil
}

// checkShape verifies that left and right children form one binary tree
// rooted at node 0: every internal node but the root and every leaf is a
// child exactly once, and all internal nodes are reachable from the root (so
// there is no cycle; leaves would loop forever on one).
func checkShape(what string, b block, nLeaves int, left, right []int64) error {
	nNodes := nLeaves - 1
	nodeSeen := make([]bool, nNodes)
	leafSeen := make([]bool, nLeaves)
	for i := 0; i < nNodes; i++ {
		for side, c := range [2]int64{left[i], right[i]} {
			key := [2]string{"left_child", "right_child"}[side]
			line := b[key].line
			if c >= 0 {
				if c == 0 || c >= int64(nNodes) {
					return errAt(ErrFormat, line, "%s: node %d: %s %d out of range [1, %d)", what, i, key, c, nNodes)
				}
				if nodeSeen[c] {
					return errAt(ErrFormat, line, "%s: node %d is the child of two nodes", what, c)
				}
				nodeSeen[c] = true
				continue
			}
			leaf := ^c
			if leaf >= int64(nLeaves) {
				return errAt(ErrFormat, line, "%s: node %d: leaf %d out of range [0, %d)", what, i, leaf, nLeaves)
			}
			if leafSeen[leaf] {
				return errAt(ErrFormat, line, "%s: leaf %d is the child of two nodes", what, leaf)
			}
			leafSeen[leaf] = true
		}
	}
	// 2*nNodes distinct children among nNodes-1 nodes and nLeaves leaves:
	// each is used once. What remains is reachability (no detached cycle).
	reached := 0
	stack := []int64{0}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		reached++
		for _, c := range [2]int64{left[n], right[n]} {
			if c > 0 {
				stack = append(stack, c)
			}
		}
	}
	if reached != nNodes {
		return errAt(ErrFormat, b["left_child"].line, "%s: %d of %d nodes unreachable from the root (cycle)", what, nNodes-reached, nNodes)
	}
	return nil
}
