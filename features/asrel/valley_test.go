package asrel

import "testing"

// toy is a hand-built topology (serial-1: a|b|-1 means a is b's
// provider): tier-1s 10 and 20 peer; 10 sells transit to 1 and 2, 20 to
// 3, 4 and 7; 2 peers with 3 and 3 with 4; 1 sells to 5; 6 buys from both
// 2 and 3; 7 (made a sibling of 2 by toyGraph) sells to 8. AS 99 has no
// known link.
const toy = `10|20|0
10|1|-1
10|2|-1
20|3|-1
20|4|-1
20|7|-1
2|3|0
3|4|0
1|5|-1
2|6|-1
3|6|-1
2|7|0
7|8|-1
`

func toyGraph(t testing.TB) *Graph {
	g := mustRead(t, toy)
	g.MarkSiblings(func(a, b uint32) bool { return a+b == 9 && (a == 2 || a == 7) })
	if g.Rel(2, 7) != Sibling {
		t.Fatal("sibling not marked")
	}
	return g
}

func TestValleyFree(t *testing.T) {
	g := toyGraph(t)
	tests := []struct {
		name    string
		path    []uint32 // observer first, origin last
		ok      bool
		first   int
		unknown int
		leak    LeakType
		leaker  int
		from    int
	}{
		{"uphill only", []uint32{10, 1, 5}, true, -1, 0, NoLeak, -1, -1},
		{"up, peer, down", []uint32{5, 1, 10, 20, 3, 6}, true, -1, 0, NoLeak, -1, -1},
		{"up then down", []uint32{6, 2, 10, 1, 5}, true, -1, 0, NoLeak, -1, -1},
		{"peer at the bottom", []uint32{2, 3, 6}, true, -1, 0, NoLeak, -1, -1},
		{"single AS", []uint32{5}, true, -1, 0, NoLeak, -1, -1},
		{"empty", nil, true, -1, 0, NoLeak, -1, -1},
		{"prepending ignored", []uint32{10, 10, 1, 1, 1, 5}, true, -1, 0, NoLeak, -1, -1},
		// 6 learns from provider 2 and gives it to provider 3.
		{"type 1 hairpin", []uint32{20, 3, 6, 2, 10, 1, 5}, false, 1, 0, LeakHairpin, 2, 3},
		{"type 1 with prepending", []uint32{20, 3, 6, 6, 6, 2, 10}, false, 1, 0, LeakHairpin, 2, 5},
		{"receiver prepends", []uint32{20, 3, 3, 6, 2, 10}, false, 2, 0, LeakHairpin, 3, 4},
		// 3 learns from peer 2 and gives it to peer 4.
		{"type 2 lateral", []uint32{4, 3, 2, 6}, false, 0, 0, LeakLateral, 1, 2},
		// 3 learns from provider 20 and gives it to peer 2.
		{"type 3 provider to peer", []uint32{2, 3, 20, 10, 1}, false, 0, 0, LeakProviderToPeer, 1, 2},
		// 4 learns from peer 3 and gives it to provider 20.
		{"type 4 peer to provider", []uint32{20, 4, 3, 6}, false, 0, 0, LeakPeerToProvider, 1, 2},
		// After the peering 2-3, 3 may not climb to 20.
		{"peer then climb", []uint32{10, 20, 3, 2, 6}, false, 1, 0, LeakPeerToProvider, 2, 3},
		// Sibling links are neutral: 8 -> 7 -> 2 -> 10 is uphill.
		{"through a sibling", []uint32{20, 10, 2, 7, 8}, true, -1, 0, NoLeak, -1, -1},
		// The link 7-3 is unknown: no violation.
		{"sibling then unknown", []uint32{3, 7, 2, 10, 1}, true, -1, 1, NoLeak, -1, -1},
		// 7 passes to its provider 20 what its sibling 2 learned from
		// provider 10: a hairpin learned (through the sibling) at index 3.
		{"leak through a sibling", []uint32{20, 7, 2, 10, 1}, false, 0, 0, LeakHairpin, 1, 3},
		// Unknown links never cause a violation by themselves.
		{"unknown link", []uint32{10, 1, 99, 5}, true, -1, 2, NoLeak, -1, -1},
		{"unknown after the top", []uint32{99, 5, 1, 10, 20, 3}, true, -1, 1, NoLeak, -1, -1},
		// After a known descent an unknown link keeps the descent: the
		// later climb is still a violation, but its cause is unknown.
		{"unknown then climb", []uint32{20, 3, 99, 2, 10, 1}, false, 0, 2, LeakUnclassified, 1, 2},
		{"unknown counted after violation", []uint32{99, 20, 3, 6, 2, 10}, false, 2, 1, LeakHairpin, 3, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, first, unknown := g.ValleyFree(tc.path)
			if ok != tc.ok || first != tc.first || unknown != tc.unknown {
				t.Errorf("ValleyFree(%v) = %v, %d, %d; want %v, %d, %d", tc.path, ok, first, unknown, tc.ok, tc.first, tc.unknown)
			}
			l := g.Leak(tc.path)
			if l.Type != tc.leak || l.Leaker != tc.leaker || l.From != tc.from {
				t.Errorf("Leak(%v) = %+v (%v); want %v leaker %d from %d", tc.path, l, l.Type, tc.leak, tc.leaker, tc.from)
			}
			if l.Type != NoLeak && (l.To != tc.first || tc.path[l.Leaker] == tc.path[l.To]) {
				t.Errorf("Leak(%v).To = %d, want the receiving AS at %d", tc.path, l.To, tc.first)
			}
			if (l.Type == NoLeak) != ok {
				t.Errorf("leak %v but valley-free %v", l.Type, ok)
			}
		})
	}
}

func TestLeakTypeNames(t *testing.T) {
	for typ, want := range map[LeakType]struct {
		s string
		n int
	}{
		NoLeak: {"none", 0}, LeakHairpin: {"type1-hairpin", 1}, LeakLateral: {"type2-lateral", 2},
		LeakProviderToPeer: {"type3-provider-to-peer", 3}, LeakPeerToProvider: {"type4-peer-to-provider", 4},
		LeakUnclassified: {"unclassified", 0},
	} {
		if typ.String() != want.s || typ.RFC7908() != want.n {
			t.Errorf("%d: %q %d, want %q %d", typ, typ.String(), typ.RFC7908(), want.s, want.n)
		}
	}
}

// TestRealLeaks checks the leak types on relationships from the TopoScope
// excerpt (2018-06).
func TestRealLeaks(t *testing.T) {
	g, err := Load(excerpt)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path []uint32
		want LeakType
	}{
		{"Cloudflare via Cogent seen by Level 3", []uint32{3356, 174, 13335}, NoLeak},
		{"Cloudflare passing Telia's route to Cogent", []uint32{174, 13335, 1299}, LeakHairpin},
		{"Cloudflare passing Telia's route to HE", []uint32{6939, 13335, 1299}, LeakProviderToPeer},
		{"Cloudflare passing HE's route to Telia", []uint32{1299, 13335, 6939}, LeakPeerToProvider},
		{"HE passing Telia's route to Level 3", []uint32{3356, 6939, 1299}, LeakLateral},
	}
	for _, tc := range tests {
		if l := g.Leak(tc.path); l.Type != tc.want || (tc.want != NoLeak && l.Leaker != 1) {
			t.Errorf("%s: Leak(%v) = %+v, want %v by index 1", tc.name, tc.path, l, tc.want)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte{20, 3, 6, 2, 10, 1, 5})
	f.Add([]byte{99, 5, 1, 10, 20, 3})
	f.Add([]byte{3, 7, 2, 10, 1})
	g := toyGraph(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		path := make([]uint32, len(b))
		for i, c := range b {
			path[i] = uint32(c % 12)
		}
		c := g.Check(path)
		if c.ValleyFree != (c.FirstViolation < 0) || c.ValleyFree != (c.Leak.Type == NoLeak) {
			t.Fatalf("%v: inconsistent %+v", path, c)
		}
		if c.Unknown > c.Links || c.Links >= max(len(path), 1) {
			t.Fatalf("%v: counts %+v", path, c)
		}
		if !c.ValleyFree {
			i := c.FirstViolation
			if i < 0 || i+1 >= len(path) || path[i] == path[i+1] || c.Leak.Leaker != i+1 || c.Leak.To != i {
				t.Fatalf("%v: violation index %d, leak %+v", path, i, c.Leak)
			}
		}
		// Dropping the observer end can only remove violations there.
		if c.ValleyFree && len(path) > 1 {
			if ok, _, _ := g.ValleyFree(path[1:]); !ok {
				t.Fatalf("%v valley-free but its suffix is not", path)
			}
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	g := toyGraph(b)
	path := []uint32{20, 3, 6, 6, 6, 2, 10, 1, 5}
	b.ReportAllocs()
	var sink PathCheck
	for b.Loop() {
		sink = g.Check(path)
	}
	_ = sink
}
