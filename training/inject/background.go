package inject

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/bgpfeed/prefix2as"
)

// Address families, indexes of per-family arrays.
const (
	fam4 = 0
	fam6 = 1
)

func famOf(p netip.Prefix) int {
	if p.Addr().Is4() {
		return fam4
	}
	return fam6
}

// Peer is one BGP session of the background, as the collector recorded it.
type Peer struct {
	Source    string // collector name of the file it came from
	Addr      netip.Addr
	ASN       uint32
	LocalASN  uint32     // the collector's side of the session
	LocalAddr netip.Addr // invalid when only seen in a RIB dump
	IfIndex   uint16
	Routes    [2]int        // announcements per family (IPv4, IPv6)
	NextHop   [2]netip.Addr // the most used next hop per family
	nh        [2]map[netip.Addr]int
}

// event is one background element for a (peer, prefix): an announcement
// with its AS path (asns nil when the path has an AS_SET or a loop and is
// unusable) or a withdrawal.
type event struct {
	t        int64
	asns     []uint32
	withdraw bool
}

type prefixInfo struct {
	prefix      netip.Prefix
	first, last int64
	origins     []uint32 // sorted, from the background
	baseOrigins []uint32 // sorted, from the baseline
	peers       []int32  // sorted peer indexes that announced it
	announces   int
}

type peerKey struct {
	source string
	addr   netip.Addr
	asn    uint32
}

type histKey struct{ peer, prefix int32 }

type toKey struct {
	peer int32
	asn  uint32
	fam  int8
}

// cut is a real path from a peer to an AS (a prefix of a real path), with
// the time it was first seen.
type cut struct {
	asns []uint32
	t    int64
}

// suffix is a real path suffix starting at an AS, for one prefix.
type suffix struct {
	prefix int32
	asns   []uint32 // asns[0] is the AS, the last the origin
}

// LearnStats summarise what Learn read.
type LearnStats struct {
	Files                  int
	Announcements          int64
	Withdrawals            int64
	StateChanges           int64
	Unusable               int64 // announcements whose path has an AS_SET or a loop
	Prefixes               int
	BaselinePrefixes       int
	Peers                  int
	PeersWithLocalAddr     int
	DistinctPaths          int
	PeerASCuts, ASSuffixes int
}

// Background is what the injector knows of the real update stream.
type Background struct {
	Files      []string
	Start, End int64 // unix seconds of the first and last update
	Peers      []*Peer
	Stats      LearnStats

	peerIdx   map[peerKey]int32
	prefixes  []*prefixInfo
	prefixIdx map[netip.Prefix]int32
	hist      map[histKey][]event
	downs     [][]int64 // per peer: times its session went down
	toAS      map[toKey][]cut
	fromAS    map[uint32][]suffix
	links     map[uint64]struct{} // undirected lo<<32|hi
	origin    map[uint32]int      // AS -> prefixes it originates
	seenAS    map[uint32]int      // AS -> distinct paths it appears in
	asOrder   []uint32            // ASes of seenAS, sorted
}

// maxCuts bounds the distinct real paths kept per (peer, AS, family).
const maxCuts = 3

func linkKey(a, b uint32) uint64 {
	if a > b {
		a, b = b, a
	}
	return uint64(a)<<32 | uint64(b)
}

// Linked reports whether the background has a path with a and b adjacent.
func (b *Background) Linked(x, y uint32) bool {
	_, ok := b.links[linkKey(x, y)]
	return ok
}

// Learn reads the background MRT files (files, directories or globs) and
// the optional prefix-to-origin baselines.
func Learn(ctx context.Context, paths, baselines []string, log *slog.Logger) (*Background, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	files, err := mrt.Expand(paths)
	if err != nil {
		return nil, fmt.Errorf("inject: background: %w", err)
	}
	explicit := map[string]bool{}
	for _, p := range paths {
		explicit[p] = true
	}
	b := &Background{
		peerIdx:   map[peerKey]int32{},
		prefixIdx: map[netip.Prefix]int32{},
		hist:      map[histKey][]event{},
		toAS:      map[toKey][]cut{},
		fromAS:    map[uint32][]suffix{},
		links:     map[uint64]struct{}{},
		origin:    map[uint32]int{},
		seenAS:    map[uint32]int{},
	}
	l := &learner{b: b, paths: map[*bgpfeed.Path]pathFacts{}, cutDone: map[peerPath]struct{}{}, sufDone: map[uint64]struct{}{}, in: bgpfeed.NewInterner(0)}
	sessions := map[sessionKey]map[localInfo]int{}
	for _, f := range files {
		n, err := l.readFile(ctx, f, sessions)
		if err != nil {
			if errors.Is(err, mrt.ErrNotMRT) && !explicit[f] {
				log.Warn("inject: skipping a file that is not MRT", "file", f)
				continue
			}
			return nil, fmt.Errorf("inject: background %s: %w", f, err)
		}
		if n > 0 {
			b.Files = append(b.Files, f)
		}
	}
	if len(b.Files) == 0 || b.Stats.Announcements == 0 {
		return nil, fmt.Errorf("inject: background: no announcements in %v", paths)
	}
	for _, p := range baselines {
		if err := l.readBaseline(ctx, p); err != nil {
			return nil, fmt.Errorf("inject: baseline %s: %w", p, err)
		}
	}
	b.finish(sessions)
	return b, nil
}

type pathFacts struct {
	asns   []uint32 // nil when unusable
	usable bool
}

type peerPath struct {
	peer int32
	path *bgpfeed.Path
}

type learner struct {
	b       *Background
	paths   map[*bgpfeed.Path]pathFacts
	cutDone map[peerPath]struct{}
	sufDone map[uint64]struct{} // asn<<32|prefix
	in      *bgpfeed.Interner
	started bool
}

// facts returns the AS_SEQUENCE of a path, or unusable for AS_SETs,
// confederations, loops and empty paths.
func (l *learner) facts(p *bgpfeed.Path) pathFacts {
	if f, ok := l.paths[p]; ok {
		return f
	}
	f := pathFacts{}
	ok := p != nil && !p.HasSet() && p.Len() > 0
	if ok {
		for _, s := range p.Segments {
			if s.Type != bgpfeed.SegSequence {
				ok = false
			}
		}
	}
	if ok {
		asns := p.ASNs(nil)
		seen := map[uint32]bool{}
		for i, a := range asns {
			if a == 0 || (i > 0 && a != asns[i-1] && seen[a]) {
				ok = false
				break
			}
			seen[a] = true
		}
		if ok {
			f.asns = slices.Clip(asns)
			f.usable = true
			l.b.Stats.DistinctPaths++
			prev := uint32(0)
			for _, a := range asns {
				if a != prev {
					l.b.seenAS[a]++
					if prev != 0 {
						l.b.links[linkKey(prev, a)] = struct{}{}
					}
				}
				prev = a
			}
		}
	}
	l.paths[p] = f
	return f
}

func (l *learner) peer(u *bgpfeed.Update) int32 {
	k := peerKey{u.Source, u.PeerAddr, u.PeerASN}
	if i, ok := l.b.peerIdx[k]; ok {
		return i
	}
	i := int32(len(l.b.Peers))
	l.b.Peers = append(l.b.Peers, &Peer{Source: u.Source, Addr: u.PeerAddr, ASN: u.PeerASN})
	l.b.downs = append(l.b.downs, nil)
	l.b.peerIdx[k] = i
	return i
}

func (l *learner) prefix(p netip.Prefix) (int32, *prefixInfo) {
	if i, ok := l.b.prefixIdx[p]; ok {
		return i, l.b.prefixes[i]
	}
	i := int32(len(l.b.prefixes))
	pi := &prefixInfo{prefix: p, first: -1}
	l.b.prefixes = append(l.b.prefixes, pi)
	l.b.prefixIdx[p] = i
	return i, pi
}

func insertSorted[T cmp.Ordered](s []T, v T) []T {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

// observe learns one update.
func (l *learner) observe(u *bgpfeed.Update) {
	b := l.b
	if u.Local || !u.PeerAddr.IsValid() {
		return
	}
	t := u.Time.Unix()
	if !u.Table {
		if !l.started || t < b.Start {
			b.Start = t
		}
		if !l.started || t > b.End {
			b.End = t
		}
		l.started = true
	}
	switch u.Kind {
	case bgpfeed.KindState:
		b.Stats.StateChanges++
		if u.SessionDown() {
			pi := l.peer(u)
			b.downs[pi] = append(b.downs[pi], t)
		}
		return
	case bgpfeed.KindWithdraw:
		if !u.Prefix.IsValid() {
			return
		}
		b.Stats.Withdrawals++
		pi := l.peer(u)
		xi, _ := l.prefix(u.Prefix)
		k := histKey{pi, xi}
		b.hist[k] = append(b.hist[k], event{t: t, withdraw: true})
		return
	case bgpfeed.KindAnnounce:
	default:
		return
	}
	if !u.Prefix.IsValid() || u.Attrs == nil {
		return
	}
	b.Stats.Announcements++
	pi := l.peer(u)
	p := b.Peers[pi]
	fam := famOf(u.Prefix)
	p.Routes[fam]++
	if nh := u.Attrs.NextHop; nh.IsValid() && !nh.IsUnspecified() {
		if p.nh[fam] == nil {
			p.nh[fam] = map[netip.Addr]int{}
		}
		p.nh[fam][nh]++
	}
	xi, x := l.prefix(u.Prefix)
	if x.first < 0 || t < x.first {
		x.first = t
	}
	if t > x.last {
		x.last = t
	}
	x.announces++
	x.peers = insertSorted(x.peers, pi)
	f := l.facts(u.Attrs.Path)
	k := histKey{pi, xi}
	b.hist[k] = append(b.hist[k], event{t: t, asns: f.asns})
	if !f.usable {
		b.Stats.Unusable++
		if o := u.Attrs.Path.Origin(); o != 0 {
			x.origins = insertSorted(x.origins, o)
		}
		return
	}
	asns := f.asns
	origin := asns[len(asns)-1]
	x.origins = insertSorted(x.origins, origin)
	// Paths from this peer to every AS of the path (cut after the AS's
	// first occurrence), once per (peer, path).
	if _, done := l.cutDone[peerPath{pi, u.Attrs.Path}]; !done {
		l.cutDone[peerPath{pi, u.Attrs.Path}] = struct{}{}
		for i, a := range asns {
			if i > 0 && a == asns[i-1] {
				continue
			}
			tk := toKey{pi, a, int8(fam)}
			cuts := b.toAS[tk]
			if len(cuts) >= maxCuts {
				continue
			}
			c := asns[: i+1 : i+1]
			if !slices.ContainsFunc(cuts, func(x cut) bool { return slices.Equal(x.asns, c) }) {
				b.toAS[tk] = append(cuts, cut{c, t})
				b.Stats.PeerASCuts++
			}
		}
	}
	// Suffixes: how each AS of the path reaches the origin, once per (AS,
	// prefix).
	for i, a := range asns {
		if i > 0 && a == asns[i-1] {
			continue
		}
		sk := uint64(a)<<32 | uint64(uint32(xi))
		if _, done := l.sufDone[sk]; done {
			continue
		}
		l.sufDone[sk] = struct{}{}
		b.fromAS[a] = append(b.fromAS[a], suffix{prefix: xi, asns: asns[i:]})
		b.Stats.ASSuffixes++
	}
}

// sessionKey and localInfo carry what the BGP4MP headers say of a session.
type sessionKey struct {
	addr netip.Addr
	asn  uint32
}

type localInfo struct {
	asn     uint32
	addr    netip.Addr
	ifIndex uint16
}

// readFile decodes one MRT file with the project's reader and, from the
// same decompressed bytes (tee), the BGP4MP headers for the collector's
// side of each session.
func (l *learner) readFile(ctx context.Context, file string, sessions map[sessionKey]map[localInfo]int) (int64, error) {
	fh, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	zr, _, err := mrt.Decompress(fh)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	done := make(chan map[sessionKey]map[localInfo]int, 1)
	go func() {
		found := scanSessions(pr)
		_, _ = io.Copy(io.Discard, pr)
		done <- found
	}()
	r := mrt.NewReader(file, io.TeeReader(zr, pw), mrt.Options{Interner: l.in, Source: mrt.CollectorName(file)})
	var n int64
	var rerr error
	for {
		u, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rerr = err
			break
		}
		n++
		l.observe(&u)
	}
	r.Close()
	pw.Close()
	found := <-done
	if rerr != nil {
		return n, rerr
	}
	l.b.Stats.Files++
	for k, m := range found {
		if sessions[k] == nil {
			sessions[k] = map[localInfo]int{}
		}
		for li, c := range m {
			sessions[k][li] += c
		}
	}
	return n, nil
}

func (l *learner) readBaseline(ctx context.Context, path string) error {
	r, err := prefix2as.Open(path, l.in)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		u, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if u.Kind != bgpfeed.KindAnnounce || !u.Prefix.IsValid() {
			continue
		}
		o := u.OriginASN()
		_, x := l.prefix(u.Prefix)
		if o != 0 {
			x.baseOrigins = insertSorted(x.baseOrigins, o)
		}
	}
}

// finish sorts histories and picks each peer's local side and next hops.
func (b *Background) finish(sessions map[sessionKey]map[localInfo]int) {
	for k, h := range b.hist {
		slices.SortStableFunc(h, func(x, y event) int { return cmp.Compare(x.t, y.t) })
		b.hist[k] = h
	}
	for _, d := range b.downs {
		slices.Sort(d)
	}
	for k, cuts := range b.toAS {
		slices.SortStableFunc(cuts, func(x, y cut) int { return cmp.Compare(x.t, y.t) })
		b.toAS[k] = cuts
	}
	// The collector's most used local side, per family, for peers only
	// seen in RIB dumps.
	var famLocal [2]map[localInfo]int
	for _, m := range sessions {
		for li, c := range m {
			f := fam4
			if !li.addr.Is4() {
				f = fam6
			}
			if famLocal[f] == nil {
				famLocal[f] = map[localInfo]int{}
			}
			famLocal[f][li] += c
		}
	}
	for _, p := range b.Peers {
		if li, ok := mostUsed(sessions[sessionKey{p.Addr, p.ASN}], lessLocal); ok {
			p.LocalASN, p.LocalAddr, p.IfIndex = li.asn, li.addr, li.ifIndex
			b.Stats.PeersWithLocalAddr++
		} else {
			f := fam4
			if !p.Addr.Is4() {
				f = fam6
			}
			if li, ok := mostUsed(famLocal[f], lessLocal); ok {
				p.LocalASN, p.LocalAddr = li.asn, li.addr
			}
		}
		for f := range p.nh {
			if nh, ok := mostUsed(p.nh[f], func(a, b netip.Addr) bool { return a.Less(b) }); ok {
				p.NextHop[f] = nh
			}
			p.nh[f] = nil
		}
	}
	for _, x := range b.prefixes {
		if x.first < 0 {
			b.Stats.BaselinePrefixes++
		}
		for _, o := range x.origins {
			b.origin[o]++
		}
	}
	b.Stats.Prefixes = len(b.prefixes) - b.Stats.BaselinePrefixes
	b.Stats.Peers = len(b.Peers)
	b.asOrder = make([]uint32, 0, len(b.seenAS))
	for a := range b.seenAS {
		b.asOrder = append(b.asOrder, a)
	}
	slices.Sort(b.asOrder)
	// Suffix lists in prefix order (they were appended in stream order,
	// which is deterministic, but sorted is easier to reason about).
	for a, s := range b.fromAS {
		slices.SortStableFunc(s, func(x, y suffix) int { return cmp.Compare(x.prefix, y.prefix) })
		b.fromAS[a] = s
	}
}

func lessLocal(a, b localInfo) bool {
	if a.asn != b.asn {
		return a.asn < b.asn
	}
	if a.addr != b.addr {
		return a.addr.Less(b.addr)
	}
	return a.ifIndex < b.ifIndex
}

// mostUsed returns the key with the highest count, ties to the least key.
func mostUsed[K comparable](m map[K]int, less func(a, b K) bool) (K, bool) {
	var best K
	n, found := -1, false
	for k, c := range m {
		if c > n || (c == n && less(k, best)) {
			best, n, found = k, c, true
		}
	}
	return best, found
}

// routeAt is the peer's usable path for a prefix just before t: its last
// announcement before t, unless withdrawn or its session went down since.
func (b *Background) routeAt(peer, prefix int32, t int64) []uint32 {
	h := b.hist[histKey{peer, prefix}]
	i, _ := slices.BinarySearchFunc(h, t, func(e event, t int64) int { return cmp.Compare(e.t, t) })
	if i == 0 {
		return nil
	}
	e := h[i-1]
	if e.withdraw || e.asns == nil {
		return nil
	}
	d := b.downs[peer]
	j, _ := slices.BinarySearch(d, e.t)
	if j < len(d) && d[j] < t {
		return nil
	}
	return e.asns
}

// pathsOf lists the distinct usable paths the peer ever used for a prefix,
// in order of first use.
func (b *Background) pathsOf(peer, prefix int32) [][]uint32 {
	var out [][]uint32
	for _, e := range b.hist[histKey{peer, prefix}] {
		if e.asns != nil && !slices.ContainsFunc(out, func(p []uint32) bool { return slices.Equal(p, e.asns) }) {
			out = append(out, e.asns)
		}
	}
	return out
}

// busy reports whether the background has an element of the peer for the
// prefix in second t.
func (b *Background) busy(peer, prefix int32, t int64) bool {
	h := b.hist[histKey{peer, prefix}]
	_, found := slices.BinarySearchFunc(h, t, func(e event, t int64) int { return cmp.Compare(e.t, t) })
	return found
}

// prefixKnown reports whether a prefix is in the background or a baseline.
func (b *Background) prefixKnown(p netip.Prefix) bool {
	_, ok := b.prefixIdx[p]
	return ok
}

// allOrigins are the origins of a prefix in the background and baseline.
func (x *prefixInfo) allOrigins() []uint32 {
	out := slices.Clone(x.origins)
	for _, o := range x.baseOrigins {
		out = insertSorted(out, o)
	}
	return out
}
