package inject

import (
	"net/netip"
	"slices"

	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/bogon"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// benignSpecs are the benign look-alikes in which a new origin announces
// the victim's prefix.
func benignSpecs() map[string]*newOrigin {
	both := func(p float64) func(g *generator, in *Instance, a uint32) {
		return func(g *generator, in *Instance, a uint32) {
			if g.chance(p) {
				pfx := mustPrefix(in.VictimPrefix)
				g.addROA(pfx, pfx.Bits(), in.VictimASN)
				g.addROA(pfx, pfx.Bits(), a)
				in.ROA = "victim+new_origin"
			}
		}
	}
	return map[string]*newOrigin{
		ScenarioProviderOrigin: {class: LabelBenign, scenario: ScenarioProviderOrigin,
			pick: pickRelated(func(g *generator, v uint32) []uint32 {
				var out []uint32
				if g.rel != nil {
					for nb, r := range g.rel.Neighbors(v) {
						if r == asrel.Customer { // v buys transit from nb
							out = append(out, nb)
						}
					}
				}
				return out
			}),
			victimOK: func(g *generator, xi int32, f int) bool { return g.hasRelated(xi, f, false) },
			roa:      both(0.3), withdraw: 0.3},
		ScenarioSiblingOrigin: {class: LabelBenign, scenario: ScenarioSiblingOrigin,
			pick:     pickRelated(siblingsOf),
			victimOK: func(g *generator, xi int32, f int) bool { return g.hasRelated(xi, f, true) },
			roa:      both(0.3), withdraw: 0.3},
		ScenarioROANewOrigin: {class: LabelBenign, scenario: ScenarioROANewOrigin,
			pick: pickAttacker(false), roa: both(1), withdraw: 0.3},
	}
}

func siblingsOf(g *generator, v uint32) []uint32 {
	if g.orgs == nil {
		return nil
	}
	o, ok := g.orgs.Info(v)
	if !ok {
		return nil
	}
	var out []uint32
	for _, a := range o.ASNs {
		if a != v && g.bg.seenAS[a] > 0 {
			out = append(out, a)
		}
	}
	return out
}

// pickRelated draws one of related(v) that some peer reaches without
// going through v.
func pickRelated(related func(g *generator, v uint32) []uint32) func(g *generator, xi int32, v uint32, f int) (uint32, bool) {
	return func(g *generator, xi int32, v uint32, f int) (uint32, bool) {
		var ok []uint32
		for _, a := range related(g, v) {
			if bad, _ := bogon.ASN(a); !bad && len(g.peersReaching(a, f, v)) > 0 {
				ok = append(ok, a)
			}
		}
		if len(ok) == 0 {
			return 0, false
		}
		return ok[g.rng.IntN(len(ok))], true
	}
}

type relatedKey struct {
	xi      int32
	f       int8
	sibling bool
}

// hasRelated reports (cached) whether victim xi has a provider (or a
// sibling) that some peer reaches.
func (g *generator) hasRelated(xi int32, f int, sibling bool) bool {
	k := relatedKey{xi, int8(f), sibling}
	if v, ok := g.relatedCache[k]; ok {
		return v
	}
	v := g.bg.prefixes[xi].allOrigins()[0]
	var cands []uint32
	if sibling {
		cands = siblingsOf(g, v)
	} else if g.rel != nil {
		for nb, r := range g.rel.Neighbors(v) {
			if r == asrel.Customer {
				cands = append(cands, nb)
			}
		}
	}
	found := false
	for _, a := range cands {
		if len(g.peersReaching(a, f, v)) > 0 {
			found = true
			break
		}
	}
	g.relatedCache[k] = found
	return found
}

// victimROA30 gives a benign instance's prefix a ROA of its origin with
// the background's odds.
func (g *generator) victimROA30(in *Instance, p netip.Prefix, v uint32) {
	if g.chance(0.3) {
		g.backgroundROA(p, v)
		in.ROA = "victim"
	}
}

// samePrefixPeers draws the peers of an instance about prefix xi: those
// that carried it, as many as its origin's visibility.
func (g *generator) samePrefixPeers(xi int32, f int, v uint32) []int32 {
	return g.pickPeers(g.eligibleOf(g.bg.prefixes[xi], f), g.visibility(v), f)
}

// currentPath is the peer's path for prefix xi at t, or the first it ever
// used when it has none then.
func (g *generator) currentPath(peer, xi int32, t int64) []uint32 {
	if p := g.bg.routeAt(peer, xi, t); p != nil {
		return p
	}
	if ps := g.bg.pathsOf(peer, xi); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// buildOwnMoreSpecific: the origin announces a new more-specific of its
// prefix over its usual paths.
func (g *generator) buildOwnMoreSpecific() bool {
	f := g.pickFamily()
	xi, ok := g.pickVictim(f, func(x *prefixInfo) bool { return x.prefix.Bits() < maxLenFor(f) })
	if !ok {
		return false
	}
	x := g.bg.prefixes[xi]
	v := x.allOrigins()[0]
	q, ok := g.moreSpecific(x.prefix)
	if !ok {
		return false
	}
	in, ok := g.announceMoreSpecific(ScenarioOwnMoreSpecific, xi, f, v, v, q, func(path []uint32) []uint32 { return path })
	if !ok {
		return false
	}
	if g.chance(0.3) {
		// Half of the ROAs allow the more-specific; the other half are
		// the common misconfiguration (maxLength too short).
		if g.chance(0.5) {
			g.addROA(x.prefix, q.Bits(), v)
			in.ROA = "victim_maxlength_ok"
		} else {
			g.addROA(x.prefix, x.prefix.Bits(), v)
			in.ROA = "victim_maxlength_short"
		}
	}
	return true
}

// buildSamePrefix injects a benign change of the paths of a victim-pool
// prefix: path returns the new path of a peer at t (nil: skip the peer).
func (g *generator) buildSamePrefix(scenario string, setup func(in *Instance), path func(peer, xi int32, t int64) []uint32) bool {
	f := g.pickFamily()
	xi, ok := g.pickVictim(f, nil)
	if !ok {
		return false
	}
	x := g.bg.prefixes[xi]
	v := x.allOrigins()[0]
	chosen := g.samePrefixPeers(xi, f, v)
	if len(chosen) == 0 {
		return false
	}
	in := g.newInstance(LabelBenign, scenario)
	in.VictimPrefix, in.VictimASN, in.AttackerASN = x.prefix.String(), v, v
	if setup != nil {
		setup(in)
	}
	offs := g.offsets(len(chosen))
	t0 := g.startTime(offs[len(offs)-1])
	for i, p := range chosen {
		t := t0 + offs[i]
		if np := path(p, xi, t); np != nil {
			g.add(t, p, x.prefix, np, in.ID)
		}
	}
	g.withdrawLater(0.15, in.ID)
	if !g.finish(in) {
		return false
	}
	g.victimUsed[xi]++
	g.touch(x.prefix)
	g.victimROA30(in, x.prefix, v)
	return true
}

// buildPrepend: the origin prepends itself 2 to 5 more times.
func (g *generator) buildPrepend() bool {
	k := 2 + g.rng.IntN(4)
	return g.buildSamePrefix(ScenarioPrepend, func(in *Instance) { in.Prepend = k }, func(peer, xi int32, t int64) []uint32 {
		cur := g.currentPath(peer, xi, t)
		if cur == nil {
			return nil
		}
		out := slices.Clone(cur)
		for range k {
			out = append(out, cur[len(cur)-1])
		}
		return out
	})
}

// buildAlternativePath: a peer moves to another real path for the prefix:
// one it used before, or its real path to an AS on another peer's path
// for the prefix joined with the rest of that path.
func (g *generator) buildAlternativePath() bool {
	return g.buildSamePrefix(ScenarioAlternativePath, nil, func(peer, xi int32, t int64) []uint32 {
		f := famOf(g.bg.prefixes[xi].prefix)
		cur := g.bg.routeAt(peer, xi, t)
		var cands [][]uint32
		// Valley-free only: a detour a policy-abiding network could
		// take.
		consider := func(p []uint32) {
			if len(cands) < 64 && !slices.Equal(p, cur) && !slices.ContainsFunc(cands, func(c []uint32) bool { return slices.Equal(c, p) }) &&
				(g.rel == nil || g.rel.Check(p).ValleyFree) {
				cands = append(cands, p)
			}
		}
		for _, p := range g.bg.pathsOf(peer, xi) {
			consider(p)
		}
		if len(cands) > 0 && g.chance(0.5) {
			return cands[g.rng.IntN(len(cands))] // one the peer used itself
		}
		for _, other := range g.bg.prefixes[xi].peers {
			if other == peer {
				continue
			}
			for _, op := range g.bg.pathsOf(other, xi) {
				for j := 0; j+1 < len(op); j++ {
					if j > 0 && op[j] == op[j-1] {
						continue
					}
					rest := op[j+1:]
					for _, c := range g.bg.toAS[toKey{peer, op[j], int8(f)}] {
						if c.t > t || containsAny(c.asns, rest) {
							continue
						}
						np := make([]uint32, 0, len(c.asns)+len(rest))
						consider(append(append(np, c.asns...), rest...))
					}
				}
			}
		}
		if len(cands) == 0 {
			return nil
		}
		return cands[g.rng.IntN(len(cands))]
	})
}

// buildFlap: peers withdraw a real route and announce it again, once to
// three times.
func (g *generator) buildFlap() bool {
	f := g.pickFamily()
	xi, ok := g.pickVictim(f, nil)
	if !ok {
		return false
	}
	x := g.bg.prefixes[xi]
	v := x.allOrigins()[0]
	chosen := g.samePrefixPeers(xi, f, v)
	if len(chosen) == 0 {
		return false
	}
	in := g.newInstance(LabelBenign, ScenarioFlap)
	in.VictimPrefix, in.VictimASN, in.AttackerASN = x.prefix.String(), v, v
	cycles := 1
	if g.chance(0.3) {
		cycles += 1 + g.rng.IntN(2)
	}
	offs := g.offsets(len(chosen))
	t0 := g.startTime(offs[len(offs)-1] + int64(cycles)*40)
	for i, p := range chosen {
		t := t0 + offs[i]
		path := g.bg.routeAt(p, xi, t)
		if path == nil {
			continue
		}
		for range cycles {
			if t = g.add(t, p, x.prefix, nil, in.ID); t < 0 {
				break
			}
			if t = g.add(t+int64(g.logUniform(2, 60)), p, x.prefix, path, in.ID); t < 0 {
				break
			}
			t += int64(g.logUniform(5, 60))
		}
	}
	if !g.finish(in) {
		return false
	}
	g.victimUsed[xi]++
	g.touch(x.prefix)
	g.victimROA30(in, x.prefix, v)
	return true
}

// buildSessionReset: one peer announces again a part of its table (its
// current routes, same paths) in a burst, as after a session reset.
func (g *generator) buildSessionReset() bool {
	f := g.pickFamily()
	peers := g.pickPeers(g.eligible[f], 1, f)
	if len(peers) == 0 {
		return false
	}
	p := peers[0]
	m := int(g.logUniform(50, 2001))
	spread := 1 + int64(m)/200 + g.rng.Int64N(6)
	t0 := g.startTime(spread)
	var routes []int32
	for _, xi := range g.peerPfx[p] {
		if famOf(g.bg.prefixes[xi].prefix) == f && g.bg.routeAt(p, xi, t0) != nil {
			routes = append(routes, xi)
		}
	}
	if len(routes) < 10 {
		return false
	}
	m = min(len(routes), m)
	for i := 0; i < m; i++ {
		j := i + g.rng.IntN(len(routes)-i)
		routes[i], routes[j] = routes[j], routes[i]
	}
	routes = routes[:m]
	slices.Sort(routes)
	in := g.newInstance(LabelBenign, ScenarioSessionReset)
	in.AttackerASN = g.bg.Peers[p].ASN
	for i, xi := range routes {
		t := t0 + spread*int64(i)/int64(m)
		// The route as it is when re-sent (it may have changed since t0).
		if path := g.bg.routeAt(p, xi, t+1); path != nil {
			g.add(t, p, g.bg.prefixes[xi].prefix, path, in.ID)
		}
	}
	return g.finish(in)
}

// buildCustomerMoreSpecific: a customer C of the origin V announces a
// more-specific of V's prefix, reached through V (provider-assigned space,
// one of the commonest legitimate sub-prefix origins): path = the peer's
// usual path to V, then C.
func (g *generator) buildCustomerMoreSpecific() bool {
	if g.rel == nil {
		return false
	}
	f := g.pickFamily()
	xi, ok := g.pickVictim(f, func(x *prefixInfo) bool { return x.prefix.Bits() < maxLenFor(f) })
	if !ok {
		return false
	}
	x := g.bg.prefixes[xi]
	v := x.allOrigins()[0]
	var customers []uint32
	for nb, r := range g.rel.Neighbors(v) {
		if r != asrel.Provider { // v is nb's provider
			continue
		}
		if bad, _ := bogon.ASN(nb); !bad && g.bg.seenAS[nb] > 0 {
			customers = append(customers, nb)
		}
	}
	if len(customers) == 0 {
		return false
	}
	c := customers[g.rng.IntN(len(customers))]
	q, ok := g.moreSpecific(x.prefix)
	if !ok {
		return false
	}
	in, ok := g.announceMoreSpecific(ScenarioCustomerMoreSpecific, xi, f, v, c, q, func(path []uint32) []uint32 {
		if path[len(path)-1] != v {
			return nil
		}
		return append(slices.Clone(path), c)
	})
	if !ok {
		return false
	}
	if g.chance(0.3) {
		g.addROA(q, q.Bits(), c)
		in.ROA = "customer"
	}
	return true
}

// announceMoreSpecific makes a benign instance in which the peers that
// carry victim prefix xi (origin v) announce its more-specific q, each
// with path(its current path to xi) (nil: that peer is skipped); newOrigin
// is recorded as the instance's "attacker" for the AS split.
func (g *generator) announceMoreSpecific(scenario string, xi int32, f int, v, newOrigin uint32, q netip.Prefix, path func([]uint32) []uint32) (*Instance, bool) {
	x := g.bg.prefixes[xi]
	chosen := g.samePrefixPeers(xi, f, v)
	if len(chosen) == 0 {
		return nil, false
	}
	in := g.newInstance(LabelBenign, scenario)
	in.VictimPrefix, in.VictimASN, in.AttackerASN = x.prefix.String(), v, newOrigin
	offs := g.offsets(len(chosen))
	t0 := g.startTime(offs[len(offs)-1])
	for i, p := range chosen {
		t := t0 + offs[i]
		if cur := g.currentPath(p, xi, t); cur != nil {
			if np := path(cur); np != nil {
				g.add(t, p, q, np, in.ID)
			}
		}
	}
	g.withdrawLater(0.2, in.ID)
	if !g.finish(in) {
		return nil, false
	}
	g.victimUsed[xi]++
	g.touch(x.prefix, q)
	return in, true
}
