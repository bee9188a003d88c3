package asrel

import (
	"fmt"
	"slices"
	"testing"
)

func seq(paths ...[]uint32) func(func([]uint32) bool) {
	return func(yield func([]uint32) bool) {
		for _, p := range paths {
			if !yield(p) {
				return
			}
		}
	}
}

type relCheck struct {
	a, b uint32
	want Relation
}

func TestInferSmall(t *testing.T) {
	noRatio := InferConfig{PeerDegreeRatio: -1}
	tests := []struct {
		name  string
		cfg   InferConfig
		paths [][]uint32
		rels  []relCheck
		check func(t *testing.T, st Stats)
	}{
		{
			name:  "clique peering at the top, p2c on both sides",
			cfg:   noRatio,
			paths: [][]uint32{{3000, 174, 3356, 3001, 3002}},
			rels:  []relCheck{{174, 3356, Peer}, {174, 3000, Provider}, {3356, 3001, Provider}, {3001, 3002, Provider}},
			check: func(t *testing.T, st Stats) {
				if st.InferredClique != 1 || st.InferredP2C != 3 || st.InferredP2P != 1 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name: "top by transit degree without clique",
			cfg:  noRatio,
			paths: [][]uint32{
				{1001, 500, 1002}, {1003, 500, 1004}, {1005, 500, 1006},
				{1001, 500, 1006, 1007}, {1007, 1006, 500, 1003},
			},
			rels: []relCheck{{500, 1001, Provider}, {1003, 500, Customer}, {500, 1006, Provider}, {1006, 1007, Provider}},
		},
		{
			name:  "prepending collapsed",
			cfg:   noRatio,
			paths: [][]uint32{{3000, 3000, 174, 174, 174, 3001}},
			rels:  []relCheck{{174, 3000, Provider}, {174, 3001, Provider}, {3000, 3001, Unknown}},
			check: func(t *testing.T, st Stats) {
				if st.UniquePaths != 1 || st.Links != 2 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:  "duplicates counted once",
			cfg:   noRatio,
			paths: [][]uint32{{3000, 174, 3001}, {3000, 174, 174, 3001}, {3000, 174, 3001}},
			check: func(t *testing.T, st Stats) {
				if st.Paths != 3 || st.UniquePaths != 1 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:  "loops, reserved ASNs and short paths dropped",
			cfg:   noRatio,
			paths: [][]uint32{{3000, 174, 3001, 174}, {3000, 64512, 174}, {3000, 23456, 174}, {174}, {174, 174}, nil},
			check: func(t *testing.T, st Stats) {
				if st.DroppedLoop != 1 || st.DroppedBogon != 2 || st.DroppedShort != 3 || st.Links != 0 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:  "clique members apart or three in a row: the path has a valley",
			cfg:   noRatio,
			paths: [][]uint32{{174, 3000, 3356}, {174, 3356, 1299, 3000}},
			check: func(t *testing.T, st Stats) {
				if st.DroppedCliqueValley != 2 || st.Links != 0 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:  "IPv6 clique adds Hurricane Electric",
			cfg:   InferConfig{IPv6: true, PeerDegreeRatio: -1},
			paths: [][]uint32{{3000, 6939, 174, 3001}},
			rels:  []relCheck{{6939, 174, Peer}, {6939, 3000, Provider}},
		},
		{
			name:  "IPv4 clique: Hurricane Electric below a tier-1",
			cfg:   noRatio,
			paths: [][]uint32{{3000, 6939, 174, 3001}},
			rels:  []relCheck{{6939, 174, Customer}, {6939, 3000, Provider}},
		},
		{
			name:  "custom clique",
			cfg:   InferConfig{Clique: []uint32{100, 200}, PeerDegreeRatio: -1},
			paths: [][]uint32{{300, 100, 200, 400}, {174, 3356}},
			rels:  []relCheck{{100, 200, Peer}, {300, 100, Customer}, {174, 3356, Provider}},
		},
		{
			name:  "balanced votes make peers",
			cfg:   noRatio,
			paths: [][]uint32{{174, 1000, 1001}, {3356, 1001, 1000}},
			rels:  []relCheck{{1000, 1001, Peer}, {174, 1000, Provider}, {3356, 1001, Provider}},
		},
		{
			name:  "3:1 votes make provider-customer",
			cfg:   noRatio,
			paths: [][]uint32{{174, 1000, 1001}, {174, 1000, 1001, 5}, {174, 1000, 1001, 6}, {3356, 1001, 1000}},
			rels:  []relCheck{{1000, 1001, Provider}},
		},
		{
			name:  "Gao phase 3: top link between equals is peering",
			cfg:   InferConfig{},
			paths: [][]uint32{{2000, 1000, 1001, 2001}},
			rels:  []relCheck{{1000, 1001, Peer}, {1000, 2000, Provider}, {1001, 2001, Provider}},
		},
		{
			name:  "Gao phase 3 off: top link follows the votes",
			cfg:   noRatio,
			paths: [][]uint32{{2000, 1000, 1001, 2001}},
			rels:  []relCheck{{1000, 1001, Provider}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := Infer(seq(tc.paths...), tc.cfg)
			for _, c := range tc.rels {
				if got := g.Rel(c.a, c.b); got != c.want {
					t.Errorf("Rel(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
				}
			}
			if tc.check != nil {
				tc.check(t, g.Stats())
			}
		})
	}
}

// simulate computes, for every origin, the route every AS selects under
// the Gao-Rexford model (prefer customer, then peer, then provider routes;
// then the shorter path, then the lower next hop; export customer routes
// to everyone, other routes only to customers) and returns every AS's
// path to every origin, observer first.
func simulate(g *Graph) [][]uint32 {
	var out [][]uint32
	const (
		fromCustomer = iota
		fromPeer
		fromProvider
	)
	for _, o := range g.asns {
		best := map[uint32][]uint32{o: {o}}
		class := map[uint32]int{o: fromCustomer}
		better := func(a uint32, cand []uint32, cl int) bool {
			cur, ok := best[a]
			switch {
			case slices.Contains(cand[1:], a):
				return false
			case !ok || cl < class[a]:
				return true
			case cl > class[a]:
				return false
			case len(cand) != len(cur):
				return len(cand) < len(cur)
			}
			return cand[1] < cur[1]
		}
		// relax offers the routes of ASes whose class is in from to
		// their neighbours of relation rel (what the neighbour is to
		// them), until nothing changes.
		relax := func(from []int, rel Relation, cl int) {
			for changed := true; changed; {
				changed = false
				for _, x := range g.asns {
					p, ok := best[x]
					if !ok || !slices.Contains(from, class[x]) {
						continue
					}
					for nb, r := range g.Neighbors(x) {
						if r.Reverse() != rel {
							continue
						}
						cand := append([]uint32{nb}, p...)
						if better(nb, cand, cl) {
							best[nb], class[nb] = cand, cl
							changed = true
						}
					}
				}
			}
		}
		relax([]int{fromCustomer}, Provider, fromCustomer)                         // up to providers
		relax([]int{fromCustomer}, Peer, fromPeer)                                 // across one peering
		relax([]int{fromCustomer, fromPeer, fromProvider}, Customer, fromProvider) // down to customers
		for _, a := range g.asns {
			if p, ok := best[a]; ok && a != o {
				out = append(out, p)
			}
		}
	}
	return out
}

// hierarchy builds a three-level topology: the tier-1s 174, 3356 and 1299
// in a clique, each with 20 single-homed stub customers (3000+); six
// tier-2s (1000-1005) buying from one or two tier-1s, three tier-2
// peerings, and 30 stubs (2000+) under the tier-2s, every fifth
// multihomed.
func hierarchy() string {
	var s string
	add := func(a, b uint32, rel int) { s += fmt.Sprintf("%d|%d|%d\n", a, b, rel) }
	t1 := []uint32{174, 3356, 1299}
	add(174, 3356, 0)
	add(174, 1299, 0)
	add(3356, 1299, 0)
	for i := range 60 {
		add(t1[i%3], 3000+uint32(i), -1)
	}
	t2providers := map[uint32][]uint32{1000: {174, 3356}, 1001: {3356, 1299}, 1002: {1299}, 1003: {174}, 1004: {3356}, 1005: {1299, 174}}
	for c, ps := range t2providers {
		for _, p := range ps {
			add(p, c, -1)
		}
	}
	add(1000, 1001, 0)
	add(1002, 1003, 0)
	add(1004, 1005, 0)
	for i := range 30 {
		add(1000+uint32(i%6), 2000+uint32(i), -1)
		if i%5 == 0 {
			add(1000+uint32((i+1)%6), 2000+uint32(i), -1)
		}
	}
	return s
}

// TestInferSimulated infers relationships from the paths every AS of a
// known hierarchy would see, and must recover every link.
func TestInferSimulated(t *testing.T) {
	truth := mustRead(t, hierarchy())
	paths := simulate(truth)
	if len(paths) < 5000 {
		t.Fatalf("simulation produced only %d paths", len(paths))
	}
	for _, p := range paths {
		if ok, i, _ := truth.ValleyFree(p); !ok {
			t.Fatalf("simulated path %v not valley-free at %d", p, i)
		}
	}
	cases := []struct {
		name string
		cfg  InferConfig
		// wrong lists links the heuristic is known to get wrong in this
		// configuration.
		wrong map[[2]uint32]Relation
	}{
		// Tier-1 degree 25 vs tier-2 degree 8-10; tier-2 peers within
		// 1.5x of each other.
		{"degree ratio 1.5", InferConfig{PeerDegreeRatio: 1.5}, nil},
		// Without Gao's phase 3 the tier-2 peerings look like transit
		// from the higher-ranked side.
		{"no peering rule", InferConfig{PeerDegreeRatio: -1}, map[[2]uint32]Relation{
			{1000, 1001}: Provider, {1002, 1003}: Provider, {1004, 1005}: Customer,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := Infer(seq(paths...), tc.cfg)
			if g.Len() != truth.Len() {
				t.Errorf("inferred %d links, truth has %d", g.Len(), truth.Len())
			}
			for l := range truth.Links() {
				want := l.Rel
				if w, ok := tc.wrong[[2]uint32{l.A, l.B}]; ok {
					want = w
				}
				if got := g.Rel(l.A, l.B); got != want {
					t.Errorf("Rel(%d, %d) = %v, truth %v, expected %v", l.A, l.B, got, l.Rel, want)
				}
			}
			for _, p := range paths {
				if ok, _, unknown := g.ValleyFree(p); tc.wrong == nil && (!ok || unknown != 0) {
					t.Errorf("path %v: inferred graph says valley-free %v, %d unknown", p, ok, unknown)
				}
			}
		})
	}
}

func BenchmarkInferSimulated(b *testing.B) {
	truth := mustRead(b, hierarchy())
	paths := simulate(truth)
	b.ReportAllocs()
	for b.Loop() {
		Infer(seq(paths...), InferConfig{})
	}
	b.ReportMetric(float64(len(paths)), "paths")
}
