package fulltable

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/packet/mrt"

	"github.com/bgpsentry/bgpsentry/bgpfeed/prefix2as"
)

// Entry is one prefix of the table and its origin AS.
type Entry struct {
	Prefix netip.Prefix
	Origin uint32
}

// Load reads prefix-to-origin tables (pyasn or CAIDA prefix2as, see
// bgpfeed/prefix2as) into entries: one per prefix (the first origin of a
// multi-origin prefix), entries with an AS_SET origin left out. The
// result is sorted by prefix.
func Load(paths ...string) ([]Entry, error) {
	var out []Entry
	seen := map[netip.Prefix]bool{}
	for _, p := range paths {
		r, err := prefix2as.Open(p, nil)
		if err != nil {
			return nil, fmt.Errorf("fulltable: %w", err)
		}
		for {
			u, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("fulltable: %s: %w", p, err)
			}
			o := u.OriginASN()
			if o == 0 || seen[u.Prefix] {
				continue
			}
			seen[u.Prefix] = true
			out = append(out, Entry{Prefix: u.Prefix, Origin: o})
		}
		r.Close()
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
}

// Peer is a vantage point of the table: the router whose routes the RIB
// entries are.
type Peer struct {
	ASN uint32
	// Addr is the peer's address in the PEER_INDEX_TABLE and the IPv4
	// next hop of its routes.
	Addr netip.Addr
	// ID is its BGP identifier (default Addr).
	ID netip.Addr
	// NextHop6 is the IPv6 next hop of its IPv6 routes.
	NextHop6 netip.Addr
}

// Options configure Write.
type Options struct {
	// Seed makes a different but equally shaped set of paths.
	Seed uint64
	// Peers are the vantage points (at least one; at most 65535).
	Peers []Peer
	// Time is the dump's timestamp (default 2026-07-30 14:00 UTC, the
	// time of the asinfo tables); routes are 0 to 30 days older.
	Time time.Time
	// CollectorID is the BGP identifier of the PEER_INDEX_TABLE (default
	// 192.0.2.254).
	CollectorID netip.Addr
}

// Stats describe a written table.
type Stats struct {
	IPv4, IPv6 int // RIB records (prefixes)
	Entries    int // RIB entries: prefixes × peers
	// Paths is the number of distinct (peer, AS path) pairs.
	Paths int
	// PathLen counts entries by AS path length (ASes, prepending
	// included); the last bucket holds 12 and more.
	PathLen [13]int
	// Prepended counts entries whose path repeats an AS.
	Prepended int
	Bytes     int64
}

// MeanPathLen is the average AS path length over all entries.
func (s Stats) MeanPathLen() float64 {
	var sum, n int
	for l, c := range s.PathLen {
		sum += l * c
		n += c
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// tier1 is a clique of real transit-free ASes (Level3/Lumen, Cogent,
// Arelion, NTT, GTT, DTAG, Tata, Zayo, Orange, Telefonica, Sparkle, Verizon,
// AT&T, Liberty Global, PCCW).
var tier1 = []uint32{3356, 174, 1299, 2914, 3257, 3320, 6453, 6461, 5511, 12956, 6762, 701, 7018, 6830, 3491}

const (
	level1Size = 60  // largest non-tier-1 origins: large transits
	level2Size = 600 // the next ones: regional transits
)

// topology assigns providers to ASes, by hash of the seed and the AS.
type topology struct {
	seed   uint64
	tier1  map[uint32]bool
	level1 []uint32
	level2 []uint32
	rank   map[uint32]int // 1 = level 1, 2 = level 2
}

func newTopology(seed uint64, es []Entry) *topology {
	t := &topology{seed: seed, tier1: map[uint32]bool{}, rank: map[uint32]int{}}
	for _, a := range tier1 {
		t.tier1[a] = true
	}
	count := map[uint32]int{}
	for _, e := range es {
		count[e.Origin]++
	}
	origins := make([]uint32, 0, len(count))
	for o := range count {
		if !t.tier1[o] {
			origins = append(origins, o)
		}
	}
	slices.SortFunc(origins, func(a, b uint32) int {
		if c := cmp.Compare(count[b], count[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for i, o := range origins {
		switch {
		case i < level1Size:
			t.level1 = append(t.level1, o)
			t.rank[o] = 1
		case i < level1Size+level2Size:
			t.level2 = append(t.level2, o)
			t.rank[o] = 2
		}
	}
	return t
}

// mix is the SplitMix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// h hashes the seed, a salt naming the decision, and values.
func (t *topology) h(salt uint64, vs ...uint64) uint64 {
	x := mix(t.seed ^ salt*0x9e3779b97f4a7c15)
	for _, v := range vs {
		x = mix(x ^ v)
	}
	return x
}

// skewed picks from list, favouring its head (the bigger ASes).
func skewed(list []uint32, x uint64) uint32 {
	u := float64(x>>11) / (1 << 53)
	return list[int(u*u*float64(len(list)))]
}

// Decision salts.
const (
	saltProvider = iota + 1
	saltSecond
	saltMultihome
	saltPrefer
	saltTE
	saltPeerUp
	saltShortcut
	saltPrepend
	saltTransitPrepend
	saltOrigin
	saltMED
	saltComm
	saltAge
)

// provider is the n-th (0 or 1) provider of a, 0 for a tier-1 or for a
// single-homed AS's second provider.
func (t *topology) provider(a uint32, n int) uint32 {
	if t.tier1[a] {
		return 0
	}
	salt := uint64(saltProvider)
	if n == 1 {
		if t.rank[a] != 0 || t.h(saltMultihome, uint64(a))%100 >= 40 {
			return 0
		}
		salt = saltSecond
	}
	x := t.h(salt, uint64(a))
	r := x % 100
	x = mix(x)
	switch t.rank[a] {
	case 1:
		return tier1[x%uint64(len(tier1))]
	case 2:
		if r < 60 {
			return skewed(t.level1, x)
		}
		return tier1[x%uint64(len(tier1))]
	}
	switch {
	case r < 15 || len(t.level1) == 0:
		return tier1[x%uint64(len(tier1))]
	case r < 75 && len(t.level2) > 0:
		return skewed(t.level2, x)
	default:
		return skewed(t.level1, x)
	}
}

// chain appends a's way up to a tier-1 (a first) to dst; first is the
// provider choice of a itself.
func (t *topology) chain(dst []uint32, a uint32, first int) []uint32 {
	dst = append(dst, a)
	for n := first; !t.tier1[a] && len(dst) < 8; n = 0 {
		p := t.provider(a, n)
		if p == 0 {
			p = t.provider(a, 0)
		}
		if p == a || slices.Contains(dst, p) {
			break
		}
		dst = append(dst, p)
		a = p
	}
	return dst
}

// path is the AS path peer p has for prefix pfx originated by o, written
// into dst (reused).
func (t *topology) path(dst []uint32, p Peer, pfx netip.Prefix, o uint32) []uint32 {
	// Which provider of a multihomed origin: the peer's preference, and
	// for 30% of prefixes (traffic engineering) the prefix's own.
	choice := int(t.h(saltPrefer, uint64(p.ASN), uint64(o)) % 2)
	pk := prefixKey(pfx)
	if t.h(saltTE, pk)%100 < 30 {
		choice = int(t.h(saltTE, pk, 1) % 2)
	}
	var up [12]uint32
	c := t.chain(up[:0], o, choice) // origin ... tier-1
	// The lowest AS of the chain the peer peers with directly, if any.
	cut := -1
	for i, a := range c {
		switch {
		case a == p.ASN:
			cut = i
		case i == 0 && t.h(saltShortcut, uint64(p.ASN), uint64(a))%100 < 3:
			cut = i
		case i > 0 && !t.tier1[a] && t.h(saltShortcut, uint64(p.ASN), uint64(a))%100 < 20:
			cut = i
		}
		if cut >= 0 {
			break
		}
	}
	dst = append(dst[:0], p.ASN)
	top := len(c) - 1
	if cut >= 0 {
		top = cut
		if c[cut] == p.ASN {
			top = cut - 1
		}
	} else if !t.tier1[p.ASN] {
		up := tier1[t.h(saltPeerUp, uint64(p.ASN))%uint64(len(tier1))]
		if up != c[top] {
			dst = append(dst, up)
		}
	}
	for i := top; i >= 0; i-- {
		a := c[i]
		dst = append(dst, a)
		if i > 0 && t.rank[a] == 2 && t.h(saltTransitPrepend, uint64(p.ASN), uint64(a))%100 < 3 {
			dst = append(dst, a)
		}
	}
	if x := t.h(saltPrepend, uint64(o)); x%100 < 8 {
		for n := 1 + int(x>>8)%3; n > 0; n-- {
			dst = append(dst, o)
		}
	}
	return dst
}

func prefixKey(p netip.Prefix) uint64 {
	b := p.Addr().As16()
	x := mix(binary.BigEndian.Uint64(b[:8]))
	x = mix(x ^ binary.BigEndian.Uint64(b[8:]))
	return mix(x ^ uint64(p.Bits()))
}

// Write writes entries (any order; both families) as a TABLE_DUMP_V2 RIB
// with one entry per peer and prefix.
func Write(w io.Writer, entries []Entry, opt Options) (Stats, error) {
	var st Stats
	if len(opt.Peers) == 0 || len(opt.Peers) > 65535 {
		return st, fmt.Errorf("fulltable: %d peers, want 1..65535", len(opt.Peers))
	}
	if opt.Time.IsZero() {
		opt.Time = time.Date(2026, 7, 30, 14, 0, 0, 0, time.UTC)
	}
	if !opt.CollectorID.IsValid() {
		opt.CollectorID = netip.MustParseAddr("192.0.2.254")
	}
	peers := make([]*mrt.Peer, len(opt.Peers))
	for i, p := range opt.Peers {
		if !p.Addr.IsValid() || p.ASN == 0 {
			return st, fmt.Errorf("fulltable: peer %d: address and ASN required", i)
		}
		if !p.ID.IsValid() {
			p.ID = p.Addr
		}
		if !p.ID.Is4() {
			return st, fmt.Errorf("fulltable: peer %d: BGP identifier %s is not IPv4", i, p.ID)
		}
		if !p.NextHop6.IsValid() {
			p.NextHop6 = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
		}
		opt.Peers[i] = p
		peers[i] = mrt.NewPeer(p.ID.String(), p.Addr.String(), p.ASN, true)
	}
	es := slices.Clone(entries)
	sortEntries(es)
	topo := newTopology(opt.Seed, es)

	bw := bufio.NewWriterSize(w, 1<<20)
	ts := uint32(opt.Time.Unix())
	write := func(sub mrt.MRTSubTypeTableDumpv2, body mrt.Body) error {
		m, err := mrt.NewMRTMessage(ts, mrt.TABLE_DUMPv2, sub, body)
		if err != nil {
			return err
		}
		b, err := m.Serialize()
		if err != nil {
			return err
		}
		n, err := bw.Write(b)
		st.Bytes += int64(n)
		return err
	}
	if err := write(mrt.PEER_INDEX_TABLE, mrt.NewPeerIndexTable(opt.CollectorID.String(), "bgpsentry-fulltable", peers)); err != nil {
		return st, fmt.Errorf("fulltable: peer index: %w", err)
	}
	type pathKey struct {
		peer int
		key  string
	}
	distinct := map[pathKey]struct{}{}
	var asns []uint32
	var keyBuf []byte
	for seq, e := range es {
		if !e.Prefix.IsValid() {
			return st, fmt.Errorf("fulltable: entry %d: invalid prefix", seq)
		}
		pfx := e.Prefix.Masked()
		var nlri bgp.AddrPrefixInterface
		sub := mrt.RIB_IPV4_UNICAST
		if pfx.Addr().Is4() {
			nlri = bgp.NewIPAddrPrefix(uint8(pfx.Bits()), pfx.Addr().String())
			st.IPv4++
		} else {
			nlri = bgp.NewIPv6AddrPrefix(uint8(pfx.Bits()), pfx.Addr().String())
			sub = mrt.RIB_IPV6_UNICAST
			st.IPv6++
		}
		ribEntries := make([]*mrt.RibEntry, len(opt.Peers))
		for i, p := range opt.Peers {
			asns = topo.path(asns, p, pfx, e.Origin)
			st.Entries++
			st.PathLen[min(len(asns), len(st.PathLen)-1)]++
			if hasRepeat(asns) {
				st.Prepended++
			}
			keyBuf = keyBuf[:0]
			for _, a := range asns {
				keyBuf = append(keyBuf, byte(a>>24), byte(a>>16), byte(a>>8), byte(a))
			}
			distinct[pathKey{i, string(keyBuf)}] = struct{}{}
			ribEntries[i] = mrt.NewRibEntry(uint16(i), ts-uint32(topo.h(saltAge, uint64(p.ASN), prefixKey(pfx))%(30*86400)), 0,
				topo.attrs(p, pfx, nlri, e.Origin, asns), false)
		}
		if err := write(sub, mrt.NewRib(uint32(seq), nlri, ribEntries)); err != nil {
			return st, fmt.Errorf("fulltable: %s: %w", pfx, err)
		}
	}
	st.Paths = len(distinct)
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("fulltable: %w", err)
	}
	return st, nil
}

func hasRepeat(asns []uint32) bool {
	for i := 1; i < len(asns); i++ {
		if asns[i] == asns[i-1] {
			return true
		}
	}
	return false
}

// attrs are the path attributes of one RIB entry.
func (t *topology) attrs(p Peer, pfx netip.Prefix, nlri bgp.AddrPrefixInterface, o uint32, asns []uint32) []bgp.PathAttributeInterface {
	origin := uint8(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)
	if t.h(saltOrigin, uint64(o))%100 < 6 {
		origin = bgp.BGP_ORIGIN_ATTR_TYPE_INCOMPLETE
	}
	as := []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(origin),
		bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, slices.Clone(asns))}),
	}
	if pfx.Addr().Is4() {
		as = append(as, bgp.NewPathAttributeNextHop(p.Addr.String()))
	} else {
		as = append(as, bgp.NewPathAttributeMpReachNLRI(p.NextHop6.String(), []bgp.AddrPrefixInterface{nlri}))
	}
	if x := t.h(saltMED, uint64(p.ASN), uint64(o)); x%100 < 20 {
		as = append(as, bgp.NewPathAttributeMultiExitDisc(uint32(x>>8)%1000))
	}
	// Communities of the vantage point (a location tag) and of the AS it
	// learnt the route from, when those are 16-bit ASNs.
	x := t.h(saltComm, uint64(p.ASN), uint64(o))
	var cs []uint32
	if p.ASN <= 0xffff {
		cs = append(cs, p.ASN<<16|uint32(100+x%40))
		if x>>8%3 == 0 {
			cs = append(cs, p.ASN<<16|uint32(1000+(x>>16)%20))
		}
	}
	if len(asns) > 1 && asns[1] <= 0xffff && asns[1] != p.ASN && x>>24%2 == 0 {
		cs = append(cs, asns[1]<<16|uint32(2000+(x>>32)%300))
	}
	if len(cs) > 0 {
		as = append(as, bgp.NewPathAttributeCommunities(cs))
	}
	return as
}
