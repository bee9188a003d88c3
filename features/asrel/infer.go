package asrel

import (
	"hash/maphash"
	"iter"
	"slices"
	"unsafe"

	"github.com/bgpsentry/bgpsentry/features/bogon"
)

// Tier1 is the fixed clique of transit-free networks used for IPv4, as in
// BGPKIT's as2rel and Cloudflare Radar: Cogent, Verizon, Sprint, Arelion
// (Telia), NTT, GTT, Deutsche Telekom, Lumen, PCCW, Orange, Tata, Zayo,
// Sparkle, Liberty Global, AT&T, Telefonica.
var Tier1 = []uint32{174, 701, 1239, 1299, 2914, 3257, 3320, 3356, 3491, 5511, 6453, 6461, 6762, 6830, 7018, 12956}

// Tier1IPv6 is Tier1 plus Hurricane Electric, transit-free in IPv6.
var Tier1IPv6 = append(slices.Clone(Tier1), 6939)

// InferConfig tunes Infer. The zero value is the documented default.
type InferConfig struct {
	// Clique is the set of tier-1 ASes that peer with each other and have
	// no provider; nil means Tier1, or Tier1IPv6 when IPv6 is set.
	Clique []uint32
	IPv6   bool
	// PeerDegreeRatio is Gao's R: a link at the top of paths becomes
	// peering when the larger degree of its ends is at most this many
	// times the smaller. 0 means 60; a negative value disables the rule.
	PeerDegreeRatio float64
}

// shortPath is the longest path whose loops Infer finds by scanning it
// (a longer one goes through a set, so that a path of thousands of ASes
// costs no quadratic time).
const shortPath = 32

// pathSet holds distinct cleaned paths in one arena.
type pathSet struct {
	arena []uint32
	off   []int32 // path i is arena[off[i]:off[i+1]]
	// seen is the first path of each hash; next[i] the next path with
	// path i's hash, or -1.
	seen map[uint64]int32
	next []int32
	seed maphash.Seed
}

func (s *pathSet) path(i int) []uint32 { return s.arena[s.off[i]:s.off[i+1]] }

func (s *pathSet) len() int { return len(s.off) - 1 }

// add stores p unless an equal path is stored; it reports whether p is new.
func (s *pathSet) add(p []uint32) bool {
	// The ASNs' bytes in memory order: one hash call a path.
	k := maphash.Bytes(s.seed, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p))), 4*len(p)))
	first, ok := s.seen[k]
	if ok {
		for i := first; i >= 0; i = s.next[i] {
			if slices.Equal(s.path(int(i)), p) {
				return false
			}
		}
	}
	n := int32(s.len())
	if ok {
		s.next = append(s.next, first)
	} else {
		s.next = append(s.next, -1)
	}
	s.seen[k] = n
	s.arena = append(s.arena, p...)
	s.off = append(s.off, int32(len(s.arena)))
	return true
}

// vote counts, for a link lo<hi, paths saying lo is the provider (prov[0])
// or hi is (prov[1]), and whether some path rules out peering.
type vote struct {
	prov    [2]uint32
	notPeer bool
}

// Infer infers AS relationships from AS paths (path[0] next to the
// observer, origin last) with the heuristic described in the package
// documentation. It reads paths once and keeps the distinct ones; the
// slices it is given may be reused by the caller after each step.
func Infer(paths iter.Seq[[]uint32], cfg InferConfig) *Graph {
	clique := cfg.Clique
	if clique == nil {
		clique = Tier1
		if cfg.IPv6 {
			clique = Tier1IPv6
		}
	}
	ratio := cfg.PeerDegreeRatio
	if ratio == 0 {
		ratio = 60
	}
	inClique := make(map[uint32]bool, len(clique))
	for _, a := range clique {
		inClique[a] = true
	}

	g := newGraph(0)
	st := &g.stats
	ps := &pathSet{off: []int32{0}, seen: map[uint64]int32{}, seed: maphash.MakeSeed()}

	// Step 1: clean and deduplicate.
	var buf []uint32
	where := map[uint32]struct{}{} // the ASes of a long path, for its loops
paths:
	for p := range paths {
		st.Paths++
		buf = buf[:0]
		for i, a := range p {
			if i == 0 || a != p[i-1] {
				buf = append(buf, a)
			}
		}
		if len(buf) < 2 {
			st.DroppedShort++
			continue
		}
		long := len(buf) > shortPath
		if long {
			clear(where)
		}
		for i, a := range buf {
			if ok, _ := bogon.ASN(a); ok {
				st.DroppedBogon++
				continue paths
			}
			var dup bool
			if long {
				_, dup = where[a]
				where[a] = struct{}{}
			} else {
				dup = slices.Contains(buf[:i], a)
			}
			if dup {
				st.DroppedLoop++
				continue paths
			}
		}
		ps.add(buf)
	}
	ps.seen, ps.next = nil, nil
	st.UniquePaths = ps.len()

	// Step 2: degrees. Node degree counts distinct neighbours; transit
	// degree distinct neighbours seen while the AS is mid-path.
	// Sized for RIS and RouteViews update files, where the distinct paths
	// are about five times the links (a tenth of the rehashing).
	adjacent := make(map[uint64]bool, ps.len()/2) // directed a<<32|b: b seen next to a; value: a was mid-path
	for i := range ps.len() {
		p := ps.path(i)
		for j, a := range p {
			mid := j > 0 && j < len(p)-1
			for _, nb := range [2]int{j - 1, j + 1} {
				if nb < 0 || nb >= len(p) {
					continue
				}
				k := uint64(a)<<32 | uint64(p[nb])
				if mid {
					adjacent[k] = true
				} else if _, ok := adjacent[k]; !ok {
					adjacent[k] = false
				}
			}
		}
	}
	nodeDeg := make(map[uint32]int, ps.len()/16)
	transitDeg := make(map[uint32]int, ps.len()/16)
	for k, mid := range adjacent {
		a := uint32(k >> 32)
		nodeDeg[a]++
		if mid {
			transitDeg[a]++
		}
	}
	adjacent = nil
	above := func(a, b uint32) bool { // a ranks above b
		if inClique[a] != inClique[b] {
			return inClique[a]
		}
		if transitDeg[a] != transitDeg[b] {
			return transitDeg[a] > transitDeg[b]
		}
		if nodeDeg[a] != nodeDeg[b] {
			return nodeDeg[a] > nodeDeg[b]
		}
		return a < b
	}

	// Step 3 and 4: votes and peering exclusions.
	votes := make(map[uint64]int32, ps.len()/4) // link -> index in vs
	var vs []vote
	// get returns the vote of link a-b and the side of a in it; the
	// pointer is good until the next get.
	get := func(a, b uint32) (*vote, int) {
		k, swapped := linkKey(a, b)
		i, ok := votes[k]
		if !ok {
			i = int32(len(vs))
			vs = append(vs, vote{})
			votes[k] = i
		}
		if swapped {
			return &vs[i], 1
		}
		return &vs[i], 0
	}
	// provider records one path's claim that prov is the provider of cust.
	provider := func(prov, cust uint32, notPeer bool) {
		v, side := get(prov, cust)
		v.prov[side]++
		v.notPeer = v.notPeer || notPeer
	}
	for i := range ps.len() {
		p := ps.path(i)
		lo, hi := -1, -1 // clique members in the path
		valley := false
		for j, a := range p {
			if !inClique[a] {
				continue
			}
			if lo < 0 {
				lo = j
			} else if j != hi+1 {
				valley = true
			}
			hi = j
		}
		if valley || (lo >= 0 && hi-lo > 1) {
			st.DroppedCliqueValley++
			continue
		}
		if lo < 0 {
			lo = 0
			for j := 1; j < len(p); j++ {
				if above(p[j], p[lo]) {
					lo = j
				}
			}
			hi = lo
		}
		// Observer side: p[j+1] is nearer the top, the provider.
		for j := 0; j < lo; j++ {
			provider(p[j+1], p[j], j < lo-1)
		}
		// Origin side: p[j] is nearer the top.
		for j := hi; j < len(p)-1; j++ {
			provider(p[j], p[j+1], j > hi)
		}
		if hi > lo {
			get(p[lo], p[hi]) // the clique link itself
			continue
		}
		// Gao phase 3 at a single top: of its two links, the one towards
		// the smaller neighbour is not peering.
		if lo > 0 && lo < len(p)-1 {
			if above(p[lo-1], p[lo+1]) {
				v, _ := get(p[lo], p[lo+1])
				v.notPeer = true
			} else {
				v, _ := get(p[lo-1], p[lo])
				v.notPeer = true
			}
		}
	}

	// Step 5: decide.
	g.links = make(map[uint64]Relation, len(votes))
	for k, i := range votes {
		v := &vs[i]
		a, b := uint32(k>>32), uint32(k)
		var rel Relation
		switch {
		case inClique[a] && inClique[b]:
			rel = Peer
			st.InferredClique++
		case v.prov[0] > 0 && v.prov[0] >= 3*v.prov[1]:
			rel = Provider
		case v.prov[1] > 0 && v.prov[1] >= 3*v.prov[0]:
			rel = Customer
		default:
			rel = Peer
		}
		if (rel == Provider || rel == Customer) && !v.notPeer && ratio > 0 {
			da, db := float64(max(nodeDeg[a], 1)), float64(max(nodeDeg[b], 1))
			if max(da, db) <= ratio*min(da, db) {
				rel = Peer
			}
		}
		if rel == Peer {
			st.InferredP2P++
		} else {
			st.InferredP2C++
		}
		g.links[k] = rel
	}
	g.finish()
	return g
}
