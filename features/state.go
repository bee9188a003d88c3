package features

import (
	"math"
	"net/netip"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features/asorg"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/ptrie"
	"github.com/bgpsentry/bgpsentry/features/rpki"
)

// Config holds the optional reference data and tuning of a State.
type Config struct {
	// Rel are AS relationships; nil means infer them (Gao-style, with a
	// tier-1 clique, asrel.Infer) from the paths learned from RIB dumps and
	// during the warm-up, when scoring starts.
	Rel *asrel.Graph
	// RelInferred marks Rel as inferred from paths rather than read from a
	// relationship file: its links then do not count as known links (an
	// inference over the very archive being scored contains the new links
	// it should flag), and the relations_inferred feature is 1.
	RelInferred bool
	Orgs        *asorg.Table
	RPKI        *rpki.Table
	// Burst is the time constant of the decayed burst counters
	// (default 5 minutes).
	Burst time.Duration
	// Warmup is how long after the first non-table update the state only
	// learns: without a RIB dump every link and origin is new at first.
	// 0 means none.
	Warmup time.Duration
	// Young is how long after its first sighting an origin of a prefix or
	// an AS link still gets its announcements scored (default 1h).
	Young time.Duration
}

// originRec is one origin ever seen for a prefix.
type originRec struct {
	asn uint32
	// routed: a route of the data (an update, a RIB dump entry) carried
	// this origin, not only a prefix-to-origin table (which may be of
	// another date: prefixes change hands).
	routed      bool
	first, last int64 // unix seconds; first 0 = known from a baseline
}

// route is one peer's current route for a prefix.
type route struct {
	peer   uint16
	epoch  uint16 // the peer's session epoch when learned; older = gone
	pathID uint32
	path   *bgpfeed.Path
}

type prefixState struct {
	first   int64
	origins []originRec
	routes  []route
}

const maxOrigins = 16

type peerState struct {
	epoch uint16
	up    bool
	// lastDown is when the session last went down (unix ns, 0 never).
	lastDown int64
}

type peerKey struct {
	source string
	addr   netip.Addr
	asn    uint32
}

type originStat struct {
	first    int64
	prefixes int32
}

// decay is an exponentially decayed event counter.
type decay struct {
	v    float32
	last int64
}

func (d *decay) add(now int64, tau float64) float32 {
	d.v = d.value(now, tau) + 1
	d.last = now
	return d.v
}

func (d *decay) value(now int64, tau float64) float32 {
	if d == nil || d.v == 0 {
		return 0
	}
	dt := float64(now - d.last)
	if dt <= 0 {
		return d.v
	}
	return d.v * float32(math.Exp(-dt/tau))
}

// State is the routing state features are computed against. It is not
// safe for concurrent use: one State per partition of the update stream.
type State struct {
	cfg      Config
	tau      float64
	prefixes ptrie.Trie[*prefixState]
	alloc    slabs
	peers    []peerState
	peerIdx  map[peerKey]uint16
	lastPeer struct {
		key peerKey
		id  uint16
		ok  bool
	}
	origins map[uint32]*originStat
	links   map[uint64]int64 // directed link a<<32|b -> first seen (0 = baseline)
	degree  map[uint32]int32 // undirected observed degree
	// valleys are the leak triples (the AS a route leaked to, the leaker,
	// the AS it learned the route from) of the paths seen so far that
	// violate valley-free routing, with their first sighting (0 = before
	// monitoring started).
	valleys  map[valleyKey]int64
	bursts   [3]map[uint32]*decay
	pathInfo map[*bgpfeed.Path]*pathFacts
	rel      *asrel.Graph
	// warm-up: learning only until learnUntil.
	started    bool
	learnUntil int64
	// The times of the baselines' entries (unix seconds, 0: none) and of
	// the first update that is not one (TableTimes, FirstLive).
	tableFirst, tableLast, liveFirst int64
	now                              int64
	asns                             []uint32
	scratch                          [NumFeatures]float64
	inferPaths                       *PathSet
	// lastCollected is the path last added to inferPaths.
	lastCollected *bgpfeed.Path
	// Counters.
	observed, scored, learned int64
	// staleUpdates are updates of a session that had already ended when
	// they were read, and repeated session-down copies: ignored.
	staleUpdates int64
	downs        int64 // session-downs applied (0: no update can be stale)
	// lazy holds the baseline entries not yet in prefixes (lazytable.go).
	lazy *lazyTable
	// deferRel: the relationships come later (DeferRelations); deferred
	// are the changed warm-up paths learnLeak is to see then.
	deferRel bool
	deferred []deferredLeak
}

// deferredLeak is a learnLeak call waiting for the relationships.
type deferredLeak struct {
	path       *bgpfeed.Path
	now, stamp int64
}

const (
	burstOrigin = iota
	burstNewLinkAS
	burstLeaker
)

// NewState makes an empty state.
func NewState(cfg Config) *State {
	if cfg.Burst <= 0 {
		cfg.Burst = 5 * time.Minute
	}
	if cfg.Young <= 0 {
		cfg.Young = time.Hour
	}
	s := &State{
		cfg:      cfg,
		tau:      cfg.Burst.Seconds(),
		peerIdx:  make(map[peerKey]uint16),
		origins:  make(map[uint32]*originStat),
		links:    make(map[uint64]int64),
		degree:   make(map[uint32]int32),
		valleys:  make(map[valleyKey]int64),
		pathInfo: make(map[*bgpfeed.Path]*pathFacts),
		rel:      cfg.Rel,
	}
	if cfg.Rel == nil {
		s.inferPaths = NewPathSet()
	}
	s.markSiblings(cfg.Rel)
	for i := range s.bursts {
		s.bursts[i] = make(map[uint32]*decay)
	}
	return s
}

// Reserve makes room for about v4 IPv4 and v6 IPv6 more prefixes, so that
// loading a table of known size does not grow the state step by step.
func (s *State) Reserve(v4, v6 int) { s.prefixes.Grow(v4, v6) }

// Relations are the AS relationships in use (nil until inferred when no
// file was given).
func (s *State) Relations() *asrel.Graph { return s.rel }

// UseInferredRelations gives the state relationships inferred elsewhere
// (from the whole input, before scoring): the same as NewState with them
// in Config.Rel and Config.RelInferred set. The state stops collecting
// warm-up paths for its own inference.
func (s *State) UseInferredRelations(g *asrel.Graph) {
	s.cfg.Rel, s.cfg.RelInferred = g, true
	s.inferPaths = nil
	s.SetRelations(g)
	for _, d := range s.deferred {
		if f := s.facts(d.path); f.haveCheck {
			s.learnLeak(f, d.now, d.stamp)
		}
	}
	s.deferRel, s.deferred = false, nil
}

// DeferRelations tells a state without relationships that they will come
// from elsewhere (UseInferredRelations) before anything is scored: it can
// then learn the warm-up before they come (LearnsOnly), keeping aside the
// little that needs them (the leaker bursts and leak triples of the
// changed paths), which UseInferredRelations applies in order. The state
// then answers as if it had had them from the start
// (TestDeferRelationsSame). It does not collect paths for an inference of
// its own.
func (s *State) DeferRelations() {
	if s.rel != nil {
		return
	}
	s.deferRel = true
	s.inferPaths = nil
}

// LearnsOnly reports whether Observe would learn u without scoring it and
// without the relationships: a session state change, a withdrawal, a
// table entry, or an announcement of the warm-up. Once it is false for
// an announcement, that announcement and those after it need the
// relationships.
func (s *State) LearnsOnly(u *bgpfeed.Update) bool {
	if u.Kind != bgpfeed.KindAnnounce || u.Table {
		return true
	}
	if !s.started {
		return int64(s.cfg.Warmup.Seconds()) > 0
	}
	return u.Time.Unix() < s.learnUntil
}

// SetRelations replaces the relationships (after inference) and clears the
// per-path cache that depends on them.
func (s *State) SetRelations(g *asrel.Graph) {
	s.markSiblings(g)
	s.rel = g
	clear(s.pathInfo)
}

// markSiblings marks the links of g between two ASes of one organisation
// (Config.Orgs) as siblings, which pass routes as one AS: neither the
// valley-free check nor the leak types see a valley across them (a route
// a network learned from its provider and hands to a sibling that sends
// it to the sibling's own provider is one network's transit, not a
// leak). Neither Gao's inference nor most relationship files know
// siblings; the as-org data does.
func (s *State) markSiblings(g *asrel.Graph) {
	if g != nil && s.cfg.Orgs != nil {
		g.MarkSiblings(s.cfg.Orgs.Siblings)
	}
}

func linkKey(a, b uint32) uint64 { return uint64(a)<<32 | uint64(b) }

// valleyKey is a leak triple: {to, leaker, from}.
type valleyKey [3]uint32

// leakTriple returns the leak triple of a path's facts, if it has one.
func leakTriple(f *pathFacts) (valleyKey, bool) {
	if !f.haveCheck {
		return valleyKey{}, false
	}
	l := f.check.Leak
	n := len(f.uniq)
	if l.Type == asrel.NoLeak || l.Leaker < 0 || l.Leaker >= n || l.To < 0 || l.To >= n || l.From < 0 || l.From >= n {
		return valleyKey{}, false
	}
	return valleyKey{f.uniq[l.To], f.uniq[l.Leaker], f.uniq[l.From]}, true
}

// lookupPeer finds the index of u's peer, if it has one. The last one
// found is kept: updates come in runs of one peer (the prefixes of one
// message), and this saves hashing the key up to four times an update.
func (s *State) lookupPeer(u *bgpfeed.Update) (uint16, bool) {
	k := peerKey{u.Source, u.PeerAddr, u.PeerASN}
	if s.lastPeer.ok && s.lastPeer.key == k {
		return s.lastPeer.id, true
	}
	id, ok := s.peerIdx[k]
	if ok {
		s.lastPeer.key, s.lastPeer.id, s.lastPeer.ok = k, id, true
	}
	return id, ok
}

func (s *State) peer(u *bgpfeed.Update) uint16 {
	if id, ok := s.lookupPeer(u); ok {
		return id
	}
	k := peerKey{u.Source, u.PeerAddr, u.PeerASN}
	if len(s.peers) >= math.MaxUint16 {
		return math.MaxUint16 - 1 // beyond 65k peers, the rest share a slot
	}
	id := uint16(len(s.peers))
	s.peers = append(s.peers, peerState{up: true})
	s.peerIdx[k] = id
	return id
}

func (s *State) live(r route) bool { return s.peers[r.peer].epoch == r.epoch }

// ActivePeers is the number of peers whose session is up.
func (s *State) ActivePeers() int {
	n := 0
	for _, p := range s.peers {
		if p.up {
			n++
		}
	}
	return n
}

// Counts reports how many updates were observed, scored (gated in) and
// learned without scoring (table entries and warm-up).
// Stale is how many updates were ignored as belonging to a session that
// had ended before they were read (see Observe), copies of a session-down
// included.
func (s *State) Stale() int64 { return s.staleUpdates }

func (s *State) Counts() (observed, scored, learned int64) {
	return s.observed, s.scored, s.learned
}

// Prefixes is the number of prefixes in the state.
func (s *State) Prefixes() int {
	n := s.lazyPrefixes() // first: it may learn some
	return s.prefixes.Len() + n
}

// Links is the number of directed AS links seen.
func (s *State) Links() int { return len(s.links) }

// OriginsOf returns the origins ever seen for exactly p.
func (s *State) OriginsOf(p netip.Prefix) []uint32 {
	s.touchLazyPrefix(p)
	ps, ok := s.prefixes.Get(p)
	if !ok {
		return nil
	}
	out := make([]uint32, len(ps.origins))
	for i, o := range ps.origins {
		out[i] = o.asn
	}
	return out
}

// maxInferPaths bounds the distinct paths kept for inference.
const maxInferPaths = 4 << 20

func (s *State) collectPath(p *bgpfeed.Path) {
	if s.inferPaths == nil || p == s.lastCollected || s.inferPaths.Len() >= maxInferPaths {
		return
	}
	s.inferPaths.Add(p)
	s.lastCollected = p // a table repeats a path on consecutive lines
}

// TableEntry is a baseline route without a peer, a line of a
// prefix-to-origin table: a prefix and its (one-AS) path.
type TableEntry struct {
	Prefix netip.Prefix
	Path   *bgpfeed.Path
}

// LearnTable applies entries, in order, as table entries of time t
// without a peer: the same as Observe of the announcement {Time: t, Kind:
// KindAnnounce, Table: true, Prefix: e.Prefix, Attrs: {Path: e.Path}} for
// each e, without building the updates.
func (s *State) LearnTable(t time.Time, entries []TableEntry) {
	at := bgpfeed.Attrs{}
	u := bgpfeed.Update{Time: t, Kind: bgpfeed.KindAnnounce, Table: true, Attrs: &at}
	for i := range entries {
		u.Prefix, at.Path = entries[i].Prefix, entries[i].Path
		s.observe(&u, nil, false)
	}
}

// noteTable records the time of baseline entries (TableTimes).
func (s *State) noteTable(t time.Time) {
	u := t.Unix()
	if s.tableFirst == 0 || u < s.tableFirst {
		s.tableFirst = u
	}
	if u > s.tableLast {
		s.tableLast = u
	}
}

// TableTimes are the earliest and the latest time of the baseline entries
// this state learned (RIB dump records, prefix-to-origin tables: the RIB
// they were made from), ok false when it learned none in this process.
func (s *State) TableTimes() (first, last time.Time, ok bool) {
	if s.tableFirst == 0 {
		return time.Time{}, time.Time{}, false
	}
	return time.Unix(s.tableFirst, 0).UTC(), time.Unix(s.tableLast, 0).UTC(), true
}

// FirstLive is the time of the first update that was not a baseline
// entry, ok false before one (or in a state restored from a snapshot).
func (s *State) FirstLive() (time.Time, bool) {
	if s.liveFirst == 0 {
		return time.Time{}, false
	}
	return time.Unix(s.liveFirst, 0).UTC(), true
}

// inferNow infers relationships from the collected paths (once).
func (s *State) inferNow() {
	if s.inferPaths == nil {
		return
	}
	paths := s.inferPaths
	s.inferPaths = nil
	s.SetRelations(paths.Infer())
}

// PathSet is a set of distinct paths for a relationship inference. A
// path's ASNs are copied into one array when it is first added, while the
// path is fresh in the CPU's cache: an inference then reads that array in
// the order the paths came (asrel.Infer's result does not depend on it:
// TestPathSetOrder), not a hundred thousand scattered paths.
type PathSet struct {
	seen map[*bgpfeed.Path]struct{}
	flat []uint32
	off  []int
}

// NewPathSet makes an empty PathSet.
func NewPathSet() *PathSet {
	return &PathSet{seen: map[*bgpfeed.Path]struct{}{}, off: []int{0}}
}

// Add adds p if it is not in the set yet.
func (s *PathSet) Add(p *bgpfeed.Path) {
	if _, ok := s.seen[p]; ok {
		return
	}
	s.seen[p] = struct{}{}
	s.flat = p.ASNs(s.flat)
	s.off = append(s.off, len(s.flat))
}

// Len is how many distinct paths the set holds.
func (s *PathSet) Len() int { return len(s.off) - 1 }

// Infer infers AS relationships from the paths (asrel.Infer).
func (s *PathSet) Infer() *asrel.Graph {
	return asrel.Infer(func(yield func([]uint32) bool) {
		for i := range s.Len() {
			if !yield(s.flat[s.off[i]:s.off[i+1]]) {
				return
			}
		}
	}, asrel.InferConfig{})
}
