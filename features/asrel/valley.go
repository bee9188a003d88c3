package asrel

import "strconv"

// LeakType is an RFC 7908 route-leak type detectable from an AS path.
type LeakType uint8

// Leak types. Types 5 (re-origination) and 6 (internal more-specifics) of
// RFC 7908 cannot be seen in a path and are not reported.
const (
	NoLeak             LeakType = iota
	LeakHairpin                 // type 1: learned from a provider, sent to a provider
	LeakLateral                 // type 2: learned from a peer, sent to a peer
	LeakProviderToPeer          // type 3: learned from a provider, sent to a peer
	LeakPeerToProvider          // type 4: learned from a peer, sent to a provider
	LeakUnclassified            // a valley, but the link it was learned over is unknown
)

func (t LeakType) String() string {
	switch t {
	case NoLeak:
		return "none"
	case LeakHairpin:
		return "type1-hairpin"
	case LeakLateral:
		return "type2-lateral"
	case LeakProviderToPeer:
		return "type3-provider-to-peer"
	case LeakPeerToProvider:
		return "type4-peer-to-provider"
	case LeakUnclassified:
		return "unclassified"
	}
	return "leak(" + strconv.Itoa(int(t)) + ")"
}

// RFC7908 is the type number of RFC 7908 section 3 (1 to 4), 0 for NoLeak
// and LeakUnclassified.
func (t LeakType) RFC7908() int {
	if t >= LeakHairpin && t <= LeakPeerToProvider {
		return int(t)
	}
	return 0
}

// Leak is a route leak found in an AS path.
type Leak struct {
	Type LeakType
	// Leaker is the index in the path of the AS that passed the route on
	// against policy (its first occurrence when prepended), To the index
	// of the neighbour it passed it to (always Leaker-1, the
	// FirstViolation link), From the index of the neighbour it learned it
	// from, looking through siblings of the leaker; all -1 for NoLeak.
	Leaker, From, To int
}

// PathCheck is the full verdict on an AS path.
type PathCheck struct {
	ValleyFree bool
	// FirstViolation is the index i of the first link (path[i],
	// path[i+1]), walking from the origin, after which the path cannot be
	// valley-free whatever the unknown links are; -1 when it is
	// valley-free. path[i+1] is the AS that broke the rule.
	FirstViolation int
	Links          int // links between distinct adjacent ASes
	Unknown        int // links of those with no known relation
	Leak           Leak
}

// ValleyFree reports whether path can be valley-free (RFC 7908, Gao):
// walking from the origin, customer-to-provider steps, at most one peer
// step, then provider-to-customer steps; sibling links are neutral.
// Unknown links are not violations: a path is reported as violating only
// when no relation of its unknown links would make it valley-free.
// firstViolation is as in PathCheck, unknown the number of links with no
// known relation.
func (g *Graph) ValleyFree(path []uint32) (ok bool, firstViolation int, unknown int) {
	c := g.Check(path)
	return c.ValleyFree, c.FirstViolation, c.Unknown
}

// Leak finds the first route leak of path (see Check).
func (g *Graph) Leak(path []uint32) Leak { return g.Check(path).Leak }

// Check walks path once and returns the valley-free verdict, link counts
// and, for a violation, the RFC 7908 leak type and the leaker.
func (g *Graph) Check(path []uint32) PathCheck {
	res := PathCheck{ValleyFree: true, FirstViolation: -1, Leak: Leak{Leaker: -1, From: -1, To: -1}}
	// runs[k] is the index where the k-th distinct AS (from path[0])
	// first appears; prepending collapses into one run.
	var buf [32]int
	runs := buf[:0]
	for i, a := range path {
		if i == 0 || a != path[i-1] {
			runs = append(runs, i)
		}
	}
	// up: the route may still be climbing. Once a known peer or
	// provider-to-customer step is taken it may only descend. An unknown
	// link could be anything, so it leaves up as it was (a climb stays
	// possible) and never causes a violation itself.
	up, violated := true, false
	for k := len(runs) - 2; k >= 0; k-- {
		sender, receiver := path[runs[k+1]], path[runs[k]]
		res.Links++
		rel := g.Rel(sender, receiver)
		if rel == Unknown {
			res.Unknown++
		}
		if violated {
			continue
		}
		switch rel {
		case Customer: // sender climbs to its provider
			violated = !up
		case Peer:
			violated = !up
			up = false
		case Provider:
			up = false
		}
		if violated {
			res.ValleyFree = false
			res.FirstViolation = runs[k+1] - 1
			res.Leak = g.classify(path, runs, k, rel)
		}
	}
	return res
}

// classify names the leak at the violating step from run k+1 (the leaker)
// to run k, whose relation is out (Customer: sent to a provider, Peer: sent
// to a peer).
func (g *Graph) classify(path []uint32, runs []int, k int, out Relation) Leak {
	l := Leak{Type: LeakUnclassified, Leaker: runs[k+1], From: -1, To: runs[k+1] - 1}
	leaker := path[runs[k+1]]
	// The leaker learned the route over its link to run k+2; siblings pass
	// routes as one AS, so look through them.
	var in Relation = Unknown
	for j := k + 2; j < len(runs); j++ {
		in = g.Rel(path[runs[j]], leaker)
		if in != Sibling {
			l.From = runs[j]
			break
		}
		leaker = path[runs[j]]
	}
	switch {
	case in == Provider && out == Customer:
		l.Type = LeakHairpin
	case in == Peer && out == Peer:
		l.Type = LeakLateral
	case in == Provider && out == Peer:
		l.Type = LeakProviderToPeer
	case in == Peer && out == Customer:
		l.Type = LeakPeerToProvider
	}
	return l
}
