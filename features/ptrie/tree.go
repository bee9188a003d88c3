package ptrie

// node is one trie node: a prefix (key, bits) that is either a stored
// prefix (val != 0) or a glue node where two branches split (val == 0).
// Children extend the node's key by at least one bit; child[b] holds the
// keys whose bit at position bits is b.
type node[K key[K]] struct {
	key   K
	child [2]uint32 // node indices; 0 = none (node 0 is never a child)
	val   uint32    // 1 + index into Trie.vals; 0 = no value here
	bits  uint8
}

// tree is the trie of one address family. nodes[0] is a sentinel so that
// index 0 can mean "no node".
type tree[K key[K]] struct {
	nodes []node[K]
	root  uint32
	// finger is the path to the node insert returned last, from the root
	// (or a subsequence of it: a later insert may have put nodes between
	// them). Any node covering a key is on the key's path, so insert
	// starts from the deepest one of the finger covering its key: with
	// keys in order (a table loading), a few steps instead of a walk from
	// the root.
	finger []uint32
}

func (t *tree[K]) add(k K, n uint8) uint32 {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, node[K]{})
	}
	if len(t.nodes) == cap(t.nodes) {
		// Double: append grows large slices by 1.25x, which copies a
		// full table's nodes about four times over while it loads.
		t.nodes = growNodes(t.nodes, max(len(t.nodes), 64))
	}
	t.nodes = append(t.nodes, node[K]{key: k, bits: n})
	return uint32(len(t.nodes) - 1)
}

// link makes id the child on side of parent, or the root when parent is 0.
func (t *tree[K]) link(parent uint32, side uint32, id uint32) {
	if parent == 0 {
		t.root = id
		return
	}
	t.nodes[parent].child[side] = id
}

// insert returns the index of the node for (k, n), creating it (and a glue
// node if needed). k must be masked to n bits.
func (t *tree[K]) insert(k K, n uint8) uint32 {
	var parent, side uint32
	cur := t.root
	// Resume from the deepest node of the finger that covers (k, n): the
	// walk from the root would pass it (a covering node's own parent is
	// never needed: the walk only goes down from it).
	i := len(t.finger) - 1
	for ; i >= 0; i-- {
		if nd := &t.nodes[t.finger[i]]; nd.bits <= n && nd.key.common(k) >= nd.bits {
			cur = t.finger[i]
			break
		}
	}
	t.finger = t.finger[:max(i, 0)]
	for cur != 0 {
		nd := &t.nodes[cur]
		c := min(nd.key.common(k), nd.bits, n)
		if c == nd.bits {
			t.finger = append(t.finger, cur)
			if c == n {
				return cur
			}
			parent, side = cur, k.bit(nd.bits)
			cur = nd.child[side]
			continue
		}
		if c == n {
			// The new prefix covers cur: it goes in between.
			below := nd.key.bit(n)
			id := t.add(k, n)
			t.nodes[id].child[below] = cur
			t.link(parent, side, id)
			t.finger = append(t.finger, id)
			return id
		}
		// Both diverge at bit c: a glue node of length c takes both.
		old := nd.key.bit(c)
		glue := t.add(k.mask(c), c)
		leaf := t.add(k, n)
		t.nodes[glue].child[old] = cur
		t.nodes[glue].child[old^1] = leaf
		t.link(parent, side, glue)
		t.finger = append(t.finger, glue, leaf)
		return leaf
	}
	id := t.add(k, n)
	t.link(parent, side, id)
	t.finger = append(t.finger, id)
	return id
}

// find returns the node of exactly (k, n), or 0.
func (t *tree[K]) find(k K, n uint8) uint32 {
	cur := t.root
	for cur != 0 {
		nd := &t.nodes[cur]
		if nd.bits > n || nd.key.common(k) < nd.bits {
			return 0
		}
		if nd.bits == n {
			return cur
		}
		cur = nd.child[k.bit(nd.bits)]
	}
	return 0
}

// covering calls yield for every node with a value whose prefix covers
// (k, n), shortest first, until yield returns false.
func (t *tree[K]) covering(k K, n uint8, yield func(id uint32) bool) {
	cur := t.root
	for cur != 0 {
		nd := &t.nodes[cur]
		if nd.bits > n || nd.key.common(k) < nd.bits {
			return
		}
		if nd.val != 0 && !yield(cur) {
			return
		}
		if nd.bits == n {
			return
		}
		cur = nd.child[k.bit(nd.bits)]
	}
}

// longest returns the node with a value of the longest prefix covering
// (k, n), or 0.
func (t *tree[K]) longest(k K, n uint8) uint32 {
	var best uint32
	cur := t.root
	for cur != 0 {
		nd := &t.nodes[cur]
		if nd.bits > n || nd.key.common(k) < nd.bits {
			break
		}
		if nd.val != 0 {
			best = cur
		}
		if nd.bits == n {
			break
		}
		cur = nd.child[k.bit(nd.bits)]
	}
	return best
}

// subtreeRoot returns the topmost node whose prefix is covered by (k, n),
// or 0 when nothing lies under (k, n).
func (t *tree[K]) subtreeRoot(k K, n uint8) uint32 {
	cur := t.root
	for cur != 0 {
		nd := &t.nodes[cur]
		if nd.bits >= n {
			if nd.key.common(k) >= n {
				return cur
			}
			return 0
		}
		if nd.key.common(k) < nd.bits {
			return 0
		}
		cur = nd.child[k.bit(nd.bits)]
	}
	return 0
}

// walk calls yield for every node with a value in the subtree of root, in
// pre-order (a prefix before its more-specifics, lower addresses first),
// until yield returns false. It reports whether the walk ran to the end.
func (t *tree[K]) walk(root uint32, yield func(id uint32) bool) bool {
	if root == 0 {
		return true
	}
	var stackBuf [64]uint32
	stack := append(stackBuf[:0], root)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := &t.nodes[id]
		if nd.val != 0 && !yield(id) {
			return false
		}
		if c := nd.child[1]; c != 0 {
			stack = append(stack, c)
		}
		if c := nd.child[0]; c != 0 {
			stack = append(stack, c)
		}
	}
	return true
}
