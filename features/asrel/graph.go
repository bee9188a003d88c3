package asrel

import (
	"iter"
	"slices"
	"strconv"
)

// Relation is what one AS is to another.
type Relation int8

// Relations, from the first AS's point of view: Rel(a, b) == Provider
// means a is a provider of b.
const (
	Unknown  Relation = iota // no link known between the two
	Provider                 // a sells transit to b
	Customer                 // a buys transit from b
	Peer                     // settlement-free peering (p2p)
	Sibling                  // same organisation
)

func (r Relation) String() string {
	switch r {
	case Unknown:
		return "unknown"
	case Provider:
		return "provider"
	case Customer:
		return "customer"
	case Peer:
		return "peer"
	case Sibling:
		return "sibling"
	}
	return "relation(" + strconv.Itoa(int(r)) + ")"
}

// Reverse is the relation seen from the other end: Provider and Customer
// swap, the rest stay.
func (r Relation) Reverse() Relation {
	switch r {
	case Provider:
		return Customer
	case Customer:
		return Provider
	}
	return r
}

// Link is one AS link with its relation: Rel is what A is to B. Links
// report A < B.
type Link struct {
	A, B uint32
	Rel  Relation
}

// Degree counts an AS's neighbours by relation.
type Degree struct {
	Customers, Providers, Peers, Siblings int
}

// Total is the number of neighbours.
func (d Degree) Total() int { return d.Customers + d.Providers + d.Peers + d.Siblings }

// neighbor is one entry of an AS's adjacency list: what the AS is to nbr.
type neighbor struct {
	asn uint32
	rel Relation
}

// Graph is a set of AS links with relations.
type Graph struct {
	links map[uint64]Relation // key lo<<32|hi, value: what lo is to hi
	// Adjacency in CSR form, built by finish: the neighbours of asns[i]
	// are adj[off[i]:off[i+1]], sorted by ASN.
	asns  []uint32 // sorted
	index map[uint32]int32
	off   []int32
	adj   []neighbor
	stats Stats
}

// Stats describes how a Graph was built.
type Stats struct {
	Links, ASes int
	// Load: repeated lines for a link (Duplicates: same relation,
	// Conflicts: another relation; the first line wins).
	Duplicates, Conflicts int
	// Infer: paths offered, distinct paths used after cleaning, and paths
	// dropped for loops, reserved ASNs, too few ASes, or a valley between
	// clique members.
	Paths, UniquePaths                       int
	DroppedLoop, DroppedBogon, DroppedShort  int
	DroppedCliqueValley                      int
	Siblings                                 int // links marked by MarkSiblings
	InferredP2C, InferredP2P, InferredClique int
}

func newGraph(sizeHint int) *Graph {
	return &Graph{links: make(map[uint64]Relation, sizeHint)}
}

func linkKey(a, b uint32) (uint64, bool) {
	if a < b {
		return uint64(a)<<32 | uint64(b), false
	}
	return uint64(b)<<32 | uint64(a), true
}

// set records what a is to b; it reports false when the link already has a
// relation (which is kept), and that relation.
func (g *Graph) set(a, b uint32, r Relation) (bool, Relation) {
	k, swapped := linkKey(a, b)
	if swapped {
		r = r.Reverse()
	}
	if old, ok := g.links[k]; ok {
		if swapped {
			old = old.Reverse()
		}
		return false, old
	}
	g.links[k] = r
	return true, r
}

// finish builds the adjacency lists and counts.
func (g *Graph) finish() {
	deg := make(map[uint32]int32, len(g.links)/4)
	for k := range g.links {
		deg[uint32(k>>32)]++
		deg[uint32(k)]++
	}
	g.asns = make([]uint32, 0, len(deg))
	for a := range deg {
		g.asns = append(g.asns, a)
	}
	slices.Sort(g.asns)
	g.index = make(map[uint32]int32, len(g.asns))
	g.off = make([]int32, len(g.asns)+1)
	for i, a := range g.asns {
		g.index[a] = int32(i)
		g.off[i+1] = g.off[i] + deg[a]
	}
	g.adj = make([]neighbor, len(g.links)*2)
	fill := slices.Clone(g.off[:len(g.asns)])
	for k, r := range g.links {
		lo, hi := uint32(k>>32), uint32(k)
		i, j := g.index[lo], g.index[hi]
		g.adj[fill[i]] = neighbor{hi, r}
		fill[i]++
		g.adj[fill[j]] = neighbor{lo, r.Reverse()}
		fill[j]++
	}
	for i := range g.asns {
		ns := g.adj[g.off[i]:g.off[i+1]]
		slices.SortFunc(ns, func(x, y neighbor) int {
			switch {
			case x.asn < y.asn:
				return -1
			case x.asn > y.asn:
				return 1
			}
			return 0
		})
	}
	g.stats.Links = len(g.links)
	g.stats.ASes = len(g.asns)
}

// Stats reports how the graph was built.
func (g *Graph) Stats() Stats { return g.stats }

// Len is the number of links.
func (g *Graph) Len() int { return len(g.links) }

// Rel says what a is to b: Provider when a is b's provider, and so on;
// Unknown when the graph has no link between them.
func (g *Graph) Rel(a, b uint32) Relation {
	k, swapped := linkKey(a, b)
	r := g.links[k]
	if swapped {
		return r.Reverse()
	}
	return r
}

func (g *Graph) neighbors(a uint32) []neighbor {
	i, ok := g.index[a]
	if !ok {
		return nil
	}
	return g.adj[g.off[i]:g.off[i+1]]
}

// Degree counts a's customers, providers, peers and siblings.
func (g *Graph) Degree(a uint32) Degree {
	var d Degree
	for _, n := range g.neighbors(a) {
		switch n.rel {
		case Provider:
			d.Customers++ // a is their provider
		case Customer:
			d.Providers++
		case Peer:
			d.Peers++
		case Sibling:
			d.Siblings++
		}
	}
	return d
}

// Neighbors yields a's neighbours in ASN order with what a is to each.
func (g *Graph) Neighbors(a uint32) iter.Seq2[uint32, Relation] {
	return func(yield func(uint32, Relation) bool) {
		for _, n := range g.neighbors(a) {
			if !yield(n.asn, n.rel) {
				return
			}
		}
	}
}

// Links yields every link once, A < B, in no particular order.
func (g *Graph) Links() iter.Seq[Link] {
	return func(yield func(Link) bool) {
		for k, r := range g.links {
			if !yield(Link{A: uint32(k >> 32), B: uint32(k), Rel: r}) {
				return
			}
		}
	}
}

// ConeSize is the size of a's customer cone: a itself plus every AS
// reachable from a by going provider-to-customer only (CAIDA AS Rank's
// definition). It is 0 for an AS not in the graph. Each call walks the
// cone: O(cone links).
func (g *Graph) ConeSize(a uint32) int {
	start, ok := g.index[a]
	if !ok {
		return 0
	}
	seen := make([]uint64, (len(g.asns)+63)/64)
	seen[start/64] |= 1 << (start % 64)
	queue := []int32{start}
	n := 1
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, nb := range g.adj[g.off[i]:g.off[i+1]] {
			if nb.rel != Provider {
				continue
			}
			j := g.index[nb.asn]
			if seen[j/64]&(1<<(j%64)) != 0 {
				continue
			}
			seen[j/64] |= 1 << (j % 64)
			n++
			queue = append(queue, j)
		}
	}
	return n
}

// MarkSiblings turns every link between ASes that same reports as one
// organisation (for example asorg.Table.Siblings) into a Sibling link and
// returns how many changed. Call it while setting up, before sharing the
// graph.
func (g *Graph) MarkSiblings(same func(a, b uint32) bool) int {
	n := 0
	for k, r := range g.links {
		if r != Sibling && same(uint32(k>>32), uint32(k)) {
			g.links[k] = Sibling
			n++
		}
	}
	if n > 0 {
		g.stats.Siblings += n
		g.finish()
	}
	return n
}

// FromLinks builds a graph from links (as Links yields them), for
// restoring a saved or inferred graph. A link given twice keeps its first
// relation.
func FromLinks(links []Link) *Graph {
	g := newGraph(len(links))
	for _, l := range links {
		g.set(l.A, l.B, l.Rel)
	}
	g.finish()
	return g
}
