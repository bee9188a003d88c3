package features

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/prefix2as"
)

// A lazy table is a prefix-to-origin baseline kept as sorted arrays
// instead of a million prefix states in the trie: batch scoring of a few
// minutes of updates touches a few percent of the table's prefixes, and
// learning all of them (the trie, a prefix state and an origin record
// each) cost more than the rest of the run. An entry goes into the trie,
// as LearnTable would have put it there, when an update first touches its
// prefix (Observe materializes the prefix, the prefixes covering it and the
// first 33 it covers before anything reads them: what featurize, the gate,
// a withdrawal and learning can see); what a table entry changes beyond
// its prefix is applied before any update: the counters when it is added,
// the origin statistics when the table is sealed, the paths kept for
// inference at the first update (a set: the same set, unless a table held
// more than its bound of 4M distinct paths). The state then answers
// exactly as if the table had been learned (TestLazyTableSameAsLearnTable).

// lazyKey is an address as an integer key: ordered, and masked to a
// length.
type lazyKey[K any] interface {
	comparable
	cmp(K) int
	mask(bits uint8) K
	top16() uint32
	prefix(bits uint8) netip.Prefix
}

type lk4 uint32

func (k lk4) cmp(o lk4) int { return cmp.Compare(k, o) }
func (k lk4) mask(n uint8) lk4 {
	if n == 0 {
		return 0
	}
	return k & (math.MaxUint32 << (32 - n))
}
func (k lk4) top16() uint32 { return uint32(k >> 16) }
func (k lk4) prefix(n uint8) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}), int(n))
}

type lk6 struct{ hi, lo uint64 }

func (k lk6) cmp(o lk6) int {
	if c := cmp.Compare(k.hi, o.hi); c != 0 {
		return c
	}
	return cmp.Compare(k.lo, o.lo)
}
func (k lk6) mask(n uint8) lk6 {
	switch {
	case n == 0:
		return lk6{}
	case n <= 64:
		return lk6{k.hi & (math.MaxUint64 << (64 - n)), 0}
	case n < 128:
		return lk6{k.hi, k.lo & (math.MaxUint64 << (128 - n))}
	}
	return k
}
func (k lk6) top16() uint32 { return uint32(k.hi >> 48) }
func (k lk6) prefix(n uint8) netip.Prefix {
	var b [16]byte
	for i := range 8 {
		b[i] = byte(k.hi >> (56 - 8*i))
		b[8+i] = byte(k.lo >> (56 - 8*i))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), int(n))
}

func key4of(a netip.Addr) lk4 {
	b := a.As4()
	return lk4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}

func key6of(a netip.Addr) lk6 {
	b := a.As16()
	var k lk6
	for i := range 8 {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[8+i])
	}
	return k
}

// Entry states.
const (
	lazyPending = iota // not in the trie yet
	lazyDone           // in the trie (materialized, or learned when sealed)
)

type lazyEntry[K lazyKey[K]] struct {
	key K
	// val is the origin AS of a one-AS entry, or the index of a
	// complex entry's path in lazyTable.paths.
	val   uint32
	t     uint16 // index in lazyTable.times
	bits  uint8
	state uint8 // lazyPending or lazyDone, | lazyComplex
}

// lazyComplex marks an entry whose path is not the AS_SEQUENCE of one
// non-zero AS.
const lazyComplex = 2

func (e *lazyEntry[K]) cmp(k K, bits uint8) int {
	if c := e.key.cmp(k); c != 0 {
		return c
	}
	return cmp.Compare(e.bits, bits)
}

// lazyFamily is one address family's entries, in (address, length) order
// once sealed, with the index that finds a prefix and those covering it.
type lazyFamily[K lazyKey[K]] struct {
	es []lazyEntry[K]
	// bucket[b] is the first entry whose address starts with b or more
	// (16 bits); bucket[65536] = len(es).
	bucket []uint32
	// parent[i] is the closest entry that covers entry i, or -1.
	parent []int32

	// The index is built as entries come (index), while they come in
	// order, as real tables do: sealing is then quick. indexed entries
	// are indexed; unsorted: one came out of order (seal sorts them and
	// indexes them all).
	indexed  int
	unsorted bool
	stack    []int32 // entries covering the last one indexed, outermost first
	nextB    int     // first bucket not set
	// counts are the one-AS entries alone for their prefix, per origin
	// (run, runAS: those of a run of one origin not counted yet).
	counts *originCounts
	run    int32
	runAS  uint32
	// groups are the first entries of the prefixes learned when sealed
	// (several entries, or one not of a one-AS path); the group of the
	// last entry indexed starts at groupStart, marked when in groups.
	groups      []int32
	groupStart  int
	groupMarked bool
	// final: the index is finished (finishFamily).
	final bool
}

// lazyTable is the state's lazy baseline.
type lazyTable struct {
	sealed bool
	times  []time.Time
	paths  []*bgpfeed.Path // of the complex entries
	in     *bgpfeed.Interner
	v4     lazyFamily[lk4]
	v6     lazyFamily[lk6]
	// pending is how many entries are not in the trie yet.
	pending int
	// collect are the origins of the one-AS entries, whose paths Observe
	// would have added to the paths kept for inference: added when the
	// first update comes (flushCollect), if they are still kept then.
	collect []uint32
	// ahead: the prefix of every update still to come was put in the
	// trie already (State.TouchedAhead), so an update needs no lookup.
	ahead bool
}

// maxLazyTimes bounds the distinct entry times (an entry keeps an index).
const maxLazyTimes = math.MaxUint16

// OriginEntry is a table entry given by its origin (ASN): its path is
// the AS_SEQUENCE of the origin alone, made only when needed. Attrs, when
// not nil, holds the entry's path instead (several origins, an AS set).
// It is what prefix2as.Reader.ReadOrigins reads, so a table's entries
// come to LearnOriginsLazy as read.
type OriginEntry = prefix2as.Entry

// path is the path an entry gives instead of its origin's, if any.
func entryPath(e *OriginEntry) *bgpfeed.Path {
	if e.Attrs == nil {
		return nil
	}
	return e.Attrs.Path
}

// originPath interns the one-AS path of asn.
func originPath(in *bgpfeed.Interner, asn uint32) *bgpfeed.Path {
	segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: []uint32{asn}}}
	return in.Intern(bgpfeed.AppendKey(nil, segs), segs)
}

// LearnOriginsLazy is LearnTable for a batch job, of entries given by
// their origins, whose paths in interns when needed: the entries are kept
// in sorted arrays, and each goes into the trie when an update first
// touches its prefix. The state answers as if LearnTable had been called
// with the entries' paths (Observe, ObserveAll, the counters, Save);
// Featurize, which must not change the state, refuses while entries are
// pending (Materialize learns them all). Only a fresh state keeps a table
// lazily, until its first Observe (or LearnTable, SealTable); otherwise,
// or past 65,535 distinct times, this is LearnTable.
func (s *State) LearnOriginsLazy(t time.Time, entries []OriginEntry, in *bgpfeed.Interner) {
	lt := s.lazy
	if lt == nil && s.observed == 0 && s.prefixes.Len() == 0 {
		lt = &lazyTable{in: in}
		s.lazy = lt
	}
	// A table image's families are finished (LoadTableImage): no more
	// entries go in them.
	if lt == nil || lt.sealed || lt.v4.final || (len(lt.times) >= maxLazyTimes && !lt.times[len(lt.times)-1].Equal(t)) {
		es := make([]TableEntry, len(entries))
		for i := range entries {
			e := &entries[i]
			es[i] = TableEntry{Prefix: e.Prefix, Path: entryPath(e)}
			if es[i].Path == nil {
				es[i].Path = originPath(in, e.ASN)
			}
		}
		s.LearnTable(t, es)
		return
	}
	if len(entries) == 0 {
		return
	}
	// What Observe of each entry does besides learning its prefix.
	s.observed += int64(len(entries))
	if now := t.Unix(); now > s.now {
		s.now = now
	}
	s.noteTable(t)
	if n := len(lt.times); n == 0 || !lt.times[n-1].Equal(t) {
		lt.times = append(lt.times, t)
	}
	ti := uint16(len(lt.times) - 1)
	for i := range entries {
		e := &entries[i]
		if !e.Prefix.IsValid() {
			continue
		}
		s.learned++
		val, state := e.ASN, uint8(lazyPending)
		path := entryPath(e)
		if path == nil && e.ASN == 0 {
			path = originPath(lt.in, 0)
		}
		if path != nil {
			s.collectPath(path)
			val, state = uint32(len(lt.paths)), lazyComplex
			lt.paths = append(lt.paths, path)
		} else if k := len(lt.collect); k == 0 || lt.collect[k-1] != e.ASN {
			lt.collect = append(lt.collect, e.ASN)
		}
		p := e.Prefix.Masked()
		bits := uint8(p.Bits())
		if p.Addr().Is4() {
			lt.v4.es = append(lt.v4.es, lazyEntry[lk4]{key: key4of(p.Addr()), val: val, t: ti, bits: bits, state: state})
		} else {
			lt.v6.es = append(lt.v6.es, lazyEntry[lk6]{key: key6of(p.Addr()), val: val, t: ti, bits: bits, state: state})
		}
		lt.pending++
	}
	lt.v4.index()
	lt.v6.index()
}

// ReserveLazy makes room for about v4 IPv4 and v6 IPv6 more entries of
// LearnOriginsLazy.
func (s *State) ReserveLazy(v4, v6 int) {
	if s.lazy == nil || s.lazy.sealed {
		return
	}
	s.lazy.v4.es = slices.Grow(s.lazy.v4.es, v4)
	s.lazy.v6.es = slices.Grow(s.lazy.v6.es, v6)
	s.lazy.v4.parent = slices.Grow(s.lazy.v4.parent, v4)
	s.lazy.v6.parent = slices.Grow(s.lazy.v6.parent, v6)
}

// sealLazy sorts the entries (stable: a prefix's entries keep their
// order), learns those that are not the one entry of their prefix or
// whose path is not one AS (several origins, AS sets, origin 0: rare) as
// LearnTable would, applies the origin statistics of the others and
// indexes them.
func (s *State) sealLazy() { s.sealLazyThen(nil) }

// sealLazyThen is sealLazy calling then, if not nil, once the index is
// finished and before any entry is learned: the table is then what a
// table image holds (SealTableImage).
func (s *State) sealLazyThen(then func()) {
	lt := s.lazy
	lt.sealed = true
	finishFamily(&lt.v4)
	finishFamily(&lt.v6)
	if then != nil {
		then()
	}
	learnGroups(s, lt, &lt.v4)
	learnGroups(s, lt, &lt.v6)
	// The origin map and its new entries sized at once (a table has about
	// a hundred thousand origins).
	n := 0
	for _, c := range []*originCounts{lt.v4.counts, lt.v6.counts} {
		if c == nil {
			continue
		}
		n += len(c.big)
		for _, k := range c.small {
			if k != 0 {
				n++
			}
		}
	}
	origins := make(map[uint32]*originStat, len(s.origins)+n)
	for a, os := range s.origins {
		origins[a] = os
	}
	s.origins = origins
	stats := make([]originStat, n)
	apply := func(asn uint32, n int32) {
		os := s.origins[asn]
		if os == nil {
			os = &stats[0]
			stats = stats[1:]
			s.origins[asn] = os
		} else {
			os.first = 0 // known from a baseline
		}
		os.prefixes += n
	}
	lt.v4.counts.each(apply)
	lt.v6.counts.each(apply)
	if lt.pending == 0 {
		s.flushCollect()
		s.lazy = nil
	}
}

// originCounts counts entries per origin AS.
type originCounts struct {
	small [1 << 16]int32 // ASNs below 65536
	big   map[uint32]int32
}

func (c *originCounts) add(asn uint32, n int32) {
	if asn < 1<<16 {
		c.small[asn] += n
	} else {
		c.big[asn] += n
	}
}

func (c *originCounts) each(fn func(asn uint32, n int32)) {
	if c == nil {
		return
	}
	for a, n := range c.small {
		if n != 0 {
			fn(uint32(a), n)
		}
	}
	for a, n := range c.big {
		fn(a, n)
	}
}

// flushCollect adds the paths of the one-AS entries to those kept for
// inference, if they are still kept (not when relationships were given
// meanwhile: UseInferredRelations).
func (s *State) flushCollect() {
	lt := s.lazy
	if lt == nil || lt.collect == nil {
		return
	}
	if s.inferPaths != nil {
		for _, asn := range lt.collect {
			s.collectPath(originPath(lt.in, asn))
		}
	}
	lt.collect = nil
}

// index indexes the entries added since it last ran, unless one comes
// out of order.
func (f *lazyFamily[K]) index() {
	es := f.es
	if f.unsorted || f.indexed == len(es) {
		return
	}
	if f.bucket == nil {
		f.bucket = make([]uint32, 1<<16+1)
		f.counts = &originCounts{big: make(map[uint32]int32, 1<<12)}
	}
	for i := f.indexed; i < len(es); i++ {
		e := &es[i]
		if i > 0 {
			switch es[i-1].cmp(e.key, e.bits) {
			case 1:
				f.unsorted = true
				f.indexed = i
				return
			case 0: // a prefix's second entry: learned when sealed
				f.markGroup()
			default:
				f.endGroup(i - 1)
				f.groupStart, f.groupMarked = i, false
			}
		}
		if e.state&lazyComplex != 0 {
			f.markGroup()
		}
		for top := int(e.key.top16()); f.nextB <= top; f.nextB++ {
			f.bucket[f.nextB] = uint32(i)
		}
		// In (address, length) order an entry's covering entries come
		// before it, on the stack of the entries still open.
		for len(f.stack) > 0 && !f.covers(int(f.stack[len(f.stack)-1]), e.key, e.bits) {
			f.stack = f.stack[:len(f.stack)-1]
		}
		parent := int32(-1)
		if len(f.stack) > 0 {
			parent = f.stack[len(f.stack)-1]
		}
		f.parent = append(f.parent, parent)
		f.stack = append(f.stack, int32(i))
	}
	f.indexed = len(es)
}

// markGroup puts the group of the last entry indexed in groups.
func (f *lazyFamily[K]) markGroup() {
	if !f.groupMarked {
		f.groups = append(f.groups, int32(f.groupStart))
		f.groupMarked = true
	}
}

// endGroup counts the group ending at entry last when it is one one-AS
// entry (runs of one origin counted at once).
func (f *lazyFamily[K]) endGroup(last int) {
	if f.groupMarked {
		return
	}
	if asn := f.es[last].val; f.run == 0 || asn == f.runAS {
		f.run, f.runAS = f.run+1, asn
		return
	}
	f.counts.add(f.runAS, f.run)
	f.run, f.runAS = 1, f.es[last].val
}

// finishFamily finishes the index, sorting the entries and indexing them
// again if they did not come in order: the family is then what a table
// image holds (tableimage.go). It does nothing to a finished family.
func finishFamily[K lazyKey[K]](f *lazyFamily[K]) {
	if f.final {
		return
	}
	f.index()
	if f.unsorted {
		slices.SortStableFunc(f.es, func(a, b lazyEntry[K]) int { return a.cmp(b.key, b.bits) })
		*f = lazyFamily[K]{es: f.es, parent: f.parent[:0]}
		f.index()
	}
	f.final = true
	es := f.es
	if len(es) == 0 {
		f.bucket = make([]uint32, 1<<16+1)
		return
	}
	f.endGroup(len(es) - 1)
	if f.run > 0 {
		f.counts.add(f.runAS, f.run)
	}
	for ; f.nextB <= 1<<16; f.nextB++ {
		f.bucket[f.nextB] = uint32(len(es))
	}
	f.stack = nil
}

// learnGroups learns the entries of the groups, as LearnTable would.
func learnGroups[K lazyKey[K]](s *State, lt *lazyTable, f *lazyFamily[K]) {
	es := f.es
	for _, g := range f.groups {
		for k := int(g); k < len(es) && es[k].key == es[g].key && es[k].bits == es[g].bits; k++ {
			e := &es[k]
			path := originPath(lt.in, e.val)
			if e.state&lazyComplex != 0 {
				path = lt.paths[e.val]
			}
			u := bgpfeed.Update{Time: lt.times[e.t], Kind: bgpfeed.KindAnnounce, Table: true,
				Prefix: e.key.prefix(e.bits), Attrs: &bgpfeed.Attrs{Path: path}}
			s.learn(&u, nil, true)
			e.state = lazyDone
			lt.pending--
		}
	}
	f.groups = nil
}

// covers reports whether entry i covers the prefix k/bits (itself
// included).
func (f *lazyFamily[K]) covers(i int, k K, bits uint8) bool {
	e := &f.es[i]
	return e.bits <= bits && k.mask(e.bits) == e.key
}

// upper returns the first entry after k/bits in (address, length) order.
func (f *lazyFamily[K]) upper(k K, bits uint8) int {
	b := k.top16()
	lo, hi := int(f.bucket[b]), int(f.bucket[b+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if f.es[m].cmp(k, bits) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// lazyCovered is how many of the entries a prefix covers are put in the
// trie when it is touched: featurize counts up to 32 more-specifics
// besides the prefix itself.
const lazyCovered = 33

// touch materializes the entries of k/bits, of the prefixes covering it
// and the first lazyCovered it covers.
func touchFamily[K lazyKey[K]](s *State, f *lazyFamily[K], k K, bits uint8) {
	if len(f.es) == 0 {
		return
	}
	k = k.mask(bits)
	pos := f.upper(k, bits)
	c := pos - 1
	for c >= 0 && !f.covers(c, k, bits) {
		c = int(f.parent[c])
	}
	for ; c >= 0; c = int(f.parent[c]) {
		materialize(s, f, c)
	}
	i := pos
	for i > 0 && f.es[i-1].key == k && f.es[i-1].bits == bits {
		i--
	}
	// Distinct prefixes: a prefix of several entries was learned when
	// the table was sealed.
	for n := 0; i < len(f.es) && n < lazyCovered && f.es[i].bits >= bits && f.es[i].key.mask(bits) == k; i++ {
		if e := &f.es[i]; i == 0 || e.key != f.es[i-1].key || e.bits != f.es[i-1].bits {
			n++
		}
		materialize(s, f, i)
	}
}

// materialize puts entry i in the trie as LearnTable puts a prefix's
// only, one-AS entry: a prefix known from the baseline with that origin
// (its origin statistics were counted when the table was sealed).
func materialize[K lazyKey[K]](s *State, f *lazyFamily[K], i int) {
	e := &f.es[i]
	if e.state != lazyPending {
		return
	}
	e.state = lazyDone
	lt := s.lazy
	lt.pending--
	slot, found, err := s.prefixes.Entry(e.key.prefix(e.bits))
	if err != nil {
		return
	}
	if found {
		// Every path to the trie touches the prefix first.
		panic(fmt.Sprintf("features: lazy table entry %v already in the trie", e.key.prefix(e.bits)))
	}
	ps := s.alloc.prefix()
	*slot = ps
	ps.origins = s.alloc.origin(originRec{asn: e.val, last: lt.times[e.t].Unix()})
}

// SealTable ends a lazy table's loading (LearnOriginsLazy learns any table
// after it at once): the first update does it, or a loader that has
// nothing more to add and time to spare. It reports whether entries are
// still pending.
func (s *State) SealTable() bool {
	if s.lazy == nil {
		return false
	}
	if !s.lazy.sealed {
		s.sealLazy()
	}
	return s.lazy != nil
}

// touchLazy seals the lazy table at the first update, then materializes
// what u's prefix needs (touchFamily).
func (s *State) touchLazy(u *bgpfeed.Update) {
	s.SealTable()
	s.flushCollect() // before an inference can use them
	if u.Kind == bgpfeed.KindAnnounce || u.Kind == bgpfeed.KindWithdraw {
		s.touchLazyPrefix(u.Prefix)
	} else {
		s.touchLazyPrefix(netip.Prefix{})
	}
}

// touchLazyPrefix seals the lazy table, if any, and materializes what p
// needs (none for an invalid p).
func (s *State) touchLazyPrefix(p netip.Prefix) {
	if !s.SealTable() || !p.IsValid() {
		return
	}
	if p.Addr().Is4() {
		touchFamily(s, &s.lazy.v4, key4of(p.Addr()), uint8(p.Bits()))
	} else {
		touchFamily(s, &s.lazy.v6, key6of(p.Addr()), uint8(p.Bits()))
	}
	if s.lazy.pending == 0 {
		s.flushCollect()
		s.lazy = nil
	}
}

// TouchedAhead tells the state that TouchTable has put the prefix of every
// update it will observe from now on in the trie (score's scoring pass,
// whose updates the relationship inference read first): an update then
// skips the lazy table's lookup, which would find nothing more to learn.
// The state answers the same (TestTouchedAheadSame). It does nothing
// unless the lazy table is sealed; a table learned afterwards is looked up
// again.
func (s *State) TouchedAhead() {
	if s.lazy == nil || !s.lazy.sealed {
		return
	}
	s.flushCollect()
	s.lazy.ahead = true
}

// TablePending reports whether a lazy table has entries not in the trie.
func (s *State) TablePending() bool { return s.lazy != nil }

// TouchTable puts in the trie the entries of a lazy table that an update
// of p would (p's, those covering it and the first 33 it covers) ahead of
// it, once the table is sealed (SealTable): nothing the state answers
// changes, but the update then finds them there. It does nothing without
// a sealed lazy table.
func (s *State) TouchTable(p netip.Prefix) {
	if s.lazy != nil && s.lazy.sealed {
		s.touchLazyPrefix(p)
	}
}

// Materialize learns every entry a lazy table still holds: the state is
// then what LearnTable would have made (Save, Featurize).
func (s *State) Materialize() {
	if !s.SealTable() {
		return
	}
	for i := range s.lazy.v4.es {
		materialize(s, &s.lazy.v4, i)
	}
	for i := range s.lazy.v6.es {
		materialize(s, &s.lazy.v6, i)
	}
	s.flushCollect()
	s.lazy = nil
}

// lazyPrefixes is how many prefixes of the lazy table are not in the trie.
func (s *State) lazyPrefixes() int {
	s.touchLazyPrefix(netip.Prefix{})
	if s.lazy == nil {
		return 0
	}
	return s.lazy.pending
}
