package features

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// readDemo reads a committed 2008 route-views2 update file.
func readDemo(t *testing.T, name string) []bgpfeed.Update {
	return readMRT(t, filepath.Join("..", "testdata", "demo", name))
}

// readMRT reads every update of an MRT file (a read error fails the test).
func readMRT(t *testing.T, path string) []bgpfeed.Update {
	t.Helper()
	r, err := mrt.Open([]string{path}, mrt.Options{Interner: bgpfeed.NewInterner(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	us, err := bgpfeed.ReadAll(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// TestDeferRelationsSame: a state that learns the warm-up before the
// relationships come (DeferRelations, Observe while LearnsOnly, then
// UseInferredRelations) scores every update after it as a state that had
// them from the start: the same candidates, the same vectors bit for bit,
// the same counts. The committed 2008 files have valleys in the warm-up,
// so dropping what was deferred changes vectors (the leaker bursts and
// established leaks), which the test checks too: it would catch a
// deferral that lost them.
func TestDeferRelationsSame(t *testing.T) {
	us := readDemo(t, "updates.20080224.1824.bz2")
	seen := NewPathSet()
	for _, u := range us {
		if u.Kind == bgpfeed.KindAnnounce && u.Attrs != nil && u.Attrs.Path != nil {
			seen.Add(u.Attrs.Path)
		}
	}
	g := seen.Infer()

	cfg := Config{Warmup: 5 * time.Minute}
	// run observes us[from:] and returns every vector (nil: no candidate).
	run := func(s *State, from int) [][]float64 {
		out := make([][]float64, len(us))
		for i := from; i < len(us); i++ {
			vec := make([]float64, NumFeatures)
			if s.Observe(&us[i], vec) != nil {
				out[i] = vec
			}
		}
		return out
	}
	ref := NewState(cfg)
	ref.UseInferredRelations(g)
	want := run(ref, 0)

	// deferred learns the warm-up first; dropDeferred loses what it kept.
	deferred := func(drop bool) (*State, [][]float64, int) {
		s := NewState(cfg)
		s.DeferRelations()
		n := 0
		for n < len(us) && s.LearnsOnly(&us[n]) {
			if s.Observe(&us[n], nil) != nil {
				t.Fatalf("update %d: a candidate while LearnsOnly", n)
			}
			n++
		}
		if len(s.deferred) == 0 {
			t.Fatal("no changed path with a valley in the warm-up: the test proves nothing")
		}
		if drop {
			s.deferred = nil
		}
		s.UseInferredRelations(g)
		return s, run(s, n), n
	}
	s, got, n := deferred(false)
	if n == 0 || n == len(us) {
		t.Fatalf("warm-up of %d of %d updates", n, len(us))
	}
	cands := 0
	for i := range us {
		if (got[i] == nil) != (want[i] == nil) {
			t.Fatalf("update %d: candidate %v, want %v", i, got[i] != nil, want[i] != nil)
		}
		for j := range got[i] {
			if math.Float64bits(got[i][j]) != math.Float64bits(want[i][j]) {
				t.Fatalf("update %d: %s = %v, want %v", i, Names[j], got[i][j], want[i][j])
			}
		}
		if got[i] != nil {
			cands++
		}
	}
	if cands < 100 {
		t.Fatalf("%d candidates: too few to compare", cands)
	}
	o1, s1, l1 := s.Counts()
	o2, s2, l2 := ref.Counts()
	if o1 != o2 || s1 != s2 || l1 != l2 {
		t.Errorf("counts %d %d %d, want %d %d %d", o1, s1, l1, o2, s2, l2)
	}

	_, lost, _ := deferred(true)
	differ := 0
	for i := range us {
		for j := range lost[i] {
			if want[i] != nil && math.Float64bits(lost[i][j]) != math.Float64bits(want[i][j]) {
				differ++
				break
			}
		}
	}
	if differ == 0 {
		t.Error("dropping the deferred leaks changed no vector: the test cannot tell a deferral that loses them")
	}
	t.Logf("%d updates, %d in the warm-up, %d candidates compared; %d vectors differ without the deferred leaks", len(us), n, cands, differ)
}

// TestPathSetOrder: the relationships inferred from a set of paths do not
// depend on the order the paths come in (PathSet gives them in the order
// they were added; a map gave them in random order): the same links, each
// with the same relationship, and the same statistics, on the paths of a
// real update file, forwards, backwards and shuffled.
func TestPathSetOrder(t *testing.T) {
	var paths []*bgpfeed.Path
	seen := map[*bgpfeed.Path]bool{}
	for _, u := range readDemo(t, "updates.20080224.1839.bz2") {
		if u.Kind == bgpfeed.KindAnnounce && u.Attrs != nil && u.Attrs.Path != nil && !seen[u.Attrs.Path] {
			seen[u.Attrs.Path] = true
			paths = append(paths, u.Attrs.Path)
		}
	}
	infer := func(ps []*bgpfeed.Path) (map[[2]uint32]string, string) {
		set := NewPathSet()
		for _, p := range ps {
			set.Add(p)
			set.Add(p) // a second time: no change
		}
		if set.Len() != len(ps) {
			t.Fatalf("%d paths in the set, want %d", set.Len(), len(ps))
		}
		g := set.Infer()
		links := map[[2]uint32]string{}
		for l := range g.Links() {
			links[[2]uint32{l.A, l.B}] = fmt.Sprint(g.Rel(l.A, l.B))
		}
		return links, fmt.Sprintf("%+v", g.Stats())
	}
	want, wantStats := infer(paths)
	if len(want) < 1000 {
		t.Fatalf("%d links inferred: too few to compare", len(want))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 4 {
		ps := slices.Clone(paths)
		if i == 0 {
			slices.Reverse(ps)
		} else {
			rng.Shuffle(len(ps), func(a, b int) { ps[a], ps[b] = ps[b], ps[a] })
		}
		got, stats := infer(ps)
		if !maps.Equal(got, want) || stats != wantStats {
			t.Fatalf("order %d: %d links (%s), want %d (%s)", i, len(got), stats, len(want), wantStats)
		}
	}
}

// BenchmarkObserve: a state with relationships inferred from the input
// observes the committed 2008 files (59k and 44k updates, a 5-minute
// warm-up), vectors for the candidates; per update.
func BenchmarkObserve(b *testing.B) {
	t := &testing.T{}
	us := append(readDemo(t, "updates.20080224.1824.bz2"), readDemo(t, "updates.20080224.1839.bz2")...)
	set := NewPathSet()
	for _, u := range us {
		if u.Kind == bgpfeed.KindAnnounce && u.Attrs != nil && u.Attrs.Path != nil {
			set.Add(u.Attrs.Path)
		}
	}
	g := set.Infer()
	vec := make([]float64, NumFeatures)
	b.ResetTimer()
	for b.Loop() {
		s := NewState(Config{Warmup: 5 * time.Minute})
		s.UseInferredRelations(g)
		for i := range us {
			s.Observe(&us[i], vec)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(us)), "ns/update")
}
