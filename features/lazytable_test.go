package features

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features/ptrie"
)

// lazyTestTable makes a table with nested prefixes (dense, so that covering
// chains and more than 33 more-specifics occur), repeated prefixes, several
// origins, AS sets, origin 0, a path through two ASes, unmasked, invalid
// prefixes and nil paths, in both families, in random order.
func lazyTestTable(r *rand.Rand, path func(set bool, asns ...uint32) *bgpfeed.Path, n int) []TableEntry {
	var es []TableEntry
	for range n {
		var p netip.Prefix
		if r.IntN(4) == 0 {
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(4))}), 16+r.IntN(25))
		} else {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + r.IntN(3)), byte(r.IntN(8)), byte(r.IntN(4) * 64), byte(r.IntN(2) * 128)}), 8+r.IntN(18))
		}
		if r.IntN(10) != 0 {
			p = p.Masked()
		}
		e := TableEntry{Prefix: p, Path: path(false, uint32(64500+r.IntN(40)))}
		switch r.IntN(60) {
		case 0:
			e.Path = nil
		case 1:
			e.Prefix = netip.Prefix{}
		case 2:
			e.Path = path(false, 0)
		case 3:
			e.Path = path(true, 64500, 64501)
		case 4:
			e.Path = path(false, 64502, 64503)
		case 5:
			e.Path = path(true, 64504)
		}
		es = append(es, e)
	}
	return es
}

// originEntries are table entries as a prefix-to-origin reader gives them
// (prefix2as.Reader.ReadOrigins): one-AS paths by their origin, an entry
// without a path as an invalid one (neither is learned).
func originEntries(es []TableEntry) []OriginEntry {
	out := make([]OriginEntry, len(es))
	for i, e := range es {
		switch {
		case e.Path == nil:
		case len(e.Path.Segments) == 1 && e.Path.Segments[0].Type == bgpfeed.SegSequence && len(e.Path.Segments[0].ASNs) == 1:
			out[i] = OriginEntry{Prefix: e.Prefix, ASN: e.Path.Segments[0].ASNs[0]}
		default:
			out[i] = OriginEntry{Prefix: e.Prefix, Attrs: &bgpfeed.Attrs{Path: e.Path}}
		}
	}
	return out
}

// TestLazyTableSameAsLearnTable: a state given a table by LearnOriginsLazy
// scores a stream of updates exactly as one given it by LearnTable (every
// vector and candidate), and ends the same (counters, origins, links,
// degrees, inference paths, every prefix).
func TestLazyTableSameAsLearnTable(t *testing.T) {
	for seed := range uint64(4) {
		r, in, path := lazyTestPaths(seed, 7)
		es := lazyTestTable(r, path, 6000)
		if seed <= 1 {
			// Sorted, as real tables are (no sort when sealing); for seed
			// 1, but for one IPv6 entry moved to the end (the IPv4 entries
			// indexed as they come, the IPv6 ones sorted when sealed).
			slices.SortStableFunc(es, func(a, b TableEntry) int {
				if !a.Prefix.IsValid() || !b.Prefix.IsValid() {
					return cmp.Compare(b2f(a.Prefix.IsValid()), b2f(b.Prefix.IsValid()))
				}
				if c := a.Prefix.Masked().Addr().Compare(b.Prefix.Masked().Addr()); c != 0 {
					return c
				}
				return a.Prefix.Bits() - b.Prefix.Bits()
			})
			if seed == 1 {
				i := slices.IndexFunc(es, func(e TableEntry) bool { return e.Prefix.IsValid() && e.Prefix.Addr().Is6() })
				es = append(append(es[:i:i], es[i+1:]...), es[i])
			}
		}
		t0 := time.Date(2026, 7, 30, 0, 0, 0, 0, time.UTC)
		cfg := Config{Young: time.Hour}
		a, b := NewState(cfg), NewState(cfg)
		a.LearnTable(t0, es[:3500])
		a.LearnTable(t0.Add(time.Hour), es[3500:])
		b.LearnOriginsLazy(t0, originEntries(es[:3500]), in)
		b.ReserveLazy(3000, 1000)
		b.LearnOriginsLazy(t0.Add(time.Hour), originEntries(es[3500:]), in)
		if b.lazy == nil || b.lazy.sealed {
			t.Fatal("the table was not kept lazily")
		}
		if seed <= 1 && (b.lazy.v4.unsorted || b.lazy.v6.unsorted != (seed == 1)) || seed > 1 && !b.lazy.v4.unsorted {
			t.Fatalf("seed %d: unsorted IPv4 %v, IPv6 %v", seed, b.lazy.v4.unsorted, b.lazy.v6.unsorted)
		}
		if a.Prefixes() != b.Prefixes() {
			t.Fatalf("prefixes: %d vs %d", a.Prefixes(), b.Prefixes())
		}
		if seed == 3 {
			// Entries put in the trie ahead of the updates change nothing
			// (TouchTable, once sealed).
			b.TouchTable(es[0].Prefix)
			if b.Prefixes() != a.Prefixes() || !b.lazy.sealed {
				t.Fatal("not sealed")
			}
			for range 2000 {
				if e := es[r.IntN(len(es))]; e.Prefix.IsValid() {
					b.TouchTable(netip.PrefixFrom(e.Prefix.Addr(), max(e.Prefix.Bits()-r.IntN(4), 0)).Masked())
				}
			}
		}
		sameAnswers(t, seed, r, a, b, es, path, t0)
	}
}

// observeBoth has a and b observe u (ObserveAll, into va and vb) and
// reports whether they answered the same.
func observeBoth(a, b *State, u *bgpfeed.Update, va, vb []float64) (ca, cb *Candidate, ga, gb, same bool) {
	clear(va)
	clear(vb)
	ca, ga = a.ObserveAll(u, va)
	cb, gb = b.ObserveAll(u, vb)
	return ca, cb, ga, gb, ga == gb && reflect.DeepEqual(ca, cb) && slices.Equal(va, vb)
}

// lazyTestPaths: the random source of a lazy-table test, and paths
// interned in one interner (an AS_SET when set).
func lazyTestPaths(seed, stream uint64) (*rand.Rand, *bgpfeed.Interner, func(set bool, asns ...uint32) *bgpfeed.Path) {
	in := bgpfeed.NewInterner(0)
	return rand.New(rand.NewPCG(seed, stream)), in, func(set bool, asns ...uint32) *bgpfeed.Path {
		segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: asns}}
		if set {
			segs[0].Type = bgpfeed.SegSet
		}
		return in.Intern(bgpfeed.AppendKey(nil, segs), segs)
	}
}

// sameAnswers feeds states a and b, given the table es (of times t0 and
// t0 + 1h), the same 4,000 random updates near its prefixes and fails
// unless every vector and candidate is the same, b keeps entries pending
// (the test tests laziness), and the states end the same (counters,
// origins, links, degrees, inference paths, every prefix).
func sameAnswers(t *testing.T, seed uint64, r *rand.Rand, a, b *State, es []TableEntry, path func(set bool, asns ...uint32) *bgpfeed.Path, t0 time.Time) {
	t.Helper()
	sameAnswersTo(t, seed, a, b, lazyTestUpdates(r, es, path, t0), nil)
}

// lazyTestUpdates are sameAnswers' 4,000 random updates near the prefixes
// of the table es (of times t0 and t0 + 1h).
func lazyTestUpdates(r *rand.Rand, es []TableEntry, path func(set bool, asns ...uint32) *bgpfeed.Path, t0 time.Time) []bgpfeed.Update {
	us := make([]bgpfeed.Update, 0, 4000)
	for i := range 4000 {
		var p netip.Prefix
		switch r.IntN(4) {
		case 0: // a short prefix, covering many
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + r.IntN(3))}), 6+r.IntN(6)).Masked()
		case 1:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + r.IntN(3)), byte(r.IntN(8)), byte(r.IntN(256)), byte(r.IntN(256))}), 8+r.IntN(25)).Masked()
		default:
			for !p.IsValid() {
				p = es[r.IntN(len(es))].Prefix.Masked()
			}
			if p.Addr().Is6() && r.IntN(3) == 0 {
				p = netip.PrefixFrom(p.Addr(), p.Bits()-r.IntN(8)).Masked()
			}
		}
		peer := r.IntN(6)
		u := bgpfeed.Update{Time: t0.Add(2*time.Hour + time.Duration(i)*time.Second), Source: "rrc00", Kind: bgpfeed.KindAnnounce,
			PeerAddr: netip.AddrFrom4([4]byte{192, 0, 2, byte(peer)}), PeerASN: uint32(65000 + peer), Prefix: p,
			Attrs: &bgpfeed.Attrs{Path: path(false, uint32(65000+peer), uint32(64490+r.IntN(10)), uint32(64500+r.IntN(45)))}}
		if r.IntN(8) == 0 {
			u.Kind, u.Attrs = bgpfeed.KindWithdraw, nil
		}
		us = append(us, u)
	}
	return us
}

// sameAnswersTo is sameAnswers with the updates given; observed, if not
// nil, is called once they are observed, before the states are compared.
func sameAnswersTo(t *testing.T, seed uint64, a, b *State, us []bgpfeed.Update, observed func()) {
	t.Helper()
	va, vb := make([]float64, NumFeatures), make([]float64, NumFeatures)
	scored := 0
	for i := range us {
		u := us[i]
		ca, cb, ga, gb, same := observeBoth(a, b, &u, va, vb)
		if !same {
			t.Fatalf("seed %d, update %d (%v %v): gated %v/%v\n%+v\n%+v\n%v\n%v", seed, i, u.Kind, u.Prefix, ga, gb, ca, cb, va, vb)
		}
		if ga {
			scored++
		}
	}
	if scored < 500 {
		t.Fatalf("only %d updates scored", scored)
	}
	if observed != nil {
		observed()
	}
	if b.lazy == nil {
		t.Fatal("every entry was touched: the test does not test laziness")
	}
	if a.observed != b.observed || a.learned != b.learned || a.scored != b.scored || a.now != b.now || a.Prefixes() != b.Prefixes() {
		t.Fatalf("counters: %d/%d/%d/%d/%d vs %d/%d/%d/%d/%d", a.observed, a.learned, a.scored, a.now, a.Prefixes(), b.observed, b.learned, b.scored, b.now, b.Prefixes())
	}
	if !reflect.DeepEqual(a.inferPaths, b.inferPaths) || !reflect.DeepEqual(a.origins, b.origins) || !reflect.DeepEqual(a.links, b.links) || !reflect.DeepEqual(a.degree, b.degree) {
		t.Fatal("inference paths, origins, links or degrees differ")
	}
	var sa, sb bytes.Buffer
	if err := a.Save(&sa); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(&sb); err != nil { // materializes the rest
		t.Fatal(err)
	}
	if b.lazy != nil || a.prefixes.Len() != b.prefixes.Len() {
		t.Fatalf("after Save: %d prefixes vs %d", a.prefixes.Len(), b.prefixes.Len())
	}
	for p, ps := range a.prefixes.All() {
		qs, ok := b.prefixes.Get(p)
		if !ok || qs.first != ps.first || !reflect.DeepEqual(qs.origins, ps.origins) || !reflect.DeepEqual(qs.routes, ps.routes) {
			t.Fatalf("%v: %+v vs %+v", p, ps, qs)
		}
	}
}

// TestLazyTableFallsBack: a state that has seen an update learns a table
// at once; a lazy table is sealed by the first update, and a table after
// it is learned at once too; Featurize refuses a pending table.
func TestLazyTableFallsBack(t *testing.T) {
	in := bgpfeed.NewInterner(0)
	segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: []uint32{64500}}}
	p := in.Intern(bgpfeed.AppendKey(nil, segs), segs)
	t0 := time.Date(2026, 7, 30, 0, 0, 0, 0, time.UTC)
	es := []TableEntry{{netip.MustParsePrefix("10.0.0.0/8"), p}, {netip.MustParsePrefix("10.1.0.0/16"), p}}
	s := NewState(Config{})
	s.LearnOriginsLazy(t0, originEntries(es[:1]), in)
	if s.lazy == nil {
		t.Fatal("not lazy")
	}
	vec := make([]float64, NumFeatures)
	u := bgpfeed.Update{Time: t0, Kind: bgpfeed.KindAnnounce, Prefix: netip.MustParsePrefix("10.2.0.0/16"), Attrs: &bgpfeed.Attrs{Path: p}}
	if _, err := s.Featurize(&u, vec); err == nil {
		t.Fatal("Featurize with a pending table")
	}
	s.Observe(&bgpfeed.Update{Time: t0, Kind: bgpfeed.KindState, PeerAddr: netip.MustParseAddr("192.0.2.1")}, nil)
	if s.lazy == nil || !s.lazy.sealed {
		t.Fatal("not sealed by an update")
	}
	s.LearnOriginsLazy(t0, originEntries(es[1:]), in)
	if got := s.OriginsOf(netip.MustParsePrefix("10.1.0.0/16")); !slices.Equal(got, []uint32{64500}) {
		t.Fatalf("origins of the table after the seal: %v", got)
	}
	if got := s.OriginsOf(netip.MustParsePrefix("10.0.0.0/8")); !slices.Equal(got, []uint32{64500}) {
		t.Fatalf("origins of the lazy table: %v", got)
	}
	if s.lazy != nil {
		t.Fatal("a table with every entry touched stays")
	}
	if _, err := s.Featurize(&u, vec); err != nil {
		t.Fatal(err)
	}
}

// TestLazyLookupsMatchTrie: the sorted arrays answer what a trie holding
// the same prefixes answers: the entry of a prefix, those covering it, and
// those it covers (in the same order).
func TestLazyLookupsMatchTrie(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	in := bgpfeed.NewInterner(0)
	path := func(set bool, asns ...uint32) *bgpfeed.Path {
		segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: asns}}
		return in.Intern(bgpfeed.AppendKey(nil, segs), segs)
	}
	es := lazyTestTable(r, path, 5000)
	s := NewState(Config{})
	s.LearnOriginsLazy(time.Unix(0, 0), originEntries(es), in)
	s.touchLazyPrefix(netip.Prefix{}) // seal
	var tr ptrie.Trie[bool]
	for _, e := range es {
		if e.Prefix.IsValid() && e.Path != nil {
			tr.Insert(e.Prefix, true) //nolint:errcheck
		}
	}
	lt := s.lazy
	for i := range 20000 {
		var p netip.Prefix
		if i%2 == 0 {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(5)), byte(r.IntN(8)), byte(r.IntN(256)), byte(r.IntN(256))}), r.IntN(33)).Masked()
		} else {
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(4))}), r.IntN(60)).Masked()
		}
		var want, wantCovered []netip.Prefix
		for q := range tr.Covering(p) {
			want = append(want, q)
		}
		for q := range tr.Covered(p) {
			wantCovered = append(wantCovered, q)
		}
		var got, gotCovered []netip.Prefix
		if p.Addr().Is4() {
			got, gotCovered = lazyLookups(&lt.v4, key4of(p.Addr()), uint8(p.Bits()))
		} else {
			got, gotCovered = lazyLookups(&lt.v6, key6of(p.Addr()), uint8(p.Bits()))
		}
		if !slices.Equal(got, want) || !slices.Equal(gotCovered, wantCovered) {
			t.Fatalf("%v: covering %v, want %v; covered %v, want %v", p, got, want, gotCovered, wantCovered)
		}
	}
}

// lazyLookups lists the distinct prefixes covering k/bits (shortest first)
// and covered by it, as touchFamily finds them.
func lazyLookups[K lazyKey[K]](f *lazyFamily[K], k K, bits uint8) (covering, covered []netip.Prefix) {
	pos := f.upper(k, bits)
	c := pos - 1
	for c >= 0 && !f.covers(c, k, bits) {
		c = int(f.parent[c])
	}
	for ; c >= 0; c = int(f.parent[c]) {
		if p := f.es[c].key.prefix(f.es[c].bits); len(covering) == 0 || covering[0] != p {
			covering = append([]netip.Prefix{p}, covering...)
		}
	}
	i := pos
	for i > 0 && f.es[i-1].key == k && f.es[i-1].bits == bits {
		i--
	}
	for ; i < len(f.es) && f.es[i].bits >= bits && f.es[i].key.mask(bits) == k; i++ {
		if p := f.es[i].key.prefix(f.es[i].bits); len(covered) == 0 || covered[len(covered)-1] != p {
			covered = append(covered, p)
		}
	}
	return covering, covered
}

// benchTable is a sorted table of n IPv4 /24s in runs of a few prefixes
// per origin, as real tables are, with about n/14 origins.
func benchTable(n int) []OriginEntry {
	es := make([]OriginEntry, n)
	for i := range es {
		es[i] = OriginEntry{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 0}), 24), ASN: uint32(1 + (i/3*7919)%(n/14))}
	}
	return es
}

// BenchmarkLazyTable: a million-prefix table kept lazily, sealed, then
// 20,000 updates' prefixes touched (what score does), against
// BenchmarkLearnTable, the same table learned into the trie.
func BenchmarkLazyTable(b *testing.B) {
	es := benchTable(1 << 20)
	in := bgpfeed.NewInterner(0)
	t0 := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		s := NewState(Config{})
		s.LearnOriginsLazy(t0, es, in)
		s.SealTable()
		for i := 0; i < len(es); i += len(es) / 20000 {
			s.touchLazyPrefix(es[i].Prefix)
		}
	}
}

func BenchmarkLearnTable(b *testing.B) {
	in := bgpfeed.NewInterner(0)
	var es []TableEntry
	for _, e := range benchTable(1 << 20) {
		es = append(es, TableEntry{Prefix: e.Prefix, Path: originPath(in, e.ASN)})
	}
	t0 := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		s := NewState(Config{})
		s.Reserve(len(es), 0)
		s.LearnTable(t0, es)
	}
}

// TestTouchedAheadSame: a lazy state whose updates' prefixes were all put
// in the trie ahead (TouchTable), told so (TouchedAhead), answers every
// update as a state given the table by LearnTable, and ends the same,
// without looking the lazy table up again. Had a prefix not been touched
// ahead, the answers would differ: the control state shows it.
func TestTouchedAheadSame(t *testing.T) {
	for seed := range uint64(2) {
		r, in, path := lazyTestPaths(seed, 11)
		es := lazyTestTable(r, path, 6000)
		t0 := time.Date(2026, 7, 30, 0, 0, 0, 0, time.UTC)
		cfg := Config{Young: time.Hour}
		lazy := func() *State {
			s := NewState(cfg)
			s.LearnOriginsLazy(t0, originEntries(es[:3500]), in)
			s.LearnOriginsLazy(t0.Add(time.Hour), originEntries(es[3500:]), in)
			s.SealTable()
			return s
		}
		learned := func() *State {
			s := NewState(cfg)
			s.LearnTable(t0, es[:3500])
			s.LearnTable(t0.Add(time.Hour), es[3500:])
			return s
		}
		a, b, c := learned(), lazy(), lazy()
		us := lazyTestUpdates(r, es, path, t0)
		for i := range us {
			if us[i].Kind == bgpfeed.KindAnnounce || us[i].Kind == bgpfeed.KindWithdraw {
				b.TouchTable(us[i].Prefix)
				if i%2 == 0 { // the control misses half of them
					c.TouchTable(us[i].Prefix)
				}
			}
		}
		b.TouchedAhead()
		c.TouchedAhead()
		if b.lazy == nil || !b.lazy.ahead {
			t.Fatal("TouchedAhead did not take")
		}
		pending := b.lazy.pending
		// The control first, on copies of the updates: it must go wrong.
		ac := learned()
		va, vc := make([]float64, NumFeatures), make([]float64, NumFeatures)
		differs := false
		for i := range us {
			u := us[i]
			if _, _, _, _, same := observeBoth(ac, c, &u, va, vc); !same {
				differs = true
				break
			}
		}
		if !differs {
			t.Fatalf("seed %d: the control, with half the prefixes not touched ahead, answered the same: the test tests nothing", seed)
		}
		sameAnswersTo(t, seed, a, b, us, func() {
			if b.lazy == nil || b.lazy.pending != pending || !b.lazy.ahead {
				t.Fatalf("seed %d: the lazy table changed after TouchedAhead (%d entries pending, were %d)", seed, pendingOf(b), pending)
			}
		})
	}
}

func pendingOf(s *State) int {
	if s.lazy == nil {
		return 0
	}
	return s.lazy.pending
}
