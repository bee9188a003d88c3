package inject

import (
	"cmp"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/bgpsentry/bgpsentry/features/asorg"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/bogon"
)

// Labels (the label column).
const (
	LabelOriginHijack    = "origin_hijack"
	LabelSubprefixHijack = "subprefix_hijack"
	LabelPathHijack      = "path_hijack"
	LabelRouteLeak       = "route_leak"
	LabelBenign          = "benign"
)

// AttackLabels are the attack classes, in report order.
var AttackLabels = []string{LabelOriginHijack, LabelSubprefixHijack, LabelPathHijack, LabelRouteLeak}

// Scenario names (the scenario column).
const (
	ScenarioExactOrigin           = "exact_origin"
	ScenarioSubprefixOrigin       = "subprefix_origin"
	ScenarioForgedOriginExact     = "forged_origin_exact"
	ScenarioForgedOriginSubprefix = "forged_origin_subprefix"
	ScenarioOwnMoreSpecific       = "own_more_specific"
	ScenarioCustomerMoreSpecific  = "customer_more_specific"
	ScenarioProviderOrigin        = "provider_origin"
	ScenarioSiblingOrigin         = "sibling_origin"
	ScenarioROANewOrigin          = "roa_new_origin"
	ScenarioPrepend               = "prepend"
	ScenarioAlternativePath       = "alternative_path"
	ScenarioFlap                  = "flap"
	ScenarioSessionReset          = "session_reset"
)

// leakScenario names the leak scenario of an RFC 7908 type.
func leakScenario(typ int) string {
	return [...]string{"", "leak_type1_hairpin", "leak_type2_lateral", "leak_type3_provider_to_peer", "leak_type4_peer_to_provider"}[typ]
}

// Instance is one injected scenario instance, as written to
// scenarios.json.
type Instance struct {
	ID       int    `json:"id"`
	Class    string `json:"class"`
	Scenario string `json:"scenario"`
	// VictimPrefix/VictimASN: the prefix and origin the scenario is about
	// (for a leak, unset: see Prefixes).
	VictimPrefix string `json:"victim_prefix,omitempty"`
	VictimASN    uint32 `json:"victim_asn,omitempty"`
	// AttackerASN is the attacker or leaker; for benign instances the AS a
	// detector would blame (new origin, origin, or the peer).
	AttackerASN uint32 `json:"attacker_asn"`
	// Leaks: RFC 7908 type, the AS the leaker learned the routes from (P1)
	// and the one it leaked them to (P2).
	LeakType int      `json:"leak_type,omitempty"`
	LeakFrom uint32   `json:"leak_from_asn,omitempty"`
	LeakTo   uint32   `json:"leak_to_asn,omitempty"`
	Prepend  int      `json:"prepend,omitempty"`
	Prefixes []string `json:"prefixes"`
	Start    int64    `json:"start_unix"`
	End      int64    `json:"end_unix"`
	// Withdrawn: some peers withdraw the injected routes later.
	Withdrawn bool `json:"withdrawn"`
	// ROA names the ROAs this instance added: none, victim,
	// victim+new_origin, victim_maxlength_ok, victim_maxlength_short.
	// RPKI is the status of its first announcement against all of
	// vrps.json (ROAs of other instances on the same space included).
	ROA           string         `json:"roa"`
	RPKI          string         `json:"rpki,omitempty"`
	Announcements int            `json:"announcements"`
	Withdrawals   int            `json:"withdrawals"`
	Peers         []InstancePeer `json:"peers"`
}

// InstancePeer is one peer's part of an instance.
type InstancePeer struct {
	Addr     string `json:"addr"`
	ASN      uint32 `json:"asn"`
	First    int64  `json:"first_unix"`
	Last     int64  `json:"last_unix"`
	Withdraw int64  `json:"withdraw_unix,omitempty"`
	Routes   int    `json:"routes"`
	Path     string `json:"path"` // the path of its first announcement
}

// msg is one injected BGP element.
type msg struct {
	t      int64
	peer   int32
	prefix netip.Prefix
	asns   []uint32 // nil: withdrawal
	inst   int32
	seq    int32
}

// labelKey is the key featurize matches labels by.
type labelKey struct {
	sec    int64
	addr   netip.Addr
	prefix netip.Prefix
}

type roaKey struct {
	prefix netip.Prefix
	maxLen int
	asn    uint32
}

type generator struct {
	bg   *Background
	rel  *asrel.Graph
	orgs *asorg.Table
	rng  *rand.Rand

	tStart, tEnd int64 // injection window

	msgs    []msg
	pending []msg
	insts   []*Instance
	used    map[labelKey]bool // seconds taken by injected elements

	eligible [2][]int32 // peers that can send each family
	victims  [2][]int32 // victim pool per family (prefix indexes)
	// dormant are the baseline prefixes no peer carries that may be
	// victims (one origin, routable length, not bogon), per family.
	dormant     [2][]int32
	victimUsed  map[int32]int
	originators []uint32
	newPrefixes map[netip.Prefix]bool
	peerPfx     [][]int32 // per peer: prefixes it ever announced

	roas    map[roaKey]bool
	touched []netip.Prefix // prefixes whose ROAs a scenario decided
	roaSet  map[netip.Prefix]bool

	suffixCache  map[suffixKey][]suffix
	leakCands    map[leakCandKey][]uint32
	relatedCache map[relatedKey]bool
	reachCache   map[toKey]bool
}

func newGenerator(bg *Background, rel *asrel.Graph, orgs *asorg.Table, seed uint64, tStart, tEnd int64) *generator {
	g := &generator{
		bg: bg, rel: rel, orgs: orgs,
		rng:          rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		tStart:       tStart,
		tEnd:         tEnd,
		used:         map[labelKey]bool{},
		victimUsed:   map[int32]int{},
		newPrefixes:  map[netip.Prefix]bool{},
		roas:         map[roaKey]bool{},
		roaSet:       map[netip.Prefix]bool{},
		suffixCache:  map[suffixKey][]suffix{},
		leakCands:    map[leakCandKey][]uint32{},
		relatedCache: map[relatedKey]bool{},
		reachCache:   map[toKey]bool{},
	}
	for i, p := range bg.Peers {
		for f := range 2 {
			if p.Routes[f] > 0 && p.NextHop[f].IsValid() && p.LocalAddr.IsValid() && p.LocalAddr.Is4() == p.Addr.Is4() {
				g.eligible[f] = append(g.eligible[f], int32(i))
			}
		}
	}
	g.peerPfx = make([][]int32, len(bg.Peers))
	keys := make([]histKey, 0, len(bg.hist))
	for k := range bg.hist {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b histKey) int {
		return cmp.Or(cmp.Compare(a.peer, b.peer), cmp.Compare(a.prefix, b.prefix))
	})
	for _, k := range keys {
		g.peerPfx[k.peer] = append(g.peerPfx[k.peer], k.prefix)
	}
	g.buildVictimPool()
	for a, n := range bg.origin {
		if n > 0 && a != 0 {
			if bad, _ := bogon.ASN(a); !bad {
				g.originators = append(g.originators, a)
			}
		}
	}
	slices.Sort(g.originators)
	return g
}

// maxLenFor is the longest prefix injected per family.
func maxLenFor(f int) int {
	if f == fam4 {
		return 24
	}
	return 48
}

// buildVictimPool lists the stable prefixes: seen before the injection
// window, one origin (background and baseline), announced by several
// peers, routable length, not bogon.
func (g *generator) buildVictimPool() {
	bg := g.bg
	var pool [2][]int32
	for minPeers := 5; minPeers >= 1; minPeers-- {
		pool = [2][]int32{}
		for i, x := range bg.prefixes {
			if x.first < 0 || x.first >= g.tStart || len(x.peers) < minPeers || !routableVictim(x) {
				continue
			}
			f := famOf(x.prefix)
			if !g.hasEligible(x, f) {
				continue
			}
			pool[f] = append(pool[f], int32(i))
		}
		if len(pool[fam4])+len(pool[fam6]) >= 50 {
			break
		}
	}
	g.victims = pool
	for i, x := range bg.prefixes {
		if x.first < 0 && len(x.peers) == 0 && routableVictim(x) && g.coveredByOwner(x) {
			g.dormant[famOf(x.prefix)] = append(g.dormant[famOf(x.prefix)], int32(i))
		}
	}
}

// coveredByOwner reports whether a less-specific of x that peers of the
// background carry has x's (one) origin among its origins: the dormant
// prefix lies in space its owner announces (YouTube's /24 inside its
// /22). A baseline prefix outside its owner's announced space is more
// often one whose owner changed since the baseline was made.
func (g *generator) coveredByOwner(x *prefixInfo) bool {
	v := x.allOrigins()[0]
	for l := x.prefix.Bits() - 1; l >= 8; l-- {
		c, err := x.prefix.Addr().Prefix(l)
		if err != nil {
			return false
		}
		if ci, ok := g.bg.prefixIdx[c]; ok {
			if y := g.bg.prefixes[ci]; len(y.peers) > 0 && slices.Contains(y.origins, v) {
				return true
			}
		}
	}
	return false
}

// routableVictim reports whether a prefix may be a victim: one origin
// (background and baseline), not a bogon origin nor a bogon prefix, and a
// routable length.
func routableVictim(x *prefixInfo) bool {
	o := x.allOrigins()
	if len(o) != 1 || o[0] == 0 {
		return false
	}
	if bad, _ := bogon.ASN(o[0]); bad {
		return false
	}
	if bad, _ := bogon.Prefix(x.prefix); bad {
		return false
	}
	f := famOf(x.prefix)
	minLen := 8
	if f == fam6 {
		minLen = 16
	}
	return x.prefix.Bits() >= minLen && x.prefix.Bits() <= maxLenFor(f)
}

func (g *generator) hasEligible(x *prefixInfo, f int) bool {
	for _, p := range x.peers {
		if _, ok := slices.BinarySearch(g.eligible[f], p); ok {
			return true
		}
	}
	return false
}

// --- randomness helpers ---

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) logUniform(lo, hi float64) float64 {
	if hi <= lo {
		return lo
	}
	return math.Exp(math.Log(lo) + g.rng.Float64()*(math.Log(hi)-math.Log(lo)))
}

// pickFamily draws a family in proportion to the victim pool sizes.
func (g *generator) pickFamily() int {
	n4, n6 := len(g.victims[fam4]), len(g.victims[fam6])
	if n4+n6 == 0 {
		return fam4
	}
	if g.rng.IntN(n4+n6) < n4 {
		return fam4
	}
	return fam6
}

// pickDormant draws a dormant victim (g.dormant) that passes ok, or, when
// there is none, one of the pool (pickVictim).
func (g *generator) pickDormant(f int, ok func(*prefixInfo) bool) (int32, bool) {
	pool := g.dormant[f]
	if len(pool) > 0 {
		start := g.rng.IntN(len(pool))
		for j := range min(len(pool), 400) {
			xi := pool[(start+j)%len(pool)]
			if g.victimUsed[xi] == 0 && (ok == nil || ok(g.bg.prefixes[xi])) {
				return xi, true
			}
		}
	}
	return g.pickVictim(f, ok)
}

// pickVictim draws a prefix of the pool, preferring ones no instance used
// yet, that passes ok.
func (g *generator) pickVictim(f int, ok func(*prefixInfo) bool) (int32, bool) {
	pool := g.victims[f]
	if len(pool) == 0 {
		return 0, false
	}
	start := g.rng.IntN(len(pool))
	for pass := 0; pass < 2; pass++ {
		tries := 0
		for j := range pool {
			xi := pool[(start+j)%len(pool)]
			if pass == 0 && g.victimUsed[xi] > 0 {
				continue
			}
			if ok == nil || ok(g.bg.prefixes[xi]) {
				return xi, true
			}
			if tries++; tries > 400 {
				break
			}
		}
	}
	return 0, false
}

// visibility draws how many peers see an instance whose suspect is asn:
// 1 to 15, skewed low for small ASes and high for big ones.
func (g *generator) visibility(asn uint32) int {
	deg := 0
	if g.rel != nil {
		deg = g.rel.Degree(asn).Total()
	}
	e := 2.5 - math.Min(1.7, math.Log10(1+float64(deg))/1.8)
	return 1 + int(14*math.Pow(g.rng.Float64(), e))
}

// pickPeers draws up to k of cands without replacement, weighted by the
// routes each sent in family f (the background's own mix of peers).
func (g *generator) pickPeers(cands []int32, k, f int) []int32 {
	cands = slices.Clone(cands)
	var out []int32
	for len(out) < k && len(cands) > 0 {
		total := 0
		for _, c := range cands {
			total += g.bg.Peers[c].Routes[f]
		}
		if total <= 0 {
			break
		}
		r := g.rng.IntN(total)
		for i, c := range cands {
			r -= g.bg.Peers[c].Routes[f]
			if r < 0 {
				out = append(out, c)
				cands = slices.Delete(cands, i, i+1)
				break
			}
		}
	}
	return out
}

// offsets draws when each of k peers announces, relative to the first:
// seconds to minutes apart.
func (g *generator) offsets(k int) []int64 {
	maxOff := math.Min(180, math.Max(2, float64(g.tEnd-g.tStart)/2))
	out := make([]int64, k)
	for i := 1; i < k; i++ {
		out[i] = int64(g.logUniform(1, maxOff))
	}
	slices.Sort(out)
	return out
}

// startTime draws the start of an instance that lasts span seconds so
// that every second of the injection window is equally likely for its
// messages: the start may lie up to span before the window, and add drops
// the messages that fall outside it.
func (g *generator) startTime(span int64) int64 {
	lo := g.tStart - max(span, 0)
	return lo + g.rng.Int64N(g.tEnd-lo+1)
}

// --- messages ---

// add queues an element at the first second from t that no injected
// element of this peer and prefix uses and in which the background has no
// element of it either; it returns the second used, or -1 (nothing queued)
// when that is outside the injection window.
func (g *generator) add(t int64, peer int32, prefix netip.Prefix, asns []uint32, inst int) int64 {
	if t < g.tStart {
		return -1
	}
	xi, known := g.bg.prefixIdx[prefix]
	addr := g.bg.Peers[peer].Addr
	for g.used[labelKey{t, addr, prefix}] || (known && g.bg.busy(peer, xi, t)) {
		t++
	}
	if t > g.tEnd {
		return -1
	}
	g.used[labelKey{t, addr, prefix}] = true
	g.pending = append(g.pending, msg{t: t, peer: peer, prefix: prefix, asns: asns, inst: int32(inst)})
	return t
}

func (g *generator) rollback() {
	for _, m := range g.pending {
		delete(g.used, labelKey{m.t, g.bg.Peers[m.peer].Addr, m.prefix})
	}
	g.pending = g.pending[:0]
}

func (g *generator) commit() {
	for _, m := range g.pending {
		m.seq = int32(len(g.msgs))
		g.msgs = append(g.msgs, m)
	}
	g.pending = g.pending[:0]
}

// newInstance starts an instance (committed by finish).
func (g *generator) newInstance(class, scenario string) *Instance {
	return &Instance{ID: len(g.insts) + 1, Class: class, Scenario: scenario, ROA: "none"}
}

// finish commits the pending messages of in and fills its counts; with no
// announcement queued it rolls back and reports false.
func (g *generator) finish(in *Instance) bool {
	peers := map[int32]*InstancePeer{}
	var order []int32
	pfx := map[netip.Prefix]bool{}
	in.Start, in.End = math.MaxInt64, 0
	for _, m := range g.pending {
		ip := peers[m.peer]
		if ip == nil {
			p := g.bg.Peers[m.peer]
			ip = &InstancePeer{Addr: p.Addr.String(), ASN: p.ASN, First: math.MaxInt64}
			peers[m.peer] = ip
			order = append(order, m.peer)
		}
		if m.asns == nil {
			in.Withdrawals++
			if ip.Withdraw == 0 || m.t < ip.Withdraw {
				ip.Withdraw = m.t
			}
			in.Withdrawn = true
			continue
		}
		in.Announcements++
		ip.Routes++
		if m.t < ip.First {
			ip.First = m.t
			ip.Path = pathString(m.asns)
		}
		ip.Last = max(ip.Last, m.t)
		in.Start = min(in.Start, m.t)
		in.End = max(in.End, m.t)
		if !pfx[m.prefix] {
			pfx[m.prefix] = true
			in.Prefixes = append(in.Prefixes, m.prefix.String())
		}
	}
	if in.Announcements == 0 {
		g.rollback()
		return false
	}
	for _, p := range order {
		in.Peers = append(in.Peers, *peers[p])
	}
	g.commit()
	g.insts = append(g.insts, in)
	return true
}

// withdrawLater, with probability p, withdraws every announcement queued
// so far for the instance some seconds to minutes later (when that is
// still inside the background).
func (g *generator) withdrawLater(p float64, inst int) {
	if !g.chance(p) {
		return
	}
	d := int64(g.logUniform(20, 600))
	n := len(g.pending)
	for i := 0; i < n; i++ {
		m := g.pending[i]
		if m.asns == nil {
			continue
		}
		t := m.t + d + g.rng.Int64N(10)
		if t > g.tEnd {
			continue
		}
		g.add(t, m.peer, m.prefix, nil, inst)
	}
}

// --- paths ---

func pathString(asns []uint32) string {
	var b strings.Builder
	for i, a := range asns {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(uint64(a), 10))
	}
	return b.String()
}

// uniq drops prepending.
func uniq(asns []uint32) []uint32 {
	out := make([]uint32, 0, len(asns))
	for i, a := range asns {
		if i == 0 || a != asns[i-1] {
			out = append(out, a)
		}
	}
	return out
}

// cutTo returns one of the peer's real paths to asn in family f (ending at
// asn) that contains none of avoid, preferring paths seen by time t; nil
// when there is none.
func (g *generator) cutTo(peer int32, asn uint32, f int, t int64, avoid ...uint32) []uint32 {
	var early, late [][]uint32
	for _, c := range g.bg.toAS[toKey{peer, asn, int8(f)}] {
		if containsAny(c.asns, avoid) {
			continue
		}
		if c.t <= t {
			early = append(early, c.asns)
		} else {
			late = append(late, c.asns)
		}
	}
	if len(early) == 0 {
		early = late
	}
	if len(early) == 0 {
		return nil
	}
	return early[g.rng.IntN(len(early))]
}

// peersReaching lists the eligible peers of family f with a real path to
// asn avoiding the given ASes.
func (g *generator) peersReaching(asn uint32, f int, avoid ...uint32) []int32 {
	var out []int32
	for _, p := range g.eligible[f] {
		for _, c := range g.bg.toAS[toKey{p, asn, int8(f)}] {
			if !containsAny(c.asns, avoid) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// eligibleOf lists the eligible peers of family f that announced prefix x.
func (g *generator) eligibleOf(x *prefixInfo, f int) []int32 {
	var out []int32
	for _, p := range x.peers {
		if _, ok := slices.BinarySearch(g.eligible[f], p); ok {
			out = append(out, p)
		}
	}
	return out
}

// moreSpecific draws a more-specific of p that neither the background nor
// an earlier instance has.
func (g *generator) moreSpecific(p netip.Prefix) (netip.Prefix, bool) {
	f := famOf(p)
	maxLen := maxLenFor(f)
	if p.Bits() >= maxLen {
		return netip.Prefix{}, false
	}
	for range 16 {
		l := maxLen
		if g.chance(0.4) {
			l = p.Bits() + 1 + g.rng.IntN(maxLen-p.Bits())
		}
		b := p.Addr().AsSlice()
		for i := p.Bits(); i < l; i++ {
			if g.chance(0.5) {
				b[i/8] |= 0x80 >> (i % 8)
			}
		}
		a, _ := netip.AddrFromSlice(b)
		q := netip.PrefixFrom(a, l).Masked()
		if !g.bg.prefixKnown(q) && !g.newPrefixes[q] {
			g.newPrefixes[q] = true
			return q, true
		}
	}
	return netip.Prefix{}, false
}

// onRealPaths lists the ASes on any real path to a prefix.
func (g *generator) onRealPaths(xi int32) map[uint32]bool {
	out := map[uint32]bool{}
	for _, p := range g.bg.prefixes[xi].peers {
		for _, e := range g.bg.hist[histKey{p, xi}] {
			for _, a := range e.asns {
				out[a] = true
			}
		}
	}
	return out
}

func (g *generator) siblings(a, b uint32) bool {
	return g.orgs != nil && a != b && g.orgs.Siblings(a, b)
}

// --- ROAs ---

func (g *generator) addROA(p netip.Prefix, maxLen int, asn uint32) {
	g.roas[roaKey{p.Masked(), maxLen, asn}] = true
}

// touch marks prefixes whose ROAs a scenario decides: the random
// background ROAs leave them, their covering and their covered prefixes
// alone.
func (g *generator) touch(ps ...netip.Prefix) {
	for _, p := range ps {
		if !g.roaSet[p] {
			g.roaSet[p] = true
			g.touched = append(g.touched, p)
		}
	}
}

// backgroundROA gives ROAs to a prefix with its real origin, the way about
// 30% of the routed space has them (maxLength mostly the prefix length).
func (g *generator) backgroundROA(p netip.Prefix, origin uint32) {
	ml := p.Bits()
	if g.chance(0.2) {
		ml = max(ml, min(maxLenFor(famOf(p)), ml+1+g.rng.IntN(4)))
	}
	g.addROA(p, ml, origin)
}
