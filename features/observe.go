package features

import (
	"net/netip"
	"slices"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/bogon"
	"github.com/bgpsentry/bgpsentry/features/rpki"
)

// Candidate describes a scored announcement beyond its vector: what the
// event builder needs to name a suspect and an expected origin.
type Candidate struct {
	Update *bgpfeed.Update
	Path   []uint32 // AS_SEQUENCE ASNs, prepending removed, peer side first
	Origin uint32
	// Expected are the origins the prefix had before (exact prefix), or
	// those of the closest covering prefix (SubPrefix) when the prefix is
	// new; ExpectedPrefix is the prefix they hold.
	Expected       []uint32
	ExpectedPrefix netip.Prefix
	SubPrefix      bool
	NewOrigin      bool // Origin never seen for this exact prefix
	// NewLinkAS is the far (peer-side) end of the new link closest to the
	// origin, 0 when every link is known: the suspect of a forged path.
	NewLinkAS uint32
	Leak      asrel.Leak
	Leaker    uint32 // the leaking AS when Leak.Type != NoLeak
	// PeersWithOrigin is how many other peer routes carried this prefix
	// from this origin before the announcement (peers_seeing_origin
	// without the announcing peer's own route): vantage points the
	// offending route had reached already.
	PeersWithOrigin int
	// LeakEstablished: the path's leak triple (the AS it leaked to, the
	// leaker, the AS it learned from) was already in paths seen before
	// monitoring started, or more than Config.Young ago. A leak is a new
	// export; a valley that has been there all along is a relationship
	// the data gets wrong (or an old leak, reported when it began).
	LeakEstablished bool
	// LeakFrom is the AS the leaker learned the route from (the path's
	// Leak.From; 0 without one). LeakFromSmaller: it has fewer neighbours
	// than the leaker, as a customer has fewer than its provider.
	LeakFrom        uint32
	LeakFromSmaller bool
	// ActivePeers is how many peer sessions are up (peers_active).
	ActivePeers int
	// ExpectedRouted: a route of the data (an update or a RIB dump entry,
	// not only a prefix-to-origin table) carried one of the Expected
	// origins for the prefix or a prefix covering it, at any time.
	ExpectedRouted bool
	// Loop: an AS appears twice in Path, apart (allowas-in, AS-path
	// poisoning): the path is no route's journey, so its valleys are
	// not leaks.
	Loop bool
	// OriginSibling: Origin and one of Expected are one organisation
	// (Config.Orgs, or a sibling link of the relationships).
	// NewLinkSibling: so are the two ends of the new link next to
	// NewLinkAS.
	OriginSibling, NewLinkSibling bool
}

// pathFacts are per-path facts that depend only on the path and the
// relationships, cached per interned *Path.
type pathFacts struct {
	uniq      []uint32
	loop      bool // an AS twice in uniq
	prepend   int
	hasSet    bool
	bogons    int
	check     asrel.PathCheck
	haveCheck bool
}

const maxPathCache = 1 << 20

func (s *State) facts(p *bgpfeed.Path) *pathFacts {
	if f, ok := s.pathInfo[p]; ok {
		return f
	}
	s.asns = p.ASNs(s.asns[:0])
	f := s.computeFacts(p, s.asns)
	if len(s.pathInfo) >= maxPathCache {
		clear(s.pathInfo)
	}
	s.pathInfo[p] = f
	return f
}

// cachedFacts is facts without filling the cache (read-only featurizing).
func (s *State) cachedFacts(p *bgpfeed.Path) *pathFacts {
	if f, ok := s.pathInfo[p]; ok {
		return f
	}
	return s.computeFacts(p, p.ASNs(nil))
}

// computeFacts derives what the features need of a path whose ASNs are
// asns.
func (s *State) computeFacts(p *bgpfeed.Path, asns []uint32) *pathFacts {
	f := &pathFacts{hasSet: p.HasSet()}
	run := 1
	for i, a := range asns {
		if i > 0 && a == asns[i-1] {
			run++
			continue
		}
		if run-1 > f.prepend {
			f.prepend = run - 1
		}
		run = 1
		f.uniq = append(f.uniq, a)
	}
	if run-1 > f.prepend {
		f.prepend = run - 1
	}
	for i, a := range f.uniq {
		f.loop = f.loop || slices.Contains(f.uniq[i+1:], a)
	}
	f.bogons, _ = bogon.Path(f.uniq)
	if s.rel != nil {
		f.check = s.rel.Check(f.uniq)
		f.haveCheck = true
	}
	return f
}

// Observe applies u to the state. For an announcement that is not a table
// entry, that comes after the warm-up and that passes the gate (something
// about it is new: its origin for this prefix, a link of its path, or a
// changed path that is RPKI-invalid or not valley-free), it fills vec
// (length NumFeatures), computed against the state before u, and returns a
// Candidate; otherwise it returns nil. vec is left untouched then.
func (s *State) Observe(u *bgpfeed.Update, vec []float64) *Candidate {
	c, gated := s.observe(u, vec, false)
	if !gated {
		return nil
	}
	return c
}

// ObserveAll is Observe, but it also returns the Candidate (and fills vec)
// of an announcement the gate lets pass by, with gated false; training
// uses it so that an injected attack the gate misses counts as missed.
func (s *State) ObserveAll(u *bgpfeed.Update, vec []float64) (c *Candidate, gated bool) {
	return s.observe(u, vec, true)
}

// stale reports whether a live announcement or withdrawal predates the
// last session-down of its peer: it was sent in the session that ended
// (read late from another Kafka partition), so its route is gone.
func (s *State) stale(u *bgpfeed.Update) bool {
	if u.Table || s.downs == 0 {
		return false // no session has gone down: nothing can be stale
	}
	id, ok := s.lookupPeer(u)
	if !ok || s.peers[id].lastDown == 0 || u.Time.UnixNano() >= s.peers[id].lastDown {
		return false
	}
	s.staleUpdates++
	return true
}

func (s *State) observe(u *bgpfeed.Update, vec []float64, all bool) (*Candidate, bool) {
	if s.lazy != nil && !s.lazy.ahead {
		s.touchLazy(u)
	}
	s.observed++
	now := u.Time.Unix()
	if now > s.now {
		s.now = now
	}
	switch u.Kind {
	case bgpfeed.KindState:
		if !u.PeerAddr.IsValid() {
			return nil, false
		}
		id := s.peer(u)
		ps := &s.peers[id]
		t := u.Time.UnixNano()
		if u.SessionDown() || u.NewState != bgpfeed.StateEstablished {
			// A down at or before the last one applied is a copy of it
			// (Kafka writes a state change to every partition, and a
			// classifier owning several reads each copy, late ones after
			// the session came back): applying it again would end the
			// routes the peer announced since.
			if t <= ps.lastDown && ps.lastDown != 0 {
				s.staleUpdates++
				return nil, false
			}
			if ps.up || u.SessionDown() {
				ps.epoch++
				ps.lastDown = t
				s.downs++
			}
			ps.up = false
		} else if t >= ps.lastDown {
			ps.up = true
		}
		return nil, false
	case bgpfeed.KindWithdraw:
		if u.Local || s.stale(u) {
			return nil, false
		}
		s.withdraw(u)
		return nil, false
	case bgpfeed.KindAnnounce:
	default:
		return nil, false
	}
	if u.Local || u.Attrs == nil || u.Attrs.Path == nil || !u.Prefix.IsValid() || s.stale(u) {
		return nil, false
	}
	if u.Table {
		s.learned++
		s.noteTable(u.Time)
		s.collectPath(u.Attrs.Path)
		s.learn(u, nil, true)
		return nil, false
	}
	if !s.started {
		s.started, s.liveFirst = true, now
		s.learnUntil = now + int64(s.cfg.Warmup.Seconds())
	}
	f := s.facts(u.Attrs.Path)
	if now < s.learnUntil || len(f.uniq) == 0 {
		s.learned++
		s.collectPath(u.Attrs.Path)
		s.learn(u, f, false)
		return nil, false
	}
	if s.inferPaths != nil {
		s.inferNow()
		f = s.facts(u.Attrs.Path)
	}
	if len(vec) < NumFeatures {
		vec = s.scratch[:]
	}
	// One lookup of the prefix for the gate, the vector and learning:
	// nothing changes the trie in between.
	ps, _ := s.prefixes.Get(u.Prefix)
	if !all && !s.gate(u, f, ps) {
		s.learnAt(u, f, false, ps)
		return nil, false
	}
	c, gated := s.featurize(u, f, vec[:NumFeatures], s.peer(u), s.facts, ps)
	s.learnAt(u, f, false, ps)
	if gated {
		s.scored++
	}
	if !gated && !all {
		return nil, false
	}
	return c, gated
}

// gate is the cheap part of featurize: whether u is worth a vector. It
// must agree with the gate featurize computes (TestGateAgrees checks).
func (s *State) gate(u *bgpfeed.Update, f *pathFacts, ps *prefixState) bool {
	now := u.Time.Unix()
	origin := u.Attrs.Path.Origin()
	young := int64(s.cfg.Young.Seconds())
	if ps == nil {
		return true // a new prefix is a new origin for it
	}
	known := false
	for _, o := range ps.origins {
		if o.asn == origin {
			known = true
			if o.first != 0 && now-o.first < young {
				return true
			}
		}
	}
	if !known {
		return true
	}
	for i := 0; i+1 < len(f.uniq); i++ {
		first, ok := s.linkFirst(f.uniq[i], f.uniq[i+1])
		if !ok || (first != 0 && now-first < young) {
			return true
		}
	}
	id := s.peer(u)
	changed := true
	for _, r := range ps.routes {
		if r.peer == id && r.pathID == u.PathID && s.live(r) {
			changed = !samePath(r.path, u.Attrs.Path)
			break
		}
	}
	if !changed {
		return false
	}
	if f.haveCheck && !f.check.ValleyFree {
		return true
	}
	return s.cfg.RPKI != nil && s.cfg.RPKI.Validate(u.Prefix, origin).Invalid()
}

func (s *State) withdraw(u *bgpfeed.Update) {
	if !u.PeerAddr.IsValid() {
		return
	}
	ps, ok := s.prefixes.Get(u.Prefix)
	if !ok {
		return
	}
	id := s.peer(u)
	for i, r := range ps.routes {
		if r.peer == id && r.pathID == u.PathID {
			ps.routes[i] = ps.routes[len(ps.routes)-1]
			ps.routes = ps.routes[:len(ps.routes)-1]
			return
		}
	}
}

// learn records u in the state: origin history, the peer's route, links,
// per-origin statistics and burst counters.
func (s *State) learn(u *bgpfeed.Update, f *pathFacts, table bool) {
	s.learnAt(u, f, table, nil)
}

// learnAt is learn with u's prefix state, when the caller looked it up
// already (nil: look it up, and add it if new).
func (s *State) learnAt(u *bgpfeed.Update, f *pathFacts, table bool, known *prefixState) {
	now := u.Time.Unix()
	stamp := now
	if table || now < s.learnUntil {
		// Known from a baseline, or learned during the warm-up, before
		// monitoring started: "long ago".
		stamp = 0
	}
	origin := u.Attrs.Path.Origin()
	ps := known
	if ps == nil {
		slot, ok, err := s.prefixes.Entry(u.Prefix)
		if err != nil {
			return
		}
		if ps = *slot; !ok {
			ps = s.alloc.prefix()
			ps.first = stamp
			*slot = ps
		}
	}
	if table && ps.first > 0 {
		ps.first = 0
	}
	if origin != 0 {
		known := false
		for i := range ps.origins {
			if ps.origins[i].asn == origin {
				known = true
				ps.origins[i].last = now
				ps.origins[i].routed = ps.origins[i].routed || u.PeerAddr.IsValid()
				if table {
					ps.origins[i].first = 0
				}
				break
			}
		}
		if !known {
			if len(ps.origins) >= maxOrigins {
				// Forget the origin seen least recently.
				old := 0
				for i := range ps.origins {
					if ps.origins[i].last < ps.origins[old].last {
						old = i
					}
				}
				ps.origins = append(ps.origins[:old], ps.origins[old+1:]...)
			}
			rec := originRec{asn: origin, routed: u.PeerAddr.IsValid(), first: stamp, last: now}
			if cap(ps.origins) == 0 {
				ps.origins = s.alloc.origin(rec)
			} else {
				ps.origins = append(ps.origins, rec)
			}
			os := s.origins[origin]
			if os == nil {
				os = &originStat{first: stamp}
				s.origins[origin] = os
			} else if table {
				os.first = 0
			}
			os.prefixes++
			if !table {
				s.burst(burstOrigin, origin, now)
			}
		}
	}
	if !u.PeerAddr.IsValid() {
		return // a prefix2as entry: origin only
	}
	id := s.peer(u)
	s.peers[id].up = true
	r := route{peer: id, epoch: s.peers[id].epoch, pathID: u.PathID, path: u.Attrs.Path}
	replaced, changed := false, true
	for i := range ps.routes {
		if ps.routes[i].peer == id && ps.routes[i].pathID == u.PathID {
			changed = !s.live(ps.routes[i]) || !samePath(ps.routes[i].path, u.Attrs.Path)
			ps.routes[i] = r
			replaced = true
			break
		}
	}
	if !replaced {
		// Drop routes of sessions that went down meanwhile.
		live := ps.routes[:0]
		for _, old := range ps.routes {
			if s.live(old) {
				live = append(live, old)
			}
		}
		ps.routes = append(live, r)
	}
	if f == nil {
		f = s.facts(u.Attrs.Path)
	}
	if !table && changed {
		if f.haveCheck {
			s.learnLeak(f, now, stamp)
		} else if s.deferRel {
			s.deferred = append(s.deferred, deferredLeak{u.Attrs.Path, now, stamp})
		}
	}
	for i := 0; i+1 < len(f.uniq); i++ {
		k := linkKey(f.uniq[i], f.uniq[i+1])
		if first, ok := s.links[k]; ok {
			if table && first != 0 {
				s.links[k] = 0
			}
			continue
		}
		if s.relKnows(f.uniq[i], f.uniq[i+1]) {
			s.links[k] = 0 // in the relationship file: an old link
			continue
		}
		s.links[k] = stamp
		if _, rev := s.links[linkKey(f.uniq[i+1], f.uniq[i])]; !rev {
			s.degree[f.uniq[i]]++
			s.degree[f.uniq[i+1]]++
		}
		if !table {
			s.burst(burstNewLinkAS, f.uniq[i], now)
		}
	}
}

// learnLeak records what a changed path with a valley tells of leaks,
// once the relationships are known (f.haveCheck): its leaker's burst,
// and its leak triple with its first sighting (stamp).
func (s *State) learnLeak(f *pathFacts, now, stamp int64) {
	if l := f.check.Leak; l.Type != asrel.NoLeak && l.Leaker >= 0 && l.Leaker < len(f.uniq) {
		s.burst(burstLeaker, f.uniq[l.Leaker], now)
	}
	if k, ok := leakTriple(f); ok {
		if _, seen := s.valleys[k]; !seen {
			s.valleys[k] = stamp
		}
	}
}

func (s *State) burst(kind int, asn uint32, now int64) {
	d := s.bursts[kind][asn]
	if d == nil {
		if len(s.bursts[kind]) > 1<<20 {
			clear(s.bursts[kind])
		}
		d = &decay{}
		s.bursts[kind][asn] = d
	}
	d.add(now, s.tau)
}

func (s *State) burstValue(kind int, asn uint32, now int64) float64 {
	return float64(s.bursts[kind][asn].value(now, s.tau))
}

func hours(now, first int64) float64 {
	if first == 0 {
		return 24 * 365 // known from a baseline: long ago
	}
	h := float64(now-first) / 3600
	if h < 0 {
		return 0
	}
	return h
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// featurize computes the vector of u against the state before u and
// decides the gate.
func (s *State) featurize(u *bgpfeed.Update, f *pathFacts, vec []float64, id uint16, facts func(*bgpfeed.Path) *pathFacts, ps *prefixState) (*Candidate, bool) {
	now := u.Time.Unix()
	origin := u.Attrs.Path.Origin()
	p := u.Prefix
	seen := ps != nil

	c := &Candidate{Update: u, Path: f.uniq, Origin: origin, Loop: f.loop}
	for i := range vec {
		vec[i] = 0
	}
	vec[FPrefixLen] = float64(p.Bits())
	vec[FIsIPv6] = b2f(p.Addr().Is6())
	vec[FPrefixSeen] = b2f(seen)
	vec[FPrefixAgeHours] = -1
	var prev *route
	var originRec *originRec
	if seen {
		vec[FPrefixAgeHours] = hours(now, ps.first)
		vec[FPrefixOriginsEver] = float64(len(ps.origins))
		// The distinct origins of the live routes: a few at most, so a
		// slice on the stack rather than a map made each time (and no
		// scratch in the state: Featurize runs concurrently).
		var originsBuf [8]uint32
		nowOrigins := originsBuf[:0]
		for i := range ps.routes {
			r := &ps.routes[i]
			if !s.live(*r) {
				continue
			}
			o := r.path.Origin()
			if !slices.Contains(nowOrigins, o) {
				nowOrigins = append(nowOrigins, o)
			}
			vec[FPeersSeeingPrefix]++
			own := r.peer == id && r.pathID == u.PathID
			if o == origin {
				vec[FPeersSeeingOrigin]++
				if !own {
					c.PeersWithOrigin++
				}
			}
			if own {
				prev = r
			}
		}
		vec[FPrefixOriginsNow] = float64(len(nowOrigins))
		// Expected origins are the established ones (known before
		// monitoring, or for longer than Config.Young): a hijacker's
		// origin, seen a minute ago at another peer, is not expected.
		var young []uint32
		for i := range ps.origins {
			o := &ps.origins[i]
			if o.asn == origin {
				originRec = o
				continue
			}
			if s.established(o, now) {
				c.Expected = append(c.Expected, o.asn)
			} else {
				young = append(young, o.asn)
			}
		}
		if len(c.Expected) == 0 {
			c.Expected = young
		}
		if len(c.Expected) > 0 {
			c.ExpectedPrefix = p
		}
	}
	c.ActivePeers = s.ActivePeers()
	vec[FPeersActive] = float64(c.ActivePeers)
	c.NewOrigin = originRec == nil

	// Covering prefix: the closest less-specific with origins.
	var cover netip.Prefix
	var coverState *prefixState
	for cp, cs := range s.prefixes.Covering(p) {
		if cp.Bits() < p.Bits() && len(cs.origins) > 0 {
			cover, coverState = cp, cs
		}
	}
	if coverState != nil {
		for _, r := range coverState.routes {
			if s.live(r) {
				vec[FCoveringPeers]++
			}
		}
		vec[FCoveringPresent] = 1
		vec[FCoveringLenDiff] = float64(p.Bits() - cover.Bits())
		vec[FCoveringOrigins] = float64(len(coverState.origins))
		for _, o := range coverState.origins {
			if o.asn == origin {
				vec[FCoveringOriginMatch] = 1
			}
		}
		if len(c.Expected) == 0 && vec[FCoveringOriginMatch] == 0 {
			for _, o := range coverState.origins {
				c.Expected = append(c.Expected, o.asn)
			}
			c.ExpectedPrefix = cover
			c.SubPrefix = true
		}
	}
	if len(c.Expected) > 0 {
		c.ExpectedRouted = s.expectedRouted(p, c.Expected)
	}
	n := 0
	for mp := range s.prefixes.Covered(p) {
		if mp != p {
			n++
		}
		if n >= 32 {
			break
		}
	}
	vec[FMoreSpecifics] = float64(n)
	if ok, _ := bogon.Prefix(p); ok {
		vec[FBogonPrefix] = 1
	}

	// Origin.
	vec[FOriginForPrefixAgeHours] = -1
	originEstablished := originRec != nil && s.established(originRec, now)
	if originRec != nil {
		vec[FOriginKnownForPrefix] = b2f(originEstablished)
		vec[FOriginForPrefixAgeHours] = hours(now, originRec.first)
	}
	vec[FOriginAgeHours] = -1
	if os := s.origins[origin]; os != nil {
		vec[FOriginSeenAnywhere] = 1
		vec[FOriginAgeHours] = hours(now, os.first)
		vec[FOriginPrefixes] = float64(os.prefixes)
	}
	if ok, _ := bogon.ASN(origin); ok {
		vec[FOriginBogon] = 1
	}
	// The announced origin is expected when the prefix had it before, or
	// when the prefix is new and its covering prefix has it.
	vec[FOriginIsExpected] = b2f(originEstablished || vec[FCoveringOriginMatch] == 1 && c.SubPrefix == false && len(c.Expected) == 0)
	for _, e := range c.Expected {
		if s.siblings(origin, e) {
			vec[FOriginSiblingOfExpected] = 1
			c.OriginSibling = true
		}
		if s.rel != nil {
			switch s.rel.Rel(origin, e) {
			case asrel.Provider:
				vec[FOriginProviderOfExpected] = 1
			case asrel.Customer:
				vec[FOriginCustomerOfExpected] = 1
			case asrel.Peer:
				vec[FOriginPeerOfExpected] = 1
			}
		}
		if _, ok := s.links[linkKey(origin, e)]; ok {
			vec[FOriginLinkedToExpected] = 1
		} else if _, ok := s.links[linkKey(e, origin)]; ok {
			vec[FOriginLinkedToExpected] = 1
		}
		for _, a := range f.uniq {
			if a == e && a != origin {
				vec[FExpectedOriginInPath] = 1
			}
		}
	}

	// RPKI.
	rpkiInvalid := false
	if s.cfg.RPKI != nil {
		st := s.cfg.RPKI.Validate(p, origin)
		switch st {
		case rpki.Valid:
			vec[FRPKIValid] = 1
		case rpki.InvalidASN:
			vec[FRPKIInvalidASN] = 1
		case rpki.InvalidLength:
			vec[FRPKIInvalidLength] = 1
		default:
			vec[FRPKINotFound] = 1
		}
		rpkiInvalid = st.Invalid()
		for _, e := range c.Expected {
			if s.cfg.RPKI.Validate(p, e) == rpki.Valid {
				vec[FRPKIExpectedValid] = 1
			}
		}
	} else {
		vec[FRPKINotFound] = 1
	}

	// Path.
	vec[FPathLen] = float64(u.Attrs.Path.Len())
	vec[FPathUniqueLen] = float64(len(f.uniq))
	pathChanged := true
	if prev != nil {
		pf := facts(prev.path)
		vec[FPathLenDelta] = float64(len(f.uniq) - len(pf.uniq))
		pathChanged = !samePath(prev.path, u.Attrs.Path)
		vec[FPathChanged] = b2f(pathChanged)
		if pathChanged {
			vec[FPathEditDistance] = float64(editDistance(pf.uniq, f.uniq))
		}
		vec[FPeerOriginChanged] = b2f(prev.path.Origin() != origin)
	} else {
		vec[FPathChanged] = 1
		vec[FPathEditDistance] = float64(len(f.uniq))
	}
	vec[FPrependMax] = float64(f.prepend)
	vec[FHasASSet] = b2f(f.hasSet)
	vec[FBogonASNs] = float64(f.bogons)

	// Links, from the peer side to the origin.
	youngest := -1.0
	newLinks := 0
	minDeg := -1.0
	for i := 0; i+1 < len(f.uniq); i++ {
		a, b := f.uniq[i], f.uniq[i+1]
		first, ok := s.linkFirst(a, b)
		if ok {
			h := hours(now, first)
			if youngest < 0 || h < youngest {
				youngest = h
			}
			continue
		}
		newLinks++
		youngest = 0
		c.NewLinkAS = a // keeps the one closest to the origin
		c.NewLinkSibling = s.siblings(a, b)
		vec[FNewLinkPosition] = float64(len(f.uniq) - 1 - i)
		if i+1 == len(f.uniq)-1 {
			vec[FOriginLinkNew] = 1
		}
		if _, rev := s.links[linkKey(b, a)]; rev {
			vec[FNewLinkReverseSeen] = 1
		}
		d := float64(min(s.asDegree(a), s.asDegree(b)))
		if minDeg < 0 || d < minDeg {
			minDeg = d
		}
	}
	vec[FNewLinks] = float64(newLinks)
	vec[FYoungestLinkAgeHours] = youngest
	vec[FNewLinkMinDegree] = minDeg
	if c.NewLinkAS != 0 {
		vec[FNewLinkASBurst] = s.burstValue(burstNewLinkAS, c.NewLinkAS, now)
	}

	// Valley-free.
	if f.haveCheck {
		vec[FValleyViolation] = b2f(!f.check.ValleyFree)
		vec[FUnknownRelLinks] = float64(f.check.Unknown)
		c.Leak = f.check.Leak
		if c.Leak.Type != asrel.NoLeak && c.Leak.Leaker >= 0 && c.Leak.Leaker < len(f.uniq) {
			vec[FLeakType] = float64(c.Leak.Type)
			vec[FLeakPosition] = float64(len(f.uniq) - 1 - c.Leak.Leaker)
			c.Leaker = f.uniq[c.Leak.Leaker]
			if i := c.Leak.From; i >= 0 && i < len(f.uniq) {
				c.LeakFrom = f.uniq[i]
				c.LeakFromSmaller = s.asDegree(c.LeakFrom) < s.asDegree(c.Leaker)
			}
			vec[FLeakerBurst] = s.burstValue(burstLeaker, c.Leaker, now)
			if k, ok := leakTriple(f); ok {
				if first, seen := s.valleys[k]; seen && (first == 0 || now-first >= int64(s.cfg.Young.Seconds())) {
					c.LeakEstablished = true
				}
			}
		}
	} else {
		vec[FValleyViolation] = -1
		vec[FUnknownRelLinks] = float64(len(f.uniq) - 1)
	}
	vec[FOriginNewPrefixesBurst] = s.burstValue(burstOrigin, origin, now)
	vec[FRelationsInferred] = b2f(s.rel != nil && (s.cfg.Rel == nil || s.cfg.RelInferred))

	// The gate: score what is new or young (an origin or link first seen
	// less than Config.Young ago, so every peer of a fresh hijack is
	// scored, not only the first), and changed paths that are
	// RPKI-invalid or not valley-free.
	young := s.cfg.Young.Hours()
	originYoung := originRec != nil && originRec.first != 0 && vec[FOriginForPrefixAgeHours] < young
	linkYoung := youngest >= 0 && youngest < young
	gate := c.NewOrigin || originYoung || newLinks > 0 || linkYoung || (pathChanged && (rpkiInvalid || vec[FValleyViolation] == 1))
	return c, gate
}

// editDistance is the Levenshtein distance between two AS paths.
func editDistance(a, b []uint32) int {
	if len(a) == 0 {
		return len(b)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// samePath compares paths by value: interned paths are usually the same
// pointer, but not across an interner reset or a restored snapshot.
func samePath(a, b *bgpfeed.Path) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || len(a.Segments) != len(b.Segments) {
		return false
	}
	for i := range a.Segments {
		x, y := a.Segments[i], b.Segments[i]
		if x.Type != y.Type || len(x.ASNs) != len(y.ASNs) {
			return false
		}
		for j := range x.ASNs {
			if x.ASNs[j] != y.ASNs[j] {
				return false
			}
		}
	}
	return true
}

// relKnows reports whether the relationship data (a file given in Config,
// not inferred) has a link between a and b.
func (s *State) relKnows(a, b uint32) bool {
	return s.cfg.Rel != nil && !s.cfg.RelInferred && s.cfg.Rel.Rel(a, b) != asrel.Unknown
}

// linkFirst is when the directed link a->b was first seen (0: long ago,
// from a baseline or the relationship file) and whether it is known.
func (s *State) linkFirst(a, b uint32) (int64, bool) {
	if first, ok := s.links[linkKey(a, b)]; ok {
		return first, true
	}
	if s.relKnows(a, b) {
		return 0, true
	}
	return 0, false
}

// asDegree is an AS's number of neighbours: observed, or in the
// relationship file when that says more.
func (s *State) asDegree(a uint32) int32 {
	d := s.degree[a]
	if s.cfg.Rel != nil && !s.cfg.RelInferred {
		if r := int32(s.cfg.Rel.Degree(a).Total()); r > d {
			d = r
		}
	}
	return d
}

// siblings reports whether a and b are one organisation: in the as-org
// data (Config.Orgs), or linked as siblings in the relationships.
func (s *State) siblings(a, b uint32) bool {
	return s.cfg.Orgs != nil && s.cfg.Orgs.Siblings(a, b) || s.rel != nil && s.rel.Rel(a, b) == asrel.Sibling
}

// expectedRouted reports whether a route of the data (not only a
// prefix-to-origin table) carried one of the expected origins exp for
// prefix p or a prefix covering it (Candidate.ExpectedRouted).
func (s *State) expectedRouted(p netip.Prefix, exp []uint32) bool {
	for cp, cs := range s.prefixes.Covering(p) {
		for i := range cs.origins {
			if (cs.origins[i].routed || cp.Bits() < p.Bits()) && slices.Contains(exp, cs.origins[i].asn) {
				return true
			}
		}
	}
	return false
}

// established reports whether an origin of a prefix was known before
// monitoring (baseline, warm-up) or has been seen for Config.Young.
func (s *State) established(o *originRec, now int64) bool {
	return o.first == 0 || now-o.first >= int64(s.cfg.Young.Seconds())
}
