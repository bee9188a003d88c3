package lgbm

import (
	"fmt"
	"math"
)

// This file computes SHAP values (feature contributions) the way LightGBM's
// predict(pred_contrib=True) does: path-dependent TreeSHAP (Lundberg et al.
// 2018, "Consistent Individualized Feature Attribution for Tree
// Ensembles", Algorithm 2) as src/io/tree.cpp implements it in
// Tree::TreeSHAP, ExtendPath, UnwindPath, UnwoundPathSum and ExpectedValue,
// with internal_count and leaf_count as the cover, over the trees that
// text.go parsed. The arithmetic follows LightGBM's expression by
// expression (same operations, same order, explicit float64 conversions so
// that no compiler fuses a multiply-add), which makes the results
// bit-identical to LightGBM's in practice.

// zeroThreshold is LightGBM's kZeroThreshold: the float 1e-35f as a double.
const zeroThreshold = float64(float32(1e-35))

// maxShapPath bounds the TreeSHAP scratch of a model, in path elements (32
// bytes each). Real models need a few hundred; only a pathological tree
// (very deep, over many distinct features) needs more, and such a model
// still predicts but refuses Contributions (ErrNoContributions).
const maxShapPath = 1 << 20

// pathElement is LightGBM's Tree::PathElement. pweight of element i is the
// permutation weight of the paths with i-1 ones in them.
type pathElement struct {
	feature int32
	zero    float64
	one     float64
	pweight float64
}

// shapScratch is the per-call TreeSHAP path storage that Model pools.
type shapScratch struct {
	path []pathElement
}

// prepareContrib derives what Contributions needs from a parsed tree:
// whether it has counts, its expected value and its path length. counts is
// a zeroed slice of NFeatures() entries, left zeroed.
func (t *tree) prepareContrib(counts []int32) {
	if len(t.leafValue) == 1 {
		// Tree::ExpectedValue of a single leaf; PredictContrib runs no
		// TreeSHAP for it.
		t.hasCounts, t.expected = true, t.leafValue[0]
		return
	}
	if t.internalCount == nil || t.leafCount == nil {
		return
	}
	t.hasCounts = true
	// Tree::ExpectedValue: sum over leaves of (leaf_count / root count) *
	// leaf value, in leaf order.
	total := float64(t.internalCount[0])
	exp := 0.0
	for i, v := range t.leafValue {
		exp += float64(float64(float64(t.leafCount[i])/total) * v)
	}
	t.expected = exp
	t.pathLen = t.shapPathLen(counts)
}

// shapPathLen returns how many path elements treeSHAP writes into its
// scratch for this tree, at most a little over maxShapPath (it stops
// counting there).
//
// A call at a node of depth L works on path[start : start+u+1], where u is
// the number of distinct split features among the node's ancestors: the
// root has start 0 and u 0; a child has u' = u+1, or u when its parent's
// feature was already on the path (TreeSHAP unwinds it before extending
// again), and start' = start + u'. Walked without recursion: a tree may be
// 131071 nodes deep.
func (t *tree) shapPathLen(counts []int32) int {
	type frame struct {
		node     int32
		start, u int
		exit     bool // leaving node: its feature leaves the path
	}
	need := 0
	stack := []frame{{node: 0}}
	for len(stack) > 0 {
		fr := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if fr.exit {
			counts[t.splitFeature[fr.node]]--
			continue
		}
		need = max(need, fr.start+fr.u+1)
		if fr.node < 0 {
			continue
		}
		if need > maxShapPath {
			// Give up, but leave counts zeroed for the next tree.
			for _, f := range stack {
				if f.exit {
					counts[t.splitFeature[f.node]]--
				}
			}
			return need
		}
		f := t.splitFeature[fr.node]
		u := fr.u + 1
		if counts[f] > 0 {
			u = fr.u
		}
		counts[f]++
		stack = append(stack,
			frame{node: fr.node, exit: true},
			frame{node: t.leftChild[fr.node], start: fr.start + u, u: u},
			frame{node: t.rightChild[fr.node], start: fr.start + u, u: u})
	}
	return need
}

// prepareContributions sets up Contributions for the model's trees: the
// trees of each class in order, the scratch size, or why contributions are
// not available.
func (m *Model) prepareContributions(trees []*tree) {
	m.classTrees = make([][]*tree, m.nClasses)
	for i, t := range trees {
		m.classTrees[i%m.nClasses] = append(m.classTrees[i%m.nClasses], t)
		switch {
		case m.contribErr != "":
		case !t.hasCounts:
			m.contribErr = fmt.Sprintf("tree %d has no internal_count or leaf_count (the cover TreeSHAP needs)", i)
		case t.pathLen > maxShapPath:
			m.contribErr = fmt.Sprintf("tree %d needs more than %d TreeSHAP path elements (too deep over too many features)", i, maxShapPath)
		}
		m.shapLen = max(m.shapLen, t.pathLen)
	}
	if m.contribErr != "" {
		m.shapLen = 0
	}
	n := m.shapLen
	m.scratch.New = func() any { return &shapScratch{path: make([]pathElement, n)} }
}

// Contributions writes into out the contribution of each feature of x to
// the raw score of class (0 <= class < NClasses()), then the expected value
// of that raw score: out has NFeatures()+1 entries and sums to the raw score
// PredictRaw gives for the class. These are the SHAP values LightGBM's
// predict(X, pred_contrib=True) returns for the class (path-dependent
// TreeSHAP, with the training counts of the nodes as cover), in the same
// layout, and agree with them to the last bit in practice.
//
// x is as for PredictRaw (NaN means missing). As LightGBM's dense-matrix
// input does, a value within 1e-35 of zero counts as zero. A model whose
// text lacks the node counts (internal_count, leaf_count), which LightGBM
// always writes, returns ErrNoContributions. Contributions does not
// allocate beyond a pooled scratch; it is safe for concurrent use.
func (m *Model) Contributions(x []float64, class int, out []float64) error {
	if len(x) != m.nFeatures {
		return &Error{Op: "contributions", File: m.file, Kind: ErrFeatureCount,
			Detail: fmt.Sprintf("got %d, model wants %d", len(x), m.nFeatures)}
	}
	if class < 0 || class >= m.nClasses {
		return &Error{Op: "contributions", File: m.file, Kind: ErrClass,
			Detail: fmt.Sprintf("class %d, model has %d (0 to %d)", class, m.nClasses, m.nClasses-1)}
	}
	if len(out) != m.nFeatures+1 {
		return &Error{Op: "contributions", File: m.file, Kind: ErrOutputSize,
			Detail: fmt.Sprintf("got %d, want NFeatures()+1 = %d", len(out), m.nFeatures+1)}
	}
	if m.contribErr != "" {
		return &Error{Op: "contributions", File: m.file, Kind: ErrNoContributions, Detail: m.contribErr}
	}
	clear(out)
	s := m.scratch.Get().(*shapScratch)
	// GBDT::PredictContrib: each tree of the class adds its expected value
	// to the bias and its SHAP values to the features, in tree order.
	for _, t := range m.classTrees[class] {
		out[m.nFeatures] += t.expected
		if len(t.leafValue) > 1 {
			t.shap(x, out, s.path, 0, 0, 1, 1, -1)
		}
	}
	m.scratch.Put(s)
	return nil
}

// shap is Tree::TreeSHAP: it adds to phi the contributions of the subtree
// at node, reached with the path parent[:depth] extended by a split on
// parentFeature with the given zero (cover) and one (hot) fractions.
func (t *tree) shap(x, phi []float64, parent []pathElement, node int32, depth int,
	parentZero, parentOne float64, parentFeature int32,
) {
	path := parent[depth:]
	if depth > 0 {
		copy(path[:depth], parent[:depth])
	}
	extendPath(path, depth, parentZero, parentOne, parentFeature)

	if node < 0 {
		leaf := t.leafValue[^node]
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(path, depth, i)
			el := &path[i]
			phi[el.feature] += float64(float64(w*(el.one-el.zero)) * leaf)
		}
		return
	}

	f := t.splitFeature[node]
	hot := t.decision(x[f], node)
	cold := t.leftChild[node]
	if hot == cold {
		cold = t.rightChild[node]
	}
	w := float64(t.internalCount[node])
	hotZero := t.count(hot) / w
	coldZero := t.count(cold) / w
	inZero, inOne := 1.0, 1.0

	// Already split on this feature higher up: undo that split so that it
	// is redone here.
	i := 0
	for ; i <= depth; i++ {
		if path[i].feature == f {
			break
		}
	}
	if i != depth+1 {
		inZero, inOne = path[i].zero, path[i].one
		unwindPath(path, depth, i)
		depth--
	}
	t.shap(x, phi, path, hot, depth+1, float64(hotZero*inZero), inOne, f)
	t.shap(x, phi, path, cold, depth+1, float64(coldZero*inZero), 0, f)
}

// count is Tree::data_count: the training rows that reached a node.
func (t *tree) count(node int32) float64 {
	if node >= 0 {
		return float64(t.internalCount[node])
	}
	return float64(t.leafCount[^node])
}

// extendPath is Tree::ExtendPath.
func extendPath(path []pathElement, depth int, zero, one float64, feature int32) {
	path[depth] = pathElement{feature: feature, zero: zero, one: one}
	if depth == 0 {
		path[depth].pweight = 1
	}
	d1 := float64(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		path[i+1].pweight += float64(float64(float64(one*path[i].pweight)*float64(i+1)) / d1)
		path[i].pweight = float64(float64(zero*path[i].pweight)*float64(depth-i)) / d1
	}
}

// unwindPath is Tree::UnwindPath: it removes element index from the path.
func unwindPath(path []pathElement, depth, index int) {
	one, zero := path[index].one, path[index].zero
	next := path[depth].pweight
	d1 := float64(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := path[i].pweight
			path[i].pweight = float64(next*d1) / float64(float64(i+1)*one)
			next = tmp - float64(float64(float64(path[i].pweight*zero)*float64(depth-i))/d1)
		} else {
			path[i].pweight = float64(path[i].pweight*d1) / float64(zero*float64(depth-i))
		}
	}
	for i := index; i < depth; i++ {
		path[i].feature = path[i+1].feature
		path[i].zero = path[i+1].zero
		path[i].one = path[i+1].one
	}
}

// unwoundPathSum is Tree::UnwoundPathSum: the total permutation weight of
// the path if element index were unwound. (LightGBM tests one != 0 in the
// loop; the two loops here do the same operations.)
func unwoundPathSum(path []pathElement, depth, index int) float64 {
	path = path[:depth+1]
	one, zero := path[index].one, path[index].zero
	next := path[depth].pweight
	d1 := float64(depth + 1)
	total := 0.0
	if one != 0 {
		for i := depth - 1; i >= 0; i-- {
			tmp := float64(next*d1) / float64(float64(i+1)*one)
			total += tmp
			next = path[i].pweight - float64(float64(tmp*zero)*(float64(depth-i)/d1))
		}
		return total
	}
	for i := depth - 1; i >= 0; i-- {
		total += (path[i].pweight / zero) / (float64(depth-i) / d1)
	}
	return total
}

// decision is Tree::Decision: the child that x's value of the node's feature
// goes to. A value within zeroThreshold of zero is zero, as LightGBM's
// dense input makes it (c_api.cpp drops such values from the row).
func (t *tree) decision(fval float64, node int32) int32 {
	if math.Abs(fval) <= zeroThreshold {
		fval = 0
	}
	d := t.decisionType[node]
	if d&1 != 0 {
		return t.categoricalDecision(fval, node)
	}
	// Tree::NumericalDecision.
	missing := (d >> 2) & 3
	nan := math.IsNaN(fval)
	if nan && missing != 2 {
		fval, nan = 0, false
	}
	if (missing == 1 && fval >= -zeroThreshold && fval <= zeroThreshold) || (missing == 2 && nan) {
		if d&2 != 0 {
			return t.leftChild[node]
		}
		return t.rightChild[node]
	}
	if fval <= t.threshold[node] {
		return t.leftChild[node]
	}
	return t.rightChild[node]
}

// categoricalDecision is Tree::CategoricalDecision: NaN and negative values
// go right, others left when their category is in the node's bitset.
// static_cast<int> truncates; values past the int range become INT_MIN on
// x86 (negative, so right), which the range check reproduces.
func (t *tree) categoricalDecision(fval float64, node int32) int32 {
	if !(fval > -1 && fval < 1<<31) {
		return t.rightChild[node]
	}
	v := int(fval)
	set := int(t.threshold[node]) // validated: a category set index
	lo, hi := int(t.catBoundaries[set]), int(t.catBoundaries[set+1])
	if w := v / 32; w < hi-lo && t.catThreshold[lo+w]>>(v%32)&1 != 0 {
		return t.leftChild[node]
	}
	return t.rightChild[node]
}
