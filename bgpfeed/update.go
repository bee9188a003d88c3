package bgpfeed

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Kind says what an Update reports.
type Kind uint8

// Kinds of Update.
const (
	KindAnnounce Kind = iota + 1 // a peer announces a route for Prefix
	KindWithdraw                 // a peer withdraws its route for Prefix
	KindState                    // a peer's BGP session changed state
)

func (k Kind) String() string {
	switch k {
	case KindAnnounce:
		return "A"
	case KindWithdraw:
		return "W"
	case KindState:
		return "STATE"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Format names the wire format an Update was decoded from. It is provenance
// (and lets `bgpsentry dump` print bgpdump's record names), not semantics.
type Format uint8

// Formats of origin.
const (
	FormatUnknown     Format = iota
	FormatBGP4MP             // MRT BGP4MP
	FormatBGP4MPET           // MRT BGP4MP_ET (microsecond timestamps)
	FormatTableDump          // MRT TABLE_DUMP (v1)
	FormatTableDumpV2        // MRT TABLE_DUMP_V2
	FormatPrefix2AS          // pyasn / CAIDA prefix2as text table
	FormatSession            // a live BGP session of the embedded speaker
	FormatRIPEstat           // a RIPEstat bgp-updates response (JSON)
)

// SessionState is a BGP FSM state as numbered in RFC 6396 (1 Idle ..
// 6 Established; Quagga also writes 7 Clearing and 8 Deleted).
type SessionState uint8

// StateEstablished is the only state in which a peer's routes are valid.
const StateEstablished SessionState = 6

// Update is one element of a BGP feed: a prefix announced or withdrawn by
// one peer, or one peer's session changing state. Updates are values; the
// pointed-to Attrs and Path are shared between the Updates of one BGP
// message (and Paths between all Updates of a reader) and must be treated as
// immutable.
type Update struct {
	Time   time.Time
	Source string // collector (file name) or live session name
	Format Format
	Kind   Kind
	// Table marks a route from a RIB dump or a table transfer: it
	// bootstraps state and never raises an alert by itself.
	Table bool
	// Local marks a BGP4MP *_LOCAL record: a message the collector itself
	// sent to the peer, not a route the peer announced.
	Local    bool
	PeerAddr netip.Addr
	PeerASN  uint32
	Prefix   netip.Prefix // invalid for KindState
	PathID   uint32       // ADD-PATH path identifier (RFC 7911), 0 without
	Attrs    *Attrs       // nil unless KindAnnounce
	// OldState and NewState are set for KindState.
	OldState, NewState SessionState
}

// OriginASN is the origin AS of an announcement (0 when unknown: a
// withdrawal, an empty path, or a path ending in a multi-AS AS_SET).
func (u *Update) OriginASN() uint32 {
	if u.Attrs == nil || u.Attrs.Path == nil {
		return 0
	}
	return u.Attrs.Path.Origin()
}

// SessionDown reports whether this is a state change that takes a peer out
// of Established: all routes of that peer are gone.
func (u *Update) SessionDown() bool {
	return u.Kind == KindState && u.OldState == StateEstablished && u.NewState != StateEstablished
}

// OriginType is the BGP ORIGIN attribute.
type OriginType uint8

// ORIGIN attribute values (RFC 4271).
const (
	OriginIGP        OriginType = 0
	OriginEGP        OriginType = 1
	OriginIncomplete OriginType = 2
)

func (o OriginType) String() string {
	switch o {
	case OriginIGP:
		return "IGP"
	case OriginEGP:
		return "EGP"
	case OriginIncomplete:
		return "INCOMPLETE"
	}
	return "origin(" + strconv.Itoa(int(o)) + ")"
}

// LargeCommunity is an RFC 8092 large community.
type LargeCommunity struct{ Global, Local1, Local2 uint32 }

func (c LargeCommunity) String() string {
	return strconv.FormatUint(uint64(c.Global), 10) + ":" + strconv.FormatUint(uint64(c.Local1), 10) + ":" + strconv.FormatUint(uint64(c.Local2), 10)
}

// Attrs are the path attributes of an announcement.
type Attrs struct {
	Path            *Path
	OriginType      OriginType
	NextHop         netip.Addr
	LocalPref       uint32
	MED             uint32
	HasLocalPref    bool
	HasMED          bool
	AtomicAggregate bool
	AggregatorASN   uint32
	AggregatorAddr  netip.Addr
	// Communities are RFC 1997 communities, high 16 bits the ASN.
	Communities      []uint32
	LargeCommunities []LargeCommunity
}

// SegmentType is the type of an AS_PATH segment.
type SegmentType uint8

// AS_PATH segment types (RFC 4271, RFC 5065).
const (
	SegSet            SegmentType = 1
	SegSequence       SegmentType = 2
	SegConfedSequence SegmentType = 3
	SegConfedSet      SegmentType = 4
)

// Segment is one AS_PATH segment.
type Segment struct {
	Type SegmentType
	ASNs []uint32
}

// Path is an AS path with its segments kept (an AS_SET stays marked, it is
// not flattened away). Paths come from an Interner and are immutable.
type Path struct {
	Segments []Segment
	origin   uint32
	length   int
	hasSet   bool
}

// NewPath builds a Path from segments. Prefer Interner.Intern, which
// returns a shared Path for equal segments.
func NewPath(segs []Segment) *Path {
	p := &Path{Segments: segs}
	for _, s := range segs {
		switch s.Type {
		case SegSequence:
			p.length += len(s.ASNs)
		case SegSet:
			p.length++
			p.hasSet = true
		case SegConfedSet:
			p.hasSet = true
		}
	}
	// The origin is the last AS of a trailing AS_SEQUENCE, or the single AS
	// of a trailing one-element AS_SET; otherwise it is unknown (0).
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		if len(s.ASNs) == 0 {
			continue
		}
		switch s.Type {
		case SegSequence:
			p.origin = s.ASNs[len(s.ASNs)-1]
		case SegSet:
			if len(s.ASNs) == 1 {
				p.origin = s.ASNs[0]
			}
		}
		break
	}
	return p
}

// Origin is the origin AS, 0 when the path is empty or ends in an AS_SET
// of several ASes.
func (p *Path) Origin() uint32 {
	if p == nil {
		return 0
	}
	return p.origin
}

// Len is the path length as BGP's decision process counts it (RFC 4271:
// an AS_SET counts one, confederation segments none).
func (p *Path) Len() int {
	if p == nil {
		return 0
	}
	return p.length
}

// HasSet reports whether the path contains an AS_SET or AS_CONFED_SET.
func (p *Path) HasSet() bool { return p != nil && p.hasSet }

// ASNs returns the ASes of the path's AS_SEQUENCE segments in order,
// appended to dst; sets and confederation segments are left out.
func (p *Path) ASNs(dst []uint32) []uint32 {
	if p == nil {
		return dst
	}
	for _, s := range p.Segments {
		if s.Type == SegSequence {
			dst = append(dst, s.ASNs...)
		}
	}
	return dst
}

// String formats the path as bgpdump does: sequences space separated, an
// AS_SET as {a,b}, a confederation sequence as (a b), a confederation set
// as [a,b].
func (p *Path) String() string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	for i, s := range p.Segments {
		if i > 0 {
			b.WriteByte(' ')
		}
		open, sep, closing := "", " ", ""
		switch s.Type {
		case SegSet:
			open, sep, closing = "{", ",", "}"
		case SegConfedSequence:
			open, closing = "(", ")"
		case SegConfedSet:
			open, sep, closing = "[", ",", "]"
		}
		b.WriteString(open)
		for j, a := range s.ASNs {
			if j > 0 {
				b.WriteString(sep)
			}
			b.WriteString(strconv.FormatUint(uint64(a), 10))
		}
		b.WriteString(closing)
	}
	return b.String()
}
