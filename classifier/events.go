package classifier

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// EventerConfig tunes alert grouping. The zero value means the defaults.
type EventerConfig struct {
	// MinPeers is how many distinct peers must carry an alert before it
	// opens (default 2): one peer alone is usually a local event.
	MinPeers int
	// Quiet resolves an alert after this long without a new announcement
	// (default 1h of stream time).
	Quiet time.Duration
	// Pending drops an alert that has not reached MinPeers after this
	// long (default 10m).
	Pending time.Duration
	// MaxPrefixes bounds the prefixes listed per alert (default 100).
	MaxPrefixes int
	// MinWeakPeers is how many distinct peers must give weak evidence (the
	// class is the most probable one, but below its threshold) before an
	// alert opens without any strong verdict (default 5).
	MinWeakPeers int
	// MinLeakPrefixes is how many prefixes a route-leak alert needs before
	// it opens (default 10, the smallest leak wave training injects): a
	// leak that matters is a wave, while a few "valley" paths are more
	// often relationships the data gets wrong.
	MinLeakPrefixes int
	// MinWeakShare is the share of the active peer sessions whose weak
	// evidence an alert needs to open without a strong verdict (default
	// 0.5; negative: none). Weak evidence stands for an origin change the
	// vantage points agree on; a minority of them agreeing is as often a
	// stable route the baseline does not know.
	MinWeakShare float64
	// Confirm holds an alert back until the offending route has stayed
	// this long (stream time) after the alert met its opening conditions,
	// with at least MinPeers peers still carrying it (0, the default:
	// open at once). Route changes that are withdrawn or replaced within
	// seconds (path exploration while the Internet reconverges after a
	// session reset or a link failure) then never become alerts; the
	// alert's first_seen is still its first announcement. It costs the
	// live service Confirm of latency, so serve leaves it off unless
	// asked; batch scoring, where latency does not matter, turns it on.
	Confirm time.Duration
	// Memory keeps an alert that has not opened for this long after the
	// last route carrying it was withdrawn or replaced, so that peers
	// that carried it one after the other still count together (0: it is
	// dropped at once).
	Memory time.Duration
	// SharedSource is how long a route-leak verdict's source (the AS its
	// leaker learned the route from) is remembered with its leaker, for
	// VetoLeakSharedSource (default 10m; negative: no such veto).
	SharedSource time.Duration
}

// holder is a peer route that carries an alert.
type holder struct {
	peer   string
	prefix netip.Prefix
	pathID uint32
}

type groupKey struct {
	typ     Class
	prefix  netip.Prefix // zero for route leaks and hijacks
	suspect uint32
	victim  uint32 // origin and sub-prefix hijacks: the lowest expected origin
	shard   int    // route leaks: the shard (SetShard), else -1
}

type alert struct {
	key        groupKey
	ev         *pb.AlertEvent // the alert's current state
	opened     bool
	strong     bool                // a verdict passed the class threshold
	weakPeers  map[string]struct{} // peers that gave weak evidence
	peers      map[string]struct{}
	holders    map[holder]struct{}
	prefixes   map[netip.Prefix]struct{}
	origin     uint32
	lastChange time.Time
	lastEmit   time.Time
	emittedCnt uint32 // peer count at the last emitted event
	// prior is the most peers that carried the offending route before
	// a scored announcement of this alert (the state knows them, though
	// their own verdicts may have been below the thresholds).
	prior int
	// active is the most peer sessions up while the alert gathered
	// evidence (for MinWeakShare).
	active int
	// reopen: the alert resolved and came back within the quiet time; it
	// opens again under its id.
	reopen     bool
	resolvedAt time.Time
	// qualifiedAt is when the alert met its opening conditions while
	// EventerConfig.Confirm holds it back (zero: not yet).
	qualifiedAt time.Time
	// emptyAt is when an alert that has not opened lost its last holder
	// (EventerConfig.Memory keeps it that long; zero: it has holders).
	emptyAt time.Time
	// sources are, for a route leak, the ASes its verdicts say the leaker
	// learned the routes from (VetoLeakSharedSource); 0 stands for the
	// sources that veto does not judge (not smaller than the leaker).
	sources map[uint32]struct{}
}

// Eventer groups scored announcements into alerts and emits AlertEvents.
// It is not safe for concurrent use.
type Eventer struct {
	cfg    EventerConfig
	emit   func(*pb.AlertEvent)
	seq    uint64
	alerts map[groupKey]*alert
	shard  int // see SetShard; -1: none
	// byPrefix finds the alerts of a prefix.
	byPrefix map[netip.Prefix][]*alert
	// closed are the alerts resolved less than Quiet ago: one that comes
	// back reopens under its id instead of raising a new alert.
	closed map[groupKey]*alert
	// confirming are the alerts that met their opening conditions and
	// wait for EventerConfig.Confirm.
	confirming []*alert
	// victims are the prefixes of open (or lately resolved) origin and
	// sub-prefix hijack alerts, with their expected origins: the victims'
	// own announcements there are their response (VetoVictimResponse).
	victims map[netip.Prefix]victim
	// leakSources are, for each AS a flagged route-leak verdict's leaker
	// learned the route from, the leakers named with it and when last
	// (VetoLeakSharedSource).
	leakSources map[uint32]map[uint32]time.Time
	now         time.Time
	// Counters.
	Opened, Resolved, Dropped, Reopened int64
	// Transient counts the alerts that met their opening conditions but
	// were withdrawn or replaced before EventerConfig.Confirm passed
	// (they are in Dropped too).
	Transient int64
	// Vetoed counts flagged verdicts the Eventer refused to turn into
	// alerts, by reason (see veto).
	Vetoed [numVetoes]int64
	// OnVeto, if set, is called for every vetoed verdict with its
	// candidate, flagged class, the suspect it names and the veto
	// (VetoNames): why an announcement the model flagged raised nothing.
	OnVeto func(c *features.Candidate, k Class, v Verdict, suspect uint32, why int)
}

// The vetoes: what the network says that a classifier's probability
// cannot overrule.
const (
	// VetoLeakNoValley: a route-leak verdict on a path with no valley
	// under the relationships. RFC 7908 defines a leak as a policy
	// violation; without one there is no leaker to name.
	VetoLeakNoValley = iota
	// VetoOwnerUpstream: an origin or sub-prefix hijack verdict where an
	// expected origin is the suspect's own neighbour in the path, i.e.
	// the prefix's owner carries the route (provider-assigned space of a
	// customer). A hijacker cannot put the victim in front of itself: the
	// victim's router would have to propagate the route.
	VetoOwnerUpstream
	// VetoLeakEstablished: a route-leak verdict whose valley (the AS the
	// route leaked to, the leaker, the AS it learned it from) the state
	// saw before monitoring began or long ago (Candidate.LeakEstablished).
	// A leak is a new export that spreads; a valley that has always been
	// there is a relationship the data gets wrong, or a leak that was
	// reported when it started.
	VetoLeakEstablished
	// VetoLeakClique: a route-leak verdict that names a member of the
	// tier-1 clique (asrel.Tier1, plus Hurricane Electric for IPv6) as the
	// leaker. A clique member has no provider, so it cannot hairpin, and
	// its links to other large networks are the ones relationship data
	// gets wrong (the clique's peerings are assumed, partial transit and
	// mergers are not in it); the large leaks on record were leaked by
	// their customers, which this veto does not touch. Cloudflare Radar
	// reports no leak by a tier-1 either.
	VetoLeakClique
	// VetoExpectedUnrouted: an origin or sub-prefix hijack verdict whose
	// expected origins only a prefix-to-origin table names: no route of
	// the data (update or RIB dump entry) carried them for the prefix or
	// any prefix covering it (Candidate.ExpectedRouted). Such a table is
	// one origin per prefix at one date, often not the data's; the
	// prefixes it disagrees on are mostly ones that changed hands in
	// between, which no announcement can tell from a hijack. A hijack of
	// a victim whose own routes are in the data (YouTube's /22 covering
	// the /24 Pakistan Telecom took) is not touched; the squatting of
	// space whose owner announces nothing of it is missed (README).
	VetoExpectedUnrouted
	// VetoPathClique: a path (forged-origin) hijack verdict whose suspect,
	// the AS newly adjacent to the origin, is a member of the tier-1
	// clique (as VetoLeakClique). An origin buying transit from a tier-1
	// is the commonest new link there is, and every one of them looks
	// like a forged path until the link has aged; the forged-origin
	// hijacks on record were made by regional networks (AS10297 against
	// Amazon Route 53 in 2018, AS9457 against KLAYswap in 2022).
	VetoPathClique
	// VetoVictimResponse: a path-hijack verdict on a prefix whose own
	// origin is the victim of an origin or sub-prefix hijack alert on that
	// prefix or a covering one, open or resolved less than Quiet ago. A
	// hijacked network answers by announcing its space again, often
	// through providers it has never used (YouTube's /24 through AS852 and
	// AS11164 on 2008-02-24) or as more-specifics: the mitigation ARTEMIS
	// automates. Each such announcement looks like a forged path, and
	// reporting the victim's defence as an attack is the worse error.
	VetoVictimResponse
	// VetoSibling: an origin or sub-prefix hijack verdict whose suspect
	// origin and an expected origin are one organisation, or a path
	// hijack verdict whose new link joins two ASes of one organisation
	// (Candidate.OriginSibling, NewLinkSibling: --asorg, or sibling links
	// of the relationships). A network moving its space between its own
	// ASNs, or linking them, is the look-alike operators ask detectors
	// to stay quiet on (the DoD's AS721 and AS5800-AS6055 block, or LDN's
	// AS9940 and AS23966, in the 2008 route-views2 files); a hijacker
	// inside the victim's organisation is out of a detector's reach.
	VetoSibling
	// VetoLeakLoop: a route-leak verdict on a path in which an AS appears
	// twice, apart (Candidate.Loop: allowas-in, AS-path poisoning). Such a
	// path is no route's journey, so its valley names no leaker; the
	// relationship inference does not learn from these paths either.
	VetoLeakLoop
	// VetoBeacon: a path-hijack or route-leak verdict on a routing
	// beacon (Beacons) announced by its own origin. The RIPE RIS beacons
	// are announced and withdrawn every two hours from the collectors,
	// each through its own upstream, so their paths explore and their
	// origin links are new every time. A beacon prefix announced by
	// another origin is not touched.
	VetoBeacon
	// VetoLeakSharedSource: a route-leak verdict whose source (the AS the
	// leaker learned the route from, Leak.From) another leaker's flagged
	// verdicts named as their source too, less than
	// EventerConfig.SharedSource ago. Two networks leaking one AS's routes
	// at once are more likely two of its providers, which the
	// relationships call peers: a multihomed AS whose backup or partial
	// transit the data rarely shows until its primary sessions fail. The
	// 2010-08-27 reset storm in RIS rrc01 shows it: as AS31133's (MegaFon)
	// sessions reset, its routes came through AS20485, AS9002, AS12389 and
	// AS6854 within 30 s, a "leak" at each. A real leak is one leaker
	// passing on the routes of its providers or peers (AS7007 in 1997,
	// AS4788 in 2015, AS396531 in 2019). A leak alert whose every source
	// is so shared does not open (alert.sources).
	VetoLeakSharedSource
	numVetoes
)

// Beacons are the RIPE RIS routing beacons' address blocks and origin
// (RIPE NCC's RIS beacon documentation: 84.205.64.0/19 and 93.175.144.0/20
// for IPv4, 2001:7fb:fe00::/39 for IPv6, all from AS12654).
var Beacons = struct {
	Prefixes []netip.Prefix
	ASN      uint32
}{
	Prefixes: []netip.Prefix{netip.MustParsePrefix("84.205.64.0/19"), netip.MustParsePrefix("93.175.144.0/20"), netip.MustParsePrefix("2001:7fb:fe00::/39")},
	ASN:      12654,
}

// beacon reports whether c announces a routing beacon from its origin.
func beacon(c *features.Candidate) bool {
	if c.Update == nil || c.Origin != Beacons.ASN {
		return false
	}
	for _, b := range Beacons.Prefixes {
		if b.Overlaps(c.Update.Prefix) && b.Bits() <= c.Update.Prefix.Bits() {
			return true
		}
	}
	return false
}

// VetoNames name the vetoes (summaries, metrics).
var VetoNames = [numVetoes]string{"leak_without_valley", "owner_upstream", "leak_established", "leak_by_tier1", "expected_origin_unrouted", "path_hijack_by_tier1", "victim_response", "sibling", "leak_loop", "beacon", "leak_shared_source"}

// clique is the tier-1 clique of c's address family.
func clique(c *features.Candidate) []uint32 {
	if c.Update != nil && c.Update.Prefix.Addr().Is6() {
		return asrel.Tier1IPv6
	}
	return asrel.Tier1
}

// veto returns the veto a flagged verdict of class k meets, or -1.
func veto(k Class, c *features.Candidate) int {
	if (k == RouteLeak || k == PathHijack) && beacon(c) {
		return VetoBeacon
	}
	switch k {
	case RouteLeak:
		if c.Leaker == 0 {
			return VetoLeakNoValley
		}
		if c.Loop {
			return VetoLeakLoop
		}
		if c.LeakEstablished {
			return VetoLeakEstablished
		}
		if slices.Contains(clique(c), c.Leaker) {
			return VetoLeakClique
		}
	case PathHijack:
		if slices.Contains(clique(c), suspect(PathHijack, c)) {
			return VetoPathClique
		}
		if c.NewLinkSibling {
			return VetoSibling
		}
	case OriginHijack, SubprefixHijack:
		if len(c.Expected) > 0 && !c.ExpectedRouted {
			return VetoExpectedUnrouted
		}
		if n := len(c.Path); n >= 2 && c.Path[n-1] == c.Origin {
			up := c.Path[n-2]
			for _, x := range c.Expected {
				if x == up {
					return VetoOwnerUpstream
				}
			}
		}
		if c.OriginSibling {
			return VetoSibling
		}
	}
	return -1
}

// NewEventer makes an Eventer that calls emit for every AlertEvent, in
// sequence order. emit must not keep the event past the call unless it
// clones it (proto.Clone).
func NewEventer(cfg EventerConfig, emit func(*pb.AlertEvent)) *Eventer {
	if cfg.MinPeers <= 0 {
		cfg.MinPeers = 2
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = time.Hour
	}
	if cfg.Pending <= 0 {
		cfg.Pending = 10 * time.Minute
	}
	if cfg.MaxPrefixes <= 0 {
		cfg.MaxPrefixes = 100
	}
	if cfg.MinWeakPeers <= 0 {
		cfg.MinWeakPeers = 5
	}
	if cfg.MinLeakPrefixes <= 0 {
		cfg.MinLeakPrefixes = 10
	}
	if cfg.MinWeakShare == 0 {
		cfg.MinWeakShare = 0.5
	}
	if cfg.SharedSource == 0 {
		cfg.SharedSource = 10 * time.Minute
	}
	return &Eventer{cfg: cfg, emit: emit, alerts: map[groupKey]*alert{}, byPrefix: map[netip.Prefix][]*alert{}, closed: map[groupKey]*alert{},
		victims: map[netip.Prefix]victim{}, leakSources: map[uint32]map[uint32]time.Time{}, shard: -1}
}

// SetShard tells the Eventer which shard (Kafka partition of the updates
// topic) the updates given from now on come from; -1, the default, is
// none. Every alert class but route leaks concerns one prefix and its
// covering prefix, which the topic's key keeps in one partition; a
// route-leak alert groups the prefixes of one leaker, which are spread
// over partitions, hence over the classifiers of a consumer group. With a
// shard, route leaks are grouped per shard and the shard is part of their
// id: each leak alert belongs to one partition, so two classifiers never
// open one alert id each (the ids are deterministic) and a partition that
// moves to another classifier keeps its alert ids.
func (e *Eventer) SetShard(shard int) { e.shard = shard }

// SetSequence sets the last sequence number used (to continue after a
// restart); the next event gets seq+1.
func (e *Eventer) SetSequence(seq uint64) { e.seq = seq }

// Sequence is the sequence number of the last event emitted.
func (e *Eventer) Sequence() uint64 { return e.seq }

// peerName identifies a vantage point: collector (or session) and peer
// address.
func peerName(u *bgpfeed.Update) string {
	return u.Source + "|" + u.PeerAddr.String()
}

// leakSegment is c's valley, peer side first: the AS the leaker passed
// the route to, the leaker, the AS it learned it from (nil without one).
func leakSegment(c *features.Candidate) []uint32 {
	l, n := c.Leak, len(c.Path)
	if l.Type == asrel.NoLeak || l.Leaker < 0 || l.Leaker >= n || l.To < 0 || l.To >= n || l.From < 0 || l.From >= n {
		return nil
	}
	return []uint32{c.Path[l.To], c.Path[l.Leaker], c.Path[l.From]}
}

// suspect names the AS an alert of class k accuses.
func suspect(k Class, c *features.Candidate) uint32 {
	switch k {
	case RouteLeak:
		if c.Leaker != 0 {
			return c.Leaker
		}
	case PathHijack:
		if c.NewLinkAS != 0 {
			return c.NewLinkAS
		}
		if len(c.Path) >= 2 {
			return c.Path[len(c.Path)-2]
		}
	}
	return c.Origin
}

// Add records a scored announcement whose verdict is not benign
// (v.Flagged() != Benign): a strong verdict (v.Class) or weak evidence
// (v.Weak).
func (e *Eventer) Add(c *features.Candidate, v Verdict, reasons []*pb.Reason) {
	_ = e.AddLazy(c, v, func() ([]*pb.Reason, error) { return reasons, nil })
}

// AddLazy is Add with the reasons computed only when the event takes them
// (the verdict is not vetoed and is the alert's most confident so far):
// TreeSHAP for every flagged verdict costs more than the rest of scoring
// it, and most flagged verdicts are vetoed or less confident than one
// before. The event is the same as Add's with reasons() given; an error
// of reasons() is returned, the verdict then recorded without reasons.
func (e *Eventer) AddLazy(c *features.Candidate, v Verdict, reasons func() ([]*pb.Reason, error)) error {
	u := c.Update
	e.advance(u.Time)
	k := v.Flagged()
	if k == Benign {
		return nil
	}
	why := veto(k, c)
	if why < 0 && k == PathHijack && e.victimResponse(c) {
		why = VetoVictimResponse
	}
	src := uint32(0)
	if why < 0 && k == RouteLeak {
		src = leakSource(c)
		if e.noteLeakSource(src, c.Leaker, u.Time) {
			why = VetoLeakSharedSource
		}
	}
	if why >= 0 {
		e.Vetoed[why]++
		if e.OnVeto != nil {
			e.OnVeto(c, k, v, suspect(k, c), why)
		}
		return nil
	}
	a := e.alertFor(k, c)
	if k == RouteLeak {
		if a.sources == nil {
			a.sources = map[uint32]struct{}{}
		}
		a.sources[src] = struct{}{} // 0: a source the veto does not judge
	}
	if k != RouteLeak && k != PathHijack && c.PeersWithOrigin > a.prior {
		a.prior = c.PeersWithOrigin
	}
	if v.Class == k {
		a.strong = true
	} else {
		a.weakPeers[peerName(u)] = struct{}{}
	}
	a.active = max(a.active, c.ActivePeers)
	var err error
	if v.Proba[k] > a.ev.Confidence {
		a.ev.Confidence = v.Proba[k]
		var rs []*pb.Reason
		if rs, err = reasons(); rs != nil && err == nil {
			a.ev.Reasons = rs
		}
	}
	e.join(a, u)
	return err
}

// alertFor finds or makes the alert of class k that the announcement of
// c belongs to.
func (e *Eventer) alertFor(k Class, c *features.Candidate) *alert {
	u := c.Update
	gk := groupKey{typ: k, suspect: suspect(k, c), shard: -1}
	switch k {
	case RouteLeak:
		gk.shard = e.shard
	case OriginHijack, SubprefixHijack:
		// One alert per hijacker and victim, whatever the prefixes (as an
		// operator sees it: "AS x originates prefixes of AS y").
		if len(c.Expected) > 0 {
			gk.victim = slices.Min(c.Expected)
		} else {
			gk.prefix = u.Prefix
		}
	default:
		gk.prefix = u.Prefix
	}
	a := e.alerts[gk]
	if a != nil && e.forgotten(a, u.Time) {
		a = nil
	}
	if a == nil {
		a = e.revive(gk)
	}
	if a == nil {
		a = &alert{
			key:       gk,
			peers:     map[string]struct{}{},
			weakPeers: map[string]struct{}{},
			holders:   map[holder]struct{}{},
			prefixes:  map[netip.Prefix]struct{}{},
			origin:    c.Origin,
			ev: &pb.AlertEvent{
				Type:            k.AlertType(),
				Prefix:          u.Prefix.String(),
				SuspectAsn:      gk.suspect,
				OriginAsn:       c.Origin,
				FirstSeen:       timestamppb.New(u.Time),
				ExpectedOrigins: append([]uint32(nil), c.Expected...),
			},
		}
		if c.ExpectedPrefix.IsValid() {
			a.ev.ExpectedPrefix = c.ExpectedPrefix.String()
		}
		sort.Slice(a.ev.ExpectedOrigins, func(i, j int) bool { return a.ev.ExpectedOrigins[i] < a.ev.ExpectedOrigins[j] })
		if k == RouteLeak {
			a.ev.LeakType = uint32(c.Leak.Type.RFC7908())
			a.ev.LeakSegment = leakSegment(c)
		}
		idIn := fmt.Appendf(nil, "%d|%s|%d|%d", k, gk.prefix, gk.suspect, u.Time.UnixNano())
		if gk.victim != 0 {
			idIn = fmt.Appendf(idIn, "|victim %d", gk.victim)
		}
		if gk.shard >= 0 {
			idIn = fmt.Appendf(idIn, "|shard %d", gk.shard)
		}
		h := sha256.Sum256(idIn)
		a.ev.Id = hex.EncodeToString(h[:8])
		e.alerts[gk] = a
	}
	return a
}

// Rules applies the rules that need no model to a scored announcement
// whose feature vector is vec: today the bogon origin (a public prefix
// originated by a private, reserved or documentation ASN). It returns
// whether a rule fired. Call it for every Candidate, whatever the model
// said.
func (e *Eventer) Rules(c *features.Candidate, vec []float64) bool {
	// An origin in an AS_SET (c.Origin 0) is an aggregate's, not a bogon
	// origin, even when the set holds private ASNs.
	if len(vec) < features.NumFeatures || vec[features.FOriginBogon] != 1 || vec[features.FBogonPrefix] == 1 || c.Origin == 0 {
		return false
	}
	e.advance(c.Update.Time)
	a := e.alertFor(BogonOrigin, c)
	a.strong = true
	a.prior = max(a.prior, c.PeersWithOrigin)
	if a.ev.Confidence < 1 {
		a.ev.Confidence = 1
		a.ev.Reasons = []*pb.Reason{{Feature: features.Names[features.FOriginBogon], Value: 1}}
	}
	e.join(a, c.Update)
	return true
}

// join adds a peer route to an alert and emits OPEN or UPDATE as due.
func (e *Eventer) join(a *alert, u *bgpfeed.Update) {
	if _, ok := a.prefixes[u.Prefix]; !ok {
		a.prefixes[u.Prefix] = struct{}{}
		a.ev.PrefixCount++
		if len(a.ev.Prefixes) < e.cfg.MaxPrefixes {
			a.ev.Prefixes = append(a.ev.Prefixes, u.Prefix.String())
		}
		e.byPrefix[u.Prefix] = append(e.byPrefix[u.Prefix], a)
	}
	pn := peerName(u)
	a.peers[pn] = struct{}{}
	a.holders[holder{pn, u.Prefix, u.PathID}] = struct{}{}
	a.emptyAt = time.Time{}
	if a.opened && a.hasVictim() {
		e.markVictim(a, u.Prefix, u.Time)
	}
	// The peers that carry it: those that joined, or those the state saw
	// carrying the route before, whichever is more.
	a.ev.PeerCount = uint32(max(len(a.peers), a.prior+1))
	a.ev.Announcements++
	a.ev.LastSeen = timestamppb.New(u.Time)
	a.lastChange = u.Time
	if len(a.ev.SamplePaths) < 5 {
		p := u.Attrs.Path.String()
		dup := false
		for _, s := range a.ev.SamplePaths {
			dup = dup || s == p
		}
		if !dup {
			a.ev.SamplePaths = append(a.ev.SamplePaths, p)
		}
	}
	switch {
	case !a.opened && (a.strong && int(a.ev.PeerCount) >= e.cfg.MinPeers || a.key.typ.weakOpens() && e.weakEnough(a)) &&
		(a.key.typ != RouteLeak || len(a.prefixes) >= e.cfg.MinLeakPrefixes && !e.sourcesShared(a, u.Time)):
		if e.cfg.Confirm <= 0 {
			e.open(a, u.Time)
		} else if a.qualifiedAt.IsZero() {
			a.qualifiedAt = u.Time
			e.confirming = append(e.confirming, a)
		}
	case a.opened && a.ev.PeerCount >= 2*a.emittedCnt && u.Time.Sub(a.lastEmit) >= time.Minute:
		e.send(a, pb.AlertState_UPDATE, u.Time)
	}
}

// leakSource is the AS a route-leak candidate's leaker learned the route
// from when it has fewer neighbours than the leaker, as a customer of the
// leaker would (VetoLeakSharedSource); 0 otherwise.
func leakSource(c *features.Candidate) uint32 {
	if !c.LeakFromSmaller {
		return 0
	}
	return c.LeakFrom
}

// noteLeakSource records that a flagged route-leak verdict names leaker
// with source src at t, and reports whether another leaker named src less
// than SharedSource ago (VetoLeakSharedSource).
func (e *Eventer) noteLeakSource(src, leaker uint32, t time.Time) bool {
	if src == 0 || e.cfg.SharedSource < 0 {
		return false
	}
	ls := e.leakSources[src]
	if ls == nil {
		ls = map[uint32]time.Time{}
		e.leakSources[src] = ls
	}
	ls[leaker] = t
	return e.shared(src, leaker, t)
}

// shared reports whether a leaker other than leaker named src as its
// source less than SharedSource before t.
func (e *Eventer) shared(src, leaker uint32, t time.Time) bool {
	for l, at := range e.leakSources[src] {
		if l != leaker && t.Sub(at) < e.cfg.SharedSource {
			return true
		}
	}
	return false
}

// sourcesShared reports whether route-leak alert a has sources and every
// one of them is shared with another leaker at t: the alert does not open
// (VetoLeakSharedSource), though it may once a source of its own comes.
func (e *Eventer) sourcesShared(a *alert, t time.Time) bool {
	if len(a.sources) == 0 || e.cfg.SharedSource < 0 {
		return false
	}
	for src := range a.sources {
		if src == 0 || !e.shared(src, a.key.suspect, t) {
			return false
		}
	}
	return true
}

// victim is a prefix under an origin or sub-prefix hijack alert.
type victim struct {
	origins []uint32
	until   time.Time // stream time after which a response is no longer one
}

// hasVictim reports whether alert a names a victim whose own answers
// VetoVictimResponse protects: an origin or sub-prefix hijack with
// expected origins.
func (a *alert) hasVictim() bool {
	return (a.key.typ == OriginHijack || a.key.typ == SubprefixHijack) && len(a.ev.ExpectedOrigins) > 0
}

// markVictims marks the victims of an origin or sub-prefix hijack alert on
// every prefix it holds (markVictim); other alerts have none.
func (e *Eventer) markVictims(a *alert, t time.Time) {
	if !a.hasVictim() {
		return
	}
	for p := range a.prefixes {
		e.markVictim(a, p, t)
	}
}

// markVictim records prefix p of an opened alert a (hasVictim) as under
// attack until Quiet after t. Only the hijacked prefix: the victim
// answers with it or its more-specifics (YouTube's /24 and /25s), and
// other announcements of its covering space are not marked.
func (e *Eventer) markVictim(a *alert, p netip.Prefix, t time.Time) {
	v := e.victims[p]
	for _, o := range a.ev.ExpectedOrigins {
		if !slices.Contains(v.origins, o) {
			v.origins = append(v.origins, o)
		}
	}
	if until := t.Add(e.cfg.Quiet); until.After(v.until) {
		v.until = until
	}
	e.victims[p] = v
}

// victimResponse reports whether c announces, from one of its expected
// origins, a prefix under (or equal to) one that an origin or sub-prefix
// hijack alert is about (VetoVictimResponse).
func (e *Eventer) victimResponse(c *features.Candidate) bool {
	if len(e.victims) == 0 || c.Update == nil || c.Origin == 0 {
		return false
	}
	p := c.Update.Prefix
	for bits := p.Bits(); bits >= 0; bits-- {
		q, err := p.Addr().Prefix(bits)
		if err != nil {
			break
		}
		if v, ok := e.victims[q]; ok && e.now.Before(v.until) && slices.Contains(v.origins, c.Origin) {
			return true
		}
	}
	return false
}

// open opens alert a at time t.
func (e *Eventer) open(a *alert, t time.Time) {
	a.opened = true
	e.markVictims(a, t)
	a.qualifiedAt = time.Time{}
	if a.reopen {
		e.Reopened++
	} else {
		e.Opened++
	}
	e.send(a, pb.AlertState_OPEN, t)
}

// holderPeers counts the distinct peers that carry alert a now.
func holderPeers(a *alert) int {
	seen := make(map[string]struct{}, len(a.holders))
	for h := range a.holders {
		seen[h.peer] = struct{}{}
	}
	return len(seen)
}

// confirm opens the alerts held back by EventerConfig.Confirm whose time
// has come (all of them when final) and that at least MinPeers peers
// still carry; it forgets the ones that resolved or opened meanwhile.
func (e *Eventer) confirm(t time.Time, final bool) {
	if len(e.confirming) == 0 {
		return
	}
	keep := e.confirming[:0]
	var due []*alert
	for _, a := range e.confirming {
		if e.alerts[a.key] != a || a.opened || a.qualifiedAt.IsZero() {
			continue
		}
		if a.key.typ == RouteLeak && e.sourcesShared(a, t) {
			a.qualifiedAt = time.Time{} // it may qualify again
			continue
		}
		if (final || t.Sub(a.qualifiedAt) >= e.cfg.Confirm) && holderPeers(a) >= min(e.cfg.MinPeers, int(a.ev.PeerCount)) {
			due = append(due, a)
			continue
		}
		keep = append(keep, a)
	}
	clear(e.confirming[len(keep):])
	e.confirming = keep
	sort.Slice(due, func(i, j int) bool { return due[i].ev.Id < due[j].ev.Id })
	for _, a := range due {
		e.open(a, t)
	}
}

// Finish opens, at the last stream time seen, the alerts
// EventerConfig.Confirm still holds back whose routes are carried at the
// end of the input: a batch that ends cannot wait for them, and a hijack
// that was still in place when the data stopped is not to be lost. Call
// it once the input is read.
func (e *Eventer) Finish() { e.confirm(e.now, true) }

func (e *Eventer) send(a *alert, st pb.AlertState, t time.Time) {
	e.seq++
	a.ev.Sequence = e.seq
	a.ev.State = st
	a.lastEmit = t
	a.emittedCnt = a.ev.PeerCount
	if e.emit != nil {
		e.emit(a.ev)
	}
}

// Route lets every announcement and withdrawal update the alerts: an
// announcement of a prefix with an origin an alert is about joins it (the
// gate scores only what is new, so later peers of one hijack are joined
// here); a withdrawal, or an announcement of another origin, removes that
// peer's route from the alerts of the prefix; an alert whose routes are
// all gone resolves.
func (e *Eventer) Route(u *bgpfeed.Update) {
	if u.Kind == bgpfeed.KindState || !u.Prefix.IsValid() {
		e.advance(u.Time)
		return
	}
	e.advance(u.Time)
	as := e.byPrefix[u.Prefix]
	if len(as) == 0 {
		return
	}
	pn := peerName(u)
	h := holder{pn, u.Prefix, u.PathID}
	origin := u.OriginASN()
	for _, a := range append([]*alert(nil), as...) {
		_, held := a.holders[h]
		// A route-leak alert spans the leaker's prefixes, whatever their
		// origins: the leaker still in the path is what carries it.
		match := u.Kind == bgpfeed.KindAnnounce && (a.key.typ == RouteLeak || a.origin == origin) && e.carries(a, u)
		switch {
		case held && !match:
			// Withdrawn, or replaced by a route without the offence.
			delete(a.holders, h)
			if len(a.holders) == 0 {
				if !a.opened && e.cfg.Memory > 0 {
					a.emptyAt = u.Time
				} else {
					e.resolve(a, "withdrawn", u.Time)
				}
			}
		case !held && match:
			if _, live := e.alerts[a.key]; live && !e.forgotten(a, u.Time) {
				e.join(a, u)
			}
		}
	}
}

// carries reports whether an announcement carries what alert a is about:
// for a path hijack the suspect next to the origin, for a leak the leaker.
func (e *Eventer) carries(a *alert, u *bgpfeed.Update) bool {
	switch a.key.typ {
	case PathHijack, RouteLeak:
		for _, s := range u.Attrs.Path.Segments {
			for _, x := range s.ASNs {
				if x == a.key.suspect {
					return true
				}
			}
		}
		return false
	}
	return true
}

func (e *Eventer) resolve(a *alert, why string, t time.Time) {
	if _, live := e.alerts[a.key]; !live {
		return
	}
	delete(e.alerts, a.key)
	for p := range a.prefixes {
		as := e.byPrefix[p]
		for i, x := range as {
			if x == a {
				as = append(as[:i], as[i+1:]...)
				break
			}
		}
		if len(as) == 0 {
			delete(e.byPrefix, p)
		} else {
			e.byPrefix[p] = as
		}
	}
	if !a.opened {
		if !a.reopen {
			e.Dropped++
			if !a.qualifiedAt.IsZero() {
				e.Transient++
			}
		}
		a.qualifiedAt = time.Time{}
		return
	}
	e.Resolved++
	e.markVictims(a, t) // the victim may still answer the attack for a while
	a.ev.Resolution = why
	e.send(a, pb.AlertState_RESOLVED, t)
	a.resolvedAt = t
	e.closed[a.key] = a
}

// revive returns the alert of key gk that resolved less than Quiet ago,
// made live again (pending: it opens under its old id when the evidence
// is there again), or nil.
func (e *Eventer) revive(gk groupKey) *alert {
	a := e.closed[gk]
	if a == nil {
		return nil
	}
	delete(e.closed, gk)
	if e.now.Sub(a.resolvedAt) >= e.cfg.Quiet {
		return nil
	}
	a.reopen, a.opened, a.strong = true, false, false
	a.weakPeers = map[string]struct{}{}
	a.peers = map[string]struct{}{}
	a.holders = map[holder]struct{}{}
	a.prior = 0
	a.ev.Resolution = ""
	for p := range a.prefixes {
		e.byPrefix[p] = append(e.byPrefix[p], a)
	}
	e.alerts[gk] = a
	return a
}

// forgotten drops a (returning true) when it has not opened and its last
// holder left EventerConfig.Memory ago or more: the peers that carried it
// count no more.
func (e *Eventer) forgotten(a *alert, t time.Time) bool {
	if a.opened || a.emptyAt.IsZero() || t.Sub(a.emptyAt) < e.cfg.Memory {
		return false
	}
	e.resolve(a, "withdrawn", a.emptyAt)
	return true
}

// advance moves stream time: quiet alerts resolve, pending ones that never
// reached MinPeers are dropped.
func (e *Eventer) advance(t time.Time) {
	if !t.After(e.now) {
		return
	}
	prevMinute := e.now.Truncate(time.Minute)
	e.now = t
	e.confirm(t, false)
	if !t.Truncate(time.Minute).After(prevMinute) {
		return // check at most once a minute of stream time
	}
	var due []*alert
	for _, a := range e.alerts {
		if e.forgotten(a, t) { // deleting while ranging is safe; it emits nothing
			continue
		}
		if !a.opened && t.Sub(a.lastChange) >= e.cfg.Pending {
			due = append(due, a)
		} else if a.opened && t.Sub(a.lastChange) >= e.cfg.Quiet {
			due = append(due, a)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].ev.Id < due[j].ev.Id })
	for _, a := range due {
		e.resolve(a, "quiet", t)
	}
	for k, a := range e.closed {
		if t.Sub(a.resolvedAt) >= e.cfg.Quiet {
			delete(e.closed, k)
		}
	}
	for src, ls := range e.leakSources {
		for l, at := range ls {
			if t.Sub(at) >= e.cfg.SharedSource {
				delete(ls, l)
			}
		}
		if len(ls) == 0 {
			delete(e.leakSources, src)
		}
	}
	for p, v := range e.victims {
		if !t.Before(v.until) {
			delete(e.victims, p)
		}
	}
}

// Open returns the alerts that are open now (a copy of their last state),
// in id order.
func (e *Eventer) Open() []*pb.AlertEvent {
	var out []*pb.AlertEvent
	for _, a := range e.alerts {
		if a.opened {
			out = append(out, proto.Clone(a.ev).(*pb.AlertEvent))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// weakEnough reports whether an alert's weak evidence opens it: at least
// MinWeakPeers peers, and at least MinWeakShare of the active sessions.
func (e *Eventer) weakEnough(a *alert) bool {
	n := len(a.weakPeers)
	if n < e.cfg.MinWeakPeers {
		return false
	}
	return e.cfg.MinWeakShare <= 0 || float64(n) >= e.cfg.MinWeakShare*float64(a.active)
}

// weakOpens reports whether weak evidence from many peers may open an
// alert of this class: only for origin changes, where many vantage points
// agreeing on a new origin is evidence of its own. Forged paths and leaks
// need a strong verdict (their weak scores track relationship noise).
func (k Class) weakOpens() bool { return k == OriginHijack || k == SubprefixHijack }
