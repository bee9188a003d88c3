package ptrie

import (
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"unsafe"
)

// ErrInvalidPrefix is returned for the zero netip.Prefix or one whose
// length is out of range.
var ErrInvalidPrefix = errors.New("ptrie: invalid prefix")

// Trie maps prefixes to values of type V. The zero value is an empty trie
// ready to use. Prefixes are stored masked: 10.1.2.3/8 is 10.0.0.0/8.
type Trie[V any] struct {
	v4   tree[k32]
	v6   tree[k128]
	vals []V
	free []uint32 // value slots released by Delete, reused first
	n    int
}

// Grow reserves room for about v4 IPv4 and v6 IPv6 more prefixes, so that a
// loader that knows its size does not over-allocate by growing in steps.
func (t *Trie[V]) Grow(v4, v6 int) {
	// A path-compressed trie of n prefixes has at most 2n-1 nodes, and a
	// real table comes close: the 1.1M-prefix IPv4 table of 2026 takes
	// 1.84n, because most /24s have a sibling and so a glue parent.
	t.v4.nodes = growNodes(t.v4.nodes, 2*v4)
	t.v6.nodes = growNodes(t.v6.nodes, 2*v6)
	if need := len(t.vals) + v4 + v6; need > cap(t.vals) {
		vs := make([]V, len(t.vals), need)
		copy(vs, t.vals)
		t.vals = vs
	}
}

func growNodes[K key[K]](ns []node[K], more int) []node[K] {
	if more <= 0 || len(ns)+more+1 <= cap(ns) {
		return ns
	}
	out := make([]node[K], len(ns), len(ns)+more+1)
	copy(out, ns)
	return out
}

// Len is the number of prefixes stored.
func (t *Trie[V]) Len() int { return t.n }

func canon(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("%w: %v", ErrInvalidPrefix, p)
	}
	return p.Masked(), nil
}

// slot returns the value slot of p's node, creating the node.
func (t *Trie[V]) slot(p netip.Prefix) *uint32 {
	n := uint8(p.Bits())
	if p.Addr().Is4() {
		id := t.v4.insert(key4(p.Addr()), n)
		return &t.v4.nodes[id].val
	}
	id := t.v6.insert(key6(p.Addr()), n)
	return &t.v6.nodes[id].val
}

// lookup returns p's value slot, or nil when p's node does not exist.
func (t *Trie[V]) lookup(p netip.Prefix) *uint32 {
	n := uint8(p.Bits())
	if p.Addr().Is4() {
		if id := t.v4.find(key4(p.Addr()), n); id != 0 {
			return &t.v4.nodes[id].val
		}
		return nil
	}
	if id := t.v6.find(key6(p.Addr()), n); id != 0 {
		return &t.v6.nodes[id].val
	}
	return nil
}

func (t *Trie[V]) alloc(v V) uint32 {
	t.n++
	if k := len(t.free); k > 0 {
		idx := t.free[k-1]
		t.free = t.free[:k-1]
		t.vals[idx-1] = v
		return idx
	}
	t.vals = append(t.vals, v)
	return uint32(len(t.vals))
}

// Insert stores v for p, replacing any previous value. The only error is
// ErrInvalidPrefix.
func (t *Trie[V]) Insert(p netip.Prefix, v V) error {
	p, err := canon(p)
	if err != nil {
		return err
	}
	s := t.slot(p)
	if *s != 0 {
		t.vals[*s-1] = v
		return nil
	}
	*s = t.alloc(v)
	return nil
}

// Update replaces p's value by fn(old, found); old is the zero V when p was
// not stored. It is one trie walk for a read-modify-write, such as
// appending to a prefix's origin history. fn must not modify t.
func (t *Trie[V]) Update(p netip.Prefix, fn func(old V, found bool) V) error {
	p, err := canon(p)
	if err != nil {
		return err
	}
	s := t.slot(p)
	if *s != 0 {
		t.vals[*s-1] = fn(t.vals[*s-1], true)
		return nil
	}
	var zero V
	v := fn(zero, false)
	// fn does not modify t, so s still points into the node slice.
	*s = t.alloc(v)
	return nil
}

// Entry returns a pointer to p's value, storing the zero V for p first
// when p was not stored (found false): one trie walk for a get-or-insert.
// The pointer is valid until t is next modified. The only error is
// ErrInvalidPrefix.
func (t *Trie[V]) Entry(p netip.Prefix) (v *V, found bool, err error) {
	p, err = canon(p)
	if err != nil {
		return nil, false, err
	}
	s := t.slot(p)
	if *s == 0 {
		var zero V
		*s = t.alloc(zero)
		return &t.vals[*s-1], false, nil
	}
	return &t.vals[*s-1], true, nil
}

// Get returns the value stored for exactly p.
func (t *Trie[V]) Get(p netip.Prefix) (V, bool) {
	var zero V
	p, err := canon(p)
	if err != nil {
		return zero, false
	}
	if s := t.lookup(p); s != nil && *s != 0 {
		return t.vals[*s-1], true
	}
	return zero, false
}

// Delete removes p and reports whether it was stored. Its node stays as a
// glue node.
func (t *Trie[V]) Delete(p netip.Prefix) bool {
	p, err := canon(p)
	if err != nil {
		return false
	}
	s := t.lookup(p)
	if s == nil || *s == 0 {
		return false
	}
	var zero V
	t.vals[*s-1] = zero // drop references held by the value
	t.free = append(t.free, *s)
	*s = 0
	t.n--
	return true
}

// LongestMatch returns the most specific stored prefix that covers p (p
// itself when stored) and its value.
func (t *Trie[V]) LongestMatch(p netip.Prefix) (netip.Prefix, V, bool) {
	var zero V
	p, err := canon(p)
	if err != nil {
		return netip.Prefix{}, zero, false
	}
	n := uint8(p.Bits())
	if p.Addr().Is4() {
		if id := t.v4.longest(key4(p.Addr()), n); id != 0 {
			nd := &t.v4.nodes[id]
			return nd.key.prefix(nd.bits), t.vals[nd.val-1], true
		}
		return netip.Prefix{}, zero, false
	}
	if id := t.v6.longest(key6(p.Addr()), n); id != 0 {
		nd := &t.v6.nodes[id]
		return nd.key.prefix(nd.bits), t.vals[nd.val-1], true
	}
	return netip.Prefix{}, zero, false
}

// Covering yields every stored prefix that covers p, p itself included
// when stored, shortest first.
func (t *Trie[V]) Covering(p netip.Prefix) iter.Seq2[netip.Prefix, V] {
	return func(yield func(netip.Prefix, V) bool) {
		p, err := canon(p)
		if err != nil {
			return
		}
		n := uint8(p.Bits())
		if p.Addr().Is4() {
			t.v4.covering(key4(p.Addr()), n, func(id uint32) bool {
				nd := &t.v4.nodes[id]
				return yield(nd.key.prefix(nd.bits), t.vals[nd.val-1])
			})
			return
		}
		t.v6.covering(key6(p.Addr()), n, func(id uint32) bool {
			nd := &t.v6.nodes[id]
			return yield(nd.key.prefix(nd.bits), t.vals[nd.val-1])
		})
	}
}

// Covered yields every stored prefix that p covers, p itself included
// when stored: a prefix comes before its more-specifics, lower addresses
// first.
func (t *Trie[V]) Covered(p netip.Prefix) iter.Seq2[netip.Prefix, V] {
	return func(yield func(netip.Prefix, V) bool) {
		p, err := canon(p)
		if err != nil {
			return
		}
		n := uint8(p.Bits())
		if p.Addr().Is4() {
			walk4(t, t.v4.subtreeRoot(key4(p.Addr()), n), yield)
			return
		}
		walk6(t, t.v6.subtreeRoot(key6(p.Addr()), n), yield)
	}
}

// All yields every stored prefix: IPv4 before IPv6, each family in the
// order of Covered.
func (t *Trie[V]) All() iter.Seq2[netip.Prefix, V] {
	return func(yield func(netip.Prefix, V) bool) {
		if walk4(t, t.v4.root, yield) {
			walk6(t, t.v6.root, yield)
		}
	}
}

func walk4[V any](t *Trie[V], root uint32, yield func(netip.Prefix, V) bool) bool {
	return t.v4.walk(root, func(id uint32) bool {
		nd := &t.v4.nodes[id]
		return yield(nd.key.prefix(nd.bits), t.vals[nd.val-1])
	})
}

func walk6[V any](t *Trie[V], root uint32, yield func(netip.Prefix, V) bool) bool {
	return t.v6.walk(root, func(id uint32) bool {
		nd := &t.v6.nodes[id]
		return yield(nd.key.prefix(nd.bits), t.vals[nd.val-1])
	})
}

// Stats describes a trie's size.
type Stats struct {
	Prefixes       int // stored prefixes
	Nodes4, Nodes6 int // nodes in use, glue nodes included
	// Bytes is the memory held by the trie's own slices (capacity, not
	// length), not counting memory the values point to.
	Bytes int
}

// Stats reports the trie's size.
func (t *Trie[V]) Stats() Stats {
	var v V
	return Stats{
		Prefixes: t.n,
		Nodes4:   max(len(t.v4.nodes)-1, 0),
		Nodes6:   max(len(t.v6.nodes)-1, 0),
		Bytes: cap(t.v4.nodes)*int(unsafe.Sizeof(node[k32]{})) +
			cap(t.v6.nodes)*int(unsafe.Sizeof(node[k128]{})) +
			cap(t.vals)*int(unsafe.Sizeof(v)) + cap(t.free)*4,
	}
}
