package inject

import (
	"slices"

	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/bogon"
)

// newOrigin describes an instance in which a new origin announces a
// victim's prefix (or a more-specific of it): the hijacks and the benign
// origin changes.
type newOrigin struct {
	class, scenario string
	sub             bool // announce a more-specific of the victim prefix
	forged          bool // append the victim after the new origin (forged origin)
	// pick draws the new origin for victim prefix xi of origin v.
	pick func(g *generator, xi int32, v uint32, f int) (uint32, bool)
	// roa adds the instance's ROAs (a is the new origin) and sets in.ROA.
	roa      func(g *generator, in *Instance, a uint32)
	withdraw float64
	// dormant is the share of instances whose victim is a prefix of the
	// baselines that no peer of the background carries: space the table
	// gives an owner but that is not announced (or not updated) while the
	// detector watches. Pakistan Telecom's 2008 /24 was such a prefix: no
	// peer had a route for it before the hijack, only the table said whose
	// it was.
	dormant float64
	// victimOK filters victims (nil: any).
	victimOK func(g *generator, xi int32, f int) bool
}

func (s *newOrigin) build(g *generator) bool {
	f := g.pickFamily()
	pick := g.pickVictim
	if s.dormant > 0 && len(g.dormant[f]) > 0 && g.chance(s.dormant) {
		pick = g.pickDormant
	}
	xi, ok := pick(f, func(x *prefixInfo) bool {
		if s.sub && x.prefix.Bits() >= maxLenFor(f) {
			return false
		}
		return s.victimOK == nil || s.victimOK(g, g.bg.prefixIdx[x.prefix], f)
	})
	if !ok {
		return false
	}
	x := g.bg.prefixes[xi]
	v := x.allOrigins()[0]
	a, ok := s.pick(g, xi, v, f)
	if !ok {
		return false
	}
	peers := g.peersReaching(a, f, v)
	chosen := g.pickPeers(peers, g.visibility(a), f)
	if len(chosen) == 0 {
		return false
	}
	q := x.prefix
	if s.sub {
		if q, ok = g.moreSpecific(x.prefix); !ok {
			return false
		}
	}
	in := g.newInstance(s.class, s.scenario)
	in.VictimPrefix, in.VictimASN, in.AttackerASN = x.prefix.String(), v, a
	offs := g.offsets(len(chosen))
	t0 := g.startTime(offs[len(offs)-1])
	for i, p := range chosen {
		t := t0 + offs[i]
		path := g.cutTo(p, a, f, t, v)
		if s.forged {
			path = append(slices.Clip(path), v)
		}
		g.add(t, p, q, path, in.ID)
	}
	g.withdrawLater(s.withdraw, in.ID)
	if !g.finish(in) {
		return false
	}
	g.victimUsed[xi]++
	g.touch(x.prefix, q)
	if s.roa != nil {
		s.roa(g, in, a)
	}
	return true
}

// pickAttacker draws an AS that originates prefixes in the background to
// hijack victim prefix xi of origin v: not v, not on a real path to the
// prefix, not its sibling nor its provider (those are benign look-alikes),
// and reached by some peer without going through v. With forged, the
// attacker is any AS of the background and must not be v's neighbour
// (relationships or background paths).
func pickAttacker(forged bool) func(g *generator, xi int32, v uint32, f int) (uint32, bool) {
	return func(g *generator, xi int32, v uint32, f int) (uint32, bool) {
		pool := g.originators
		if forged {
			pool = g.bg.asOrder
		}
		if len(pool) == 0 {
			return 0, false
		}
		onPath := g.onRealPaths(xi)
		for range 300 {
			a := pool[g.rng.IntN(len(pool))]
			if a == v || onPath[a] || g.siblings(a, v) {
				continue
			}
			if bad, _ := bogon.ASN(a); bad {
				continue
			}
			if g.rel != nil {
				r := g.rel.Rel(a, v)
				if r == asrel.Provider || r == asrel.Sibling || (forged && r != asrel.Unknown) {
					continue
				}
			}
			if forged && g.bg.Linked(a, v) {
				continue
			}
			if len(g.peersReaching(a, f, v)) == 0 {
				continue
			}
			return a, true
		}
		return 0, false
	}
}

// victimROA gives about half of the hijacks' victims a ROA (so that RPKI
// invalid is a signal, not a giveaway).
func victimROA(g *generator, in *Instance, _ uint32) {
	if g.chance(0.5) {
		p := mustPrefix(in.VictimPrefix)
		g.addROA(p, p.Bits(), in.VictimASN)
		in.ROA = "victim"
	}
}

func attackSpecs() map[string]*newOrigin {
	return map[string]*newOrigin{
		ScenarioExactOrigin: {class: LabelOriginHijack, scenario: ScenarioExactOrigin,
			pick: pickAttacker(false), roa: victimROA, withdraw: 0.35, dormant: 0.25},
		ScenarioSubprefixOrigin: {class: LabelSubprefixHijack, scenario: ScenarioSubprefixOrigin, sub: true,
			pick: pickAttacker(false), roa: victimROA, withdraw: 0.35},
		ScenarioForgedOriginExact: {class: LabelPathHijack, scenario: ScenarioForgedOriginExact, forged: true,
			pick: pickAttacker(true), roa: victimROA, withdraw: 0.35},
		ScenarioForgedOriginSubprefix: {class: LabelPathHijack, scenario: ScenarioForgedOriginSubprefix, forged: true, sub: true,
			pick: pickAttacker(true), roa: victimROA, withdraw: 0.35},
	}
}

// --- route leaks ---

// leakRelations are, for an RFC 7908 type, what P1 (the AS the leaker
// learned from) and P2 (the AS it leaks to) are to the leaker.
func leakRelations(typ int) (from, to asrel.Relation) {
	switch typ {
	case 1:
		return asrel.Provider, asrel.Provider
	case 2:
		return asrel.Peer, asrel.Peer
	case 3:
		return asrel.Provider, asrel.Peer
	default:
		return asrel.Peer, asrel.Provider
	}
}

type suffixKey struct {
	asn uint32
	up  bool
	fam int8
}

// suffixes are the real path suffixes from asn to an origin of family f
// that asn may pass on: with up, only routes asn learned from a customer
// (or originates), which is all it exports to a peer; else any
// valley-free route (what it exports to a customer).
func (g *generator) suffixes(asn uint32, up bool, f int) []suffix {
	k := suffixKey{asn, up, int8(f)}
	if s, ok := g.suffixCache[k]; ok {
		return s
	}
	var out []suffix
	for _, s := range g.bg.fromAS[asn] {
		if famOf(g.bg.prefixes[s.prefix].prefix) != f {
			continue
		}
		u := uniq(s.asns)
		ok := true
		if up {
			for i := 0; i+1 < len(u); i++ {
				if r := g.rel.Rel(u[i], u[i+1]); r != asrel.Provider && r != asrel.Sibling {
					ok = false
					break
				}
			}
		} else {
			ok = g.rel.Check(u).ValleyFree
		}
		if ok {
			out = append(out, s)
		}
	}
	g.suffixCache[k] = out
	return out
}

type leakCandKey struct {
	typ int
	fam int8
}

// leakEnds lists the neighbours of leaker l that can be P1 and P2 of a
// leak of the given type in family f.
func (g *generator) leakEnds(l uint32, typ, f int) (p1s, p2s []uint32) {
	from, to := leakRelations(typ)
	for nb, r := range g.rel.Neighbors(l) {
		rel := r.Reverse() // what nb is to l
		if bad, _ := bogon.ASN(nb); bad {
			continue
		}
		if rel == from && len(g.suffixes(nb, from == asrel.Peer, f)) > 0 {
			p1s = append(p1s, nb)
		}
		if rel == to && g.reachable(nb, f) {
			p2s = append(p2s, nb)
		}
	}
	return p1s, p2s
}

// reachable reports whether some eligible peer has a real path to asn.
func (g *generator) reachable(asn uint32, f int) bool {
	k := toKey{-1, asn, int8(f)}
	if v, ok := g.reachCache[k]; ok {
		return v
	}
	v := false
	for _, p := range g.eligible[f] {
		if len(g.bg.toAS[toKey{p, asn, int8(f)}]) > 0 {
			v = true
			break
		}
	}
	g.reachCache[k] = v
	return v
}

// leakCandidates lists the background ASes that can leak with this type
// in family f (they have a usable P1 and a distinct usable P2), keeping
// only those with a P1 that passes on at least minLeak prefixes when there
// are any.
func (g *generator) leakCandidates(typ, f int) []uint32 {
	k := leakCandKey{typ, int8(f)}
	if c, ok := g.leakCands[k]; ok {
		return c
	}
	var all, big []uint32
	if g.rel != nil {
		from, _ := leakRelations(typ)
		for _, l := range g.bg.asOrder {
			if bad, _ := bogon.ASN(l); bad {
				continue
			}
			p1s, p2s := g.leakEnds(l, typ, f)
			if len(p1s) == 0 || len(p2s) == 0 || (len(p1s) == 1 && len(p2s) == 1 && p1s[0] == p2s[0]) {
				continue
			}
			all = append(all, l)
			for _, p1 := range p1s {
				if len(g.suffixes(p1, from == asrel.Peer, f)) >= minLeak {
					big = append(big, l)
					break
				}
			}
		}
	}
	if len(big) > 0 {
		all = big
	}
	g.leakCands[k] = all
	return all
}

// minLeak is the least number of prefixes of a leak, when the background
// has that many behind some P1.
const minLeak = 10

func containsAny(a, b []uint32) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// buildLeak injects one route leak of RFC 7908 type typ (1-4): leaker L
// re-exports n prefixes learned from P1 to P2; at peer X the path is X's
// real path to P2, L, then P1's real path to the origin.
func (g *generator) buildLeak(typ int) bool {
	c4, c6 := g.leakCandidates(typ, fam4), g.leakCandidates(typ, fam6)
	if len(c4)+len(c6) == 0 {
		return false
	}
	f, cands := fam4, c4
	if g.rng.IntN(len(c4)+len(c6)) >= len(c4) {
		f, cands = fam6, c6
	}
	l := cands[g.rng.IntN(len(cands))]
	p1s, p2s := g.leakEnds(l, typ, f)
	from, _ := leakRelations(typ)
	// P1: one with at least minLeak prefixes to pass on if any, else the
	// one with the most.
	usable := func(p1 uint32) []suffix {
		var out []suffix
		for _, s := range g.suffixes(p1, from == asrel.Peer, f) {
			if !slices.Contains(s.asns, l) {
				out = append(out, s)
			}
		}
		return out
	}
	var big []uint32
	best, bestN := uint32(0), 0
	for _, p := range p1s {
		n := len(usable(p))
		if n >= minLeak {
			big = append(big, p)
		}
		if n > bestN {
			best, bestN = p, n
		}
	}
	p1 := best
	if len(big) > 0 {
		p1 = big[g.rng.IntN(len(big))]
	}
	p2s = slices.DeleteFunc(p2s, func(a uint32) bool { return a == p1 })
	if len(p2s) == 0 {
		return false
	}
	p2 := p2s[g.rng.IntN(len(p2s))]
	var sufs []suffix
	for _, s := range usable(p1) {
		if !slices.Contains(s.asns, p2) {
			sufs = append(sufs, s)
		}
	}
	if len(sufs) == 0 {
		return false
	}
	n := min(len(sufs), int(g.logUniform(10, 2001)))
	// A uniform subset of n, kept in prefix order.
	idx := make([]int, len(sufs))
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < n; i++ {
		j := i + g.rng.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:n]
	slices.Sort(idx)
	peers := g.peersReaching(p2, f, l, p1)
	chosen := g.pickPeers(peers, g.visibility(l), f)
	if len(chosen) == 0 {
		return false
	}
	in := g.newInstance(LabelRouteLeak, leakScenario(typ))
	in.AttackerASN, in.LeakType, in.LeakFrom, in.LeakTo = l, typ, p1, p2
	// A wave: the peers within a minute or two, each sending its n routes
	// over a few seconds.
	spread := min(60, 1+int64(n)/40)
	offs := make([]int64, len(chosen))
	for i := 1; i < len(offs); i++ {
		offs[i] = int64(g.logUniform(1, 90))
	}
	slices.Sort(offs)
	t0 := g.startTime(offs[len(offs)-1] + spread)
	for i, p := range chosen {
		head := g.cutTo(p, p2, f, t0+offs[i], l, p1)
		if head == nil {
			continue
		}
		for j, k := range idx {
			s := sufs[k]
			if containsAny(head, s.asns) {
				continue
			}
			path := make([]uint32, 0, len(head)+1+len(s.asns))
			path = append(append(append(path, head...), l), s.asns...)
			chk := g.rel.Check(path)
			if chk.Leak.Type != asrel.LeakType(typ) || path[chk.Leak.Leaker] != l {
				continue
			}
			t := t0 + offs[i] + spread*int64(j)/int64(n)
			g.add(t, p, g.bg.prefixes[s.prefix].prefix, path, in.ID)
		}
	}
	g.withdrawLater(0.35, in.ID)
	return g.finish(in)
}
