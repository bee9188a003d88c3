package bgpfeed

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// The wire form of an Update is the protobuf message bgpsentry.v1.Update
// (proto/bgpsentry/v1/update.proto), the value of a Kafka record.
//
// The conversion is exact for every Update that MarshalUpdate accepts,
// with three normalisations: the time comes back in UTC (without its
// monotonic reading), the zero time and the instant of the Unix epoch both
// travel as 0 and come back as the zero time, and an announcement's nil
// Attrs.Path comes back as an empty Path (MRT sources never produce a nil
// Path). Enumerations (Format, segment types, ORIGIN, session states) keep
// their numbers, so values this package does not name pass through.

// ErrWire is the sentinel of every error of MarshalUpdate and
// UnmarshalUpdate, checked with errors.Is.
var ErrWire = errors.New("bgpfeed: wire")

// WireError is an Update that cannot be put into the wire form, or wire
// bytes that do not make an Update. It unwraps to ErrWire and to the cause.
type WireError struct {
	Op    string // "marshal" or "unmarshal"
	Field string // protobuf field, e.g. "attrs.next_hop"; empty for the protobuf encoding itself
	Err   error
}

func (e *WireError) Error() string {
	if e.Field == "" {
		return "bgpfeed: " + e.Op + " update: " + e.Err.Error()
	}
	return "bgpfeed: " + e.Op + " update: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns ErrWire and the cause.
func (e *WireError) Unwrap() []error { return []error{ErrWire, e.Err} }

const (
	opMarshal   = "marshal"
	opUnmarshal = "unmarshal"
)

func wireErr(op, field, format string, args ...any) error {
	return &WireError{Op: op, Field: field, Err: fmt.Errorf(format, args...)}
}

// UnixNano is defined only between these instants.
var (
	minWireTime = time.Unix(0, math.MinInt64)
	maxWireTime = time.Unix(0, math.MaxInt64)
)

// MarshalUpdate appends the wire form of u to buf and returns the extended
// buffer. On error buf is returned unchanged: an Update of unknown Kind, a
// time the wire cannot carry (outside 1678..2262), an address with a zone,
// an invalid prefix other than the zero Prefix.
func MarshalUpdate(u *Update, buf []byte) ([]byte, error) {
	if u == nil {
		return buf, wireErr(opMarshal, "", "nil Update")
	}
	e := encoderPool.Get().(*wireEncoder)
	defer e.release()
	m, err := e.encode(u)
	if err != nil {
		return buf, err
	}
	out, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return buf, &WireError{Op: opMarshal, Err: err}
	}
	return out, nil
}

// UnmarshalUpdate decodes the wire form of an Update. Its AS path is
// interned in in (a nil Interner gives the Update a Path of its own). Bytes
// that are not an Update (not protobuf, an unknown Kind, an address that is
// neither 4 nor 16 bytes, a prefix length beyond the address, a number out
// of range of its Go type) give an error that wraps ErrWire.
func UnmarshalUpdate(b []byte, in *Interner) (Update, error) {
	m := decoderPool.Get().(*pb.Update)
	defer func() {
		m.Reset() // drops the references to what the Update now owns
		decoderPool.Put(m)
	}()
	if err := proto.Unmarshal(b, m); err != nil {
		return Update{}, &WireError{Op: opUnmarshal, Err: err}
	}
	return updateFromWire(m, in)
}

// wireEncoder holds the messages MarshalUpdate fills, reused through
// encoderPool so that encoding allocates little. Between uses it holds no
// reference to an Update.
type wireEncoder struct {
	u     pb.Update
	a     pb.Attrs
	segs  []pb.Segment
	segPs []*pb.Segment
	lcs   []pb.LargeCommunity
	lcPs  []*pb.LargeCommunity
	addrs [4 * 16]byte // peer, prefix, next hop, aggregator
}

var (
	encoderPool = sync.Pool{New: func() any { return new(wireEncoder) }}
	decoderPool = sync.Pool{New: func() any { return new(pb.Update) }}
)

func (e *wireEncoder) release() {
	e.u.Reset()
	e.a.Reset()
	for i := range e.segs {
		e.segs[i].Reset()
	}
	clear(e.segPs)
	e.segPs = e.segPs[:0]
	clear(e.lcPs)
	e.lcPs = e.lcPs[:0]
	encoderPool.Put(e)
}

func (e *wireEncoder) encode(u *Update) (*pb.Update, error) {
	switch u.Kind {
	case KindAnnounce, KindWithdraw, KindState:
	default:
		return nil, wireErr(opMarshal, "kind", "unknown kind %d", u.Kind)
	}
	m := &e.u
	m.Source = u.Source
	m.Format = pb.Format(u.Format)
	m.Kind = pb.Kind(u.Kind)
	m.Table = u.Table
	m.Local = u.Local
	m.PeerAsn = u.PeerASN
	m.PathId = u.PathID
	m.OldState = uint32(u.OldState)
	m.NewState = uint32(u.NewState)
	if !u.Time.IsZero() {
		if u.Time.Before(minWireTime) || u.Time.After(maxWireTime) {
			return nil, wireErr(opMarshal, "time_unix_ns", "time %v outside the range of int64 nanoseconds", u.Time)
		}
		m.TimeUnixNs = u.Time.UnixNano()
	}
	addrs := e.addrs[:0]
	var err error
	if m.PeerAddr, addrs, err = addrToWire(addrs, u.PeerAddr, "peer_addr"); err != nil {
		return nil, err
	}
	if u.Prefix.IsValid() {
		m.PrefixAddr, addrs, _ = addrToWire(addrs, u.Prefix.Addr(), "prefix_addr") // a Prefix has no zone
		m.PrefixLen = uint32(u.Prefix.Bits())
	} else if u.Prefix != (netip.Prefix{}) {
		return nil, wireErr(opMarshal, "prefix_len", "invalid prefix length for %v", u.Prefix.Addr())
	}
	if u.Attrs == nil {
		return m, nil
	}
	a, ua := &e.a, u.Attrs
	m.Attrs = a
	a.OriginType = uint32(ua.OriginType)
	a.LocalPref, a.HasLocalPref = ua.LocalPref, ua.HasLocalPref
	a.Med, a.HasMed = ua.MED, ua.HasMED
	a.AtomicAggregate = ua.AtomicAggregate
	a.AggregatorAsn = ua.AggregatorASN
	a.Communities = ua.Communities // only read while marshaling
	if a.NextHop, addrs, err = addrToWire(addrs, ua.NextHop, "attrs.next_hop"); err != nil {
		return nil, err
	}
	if a.AggregatorAddr, _, err = addrToWire(addrs, ua.AggregatorAddr, "attrs.aggregator_addr"); err != nil {
		return nil, err
	}
	if ua.Path != nil && len(ua.Path.Segments) > 0 {
		n := len(ua.Path.Segments)
		if cap(e.segs) < n {
			e.segs = make([]pb.Segment, n)
		}
		e.segs = e.segs[:n]
		for i, s := range ua.Path.Segments {
			ps := &e.segs[i]
			ps.Type = pb.Segment_Type(s.Type)
			ps.Asns = s.ASNs // only read while marshaling
			e.segPs = append(e.segPs, ps)
		}
		a.AsPath = e.segPs
	}
	if n := len(ua.LargeCommunities); n > 0 {
		if cap(e.lcs) < n {
			e.lcs = make([]pb.LargeCommunity, n)
		}
		e.lcs = e.lcs[:n]
		for i, c := range ua.LargeCommunities {
			pc := &e.lcs[i]
			pc.Reset()
			pc.GlobalAdmin, pc.LocalData1, pc.LocalData2 = c.Global, c.Local1, c.Local2
			e.lcPs = append(e.lcPs, pc)
		}
		a.LargeCommunities = e.lcPs
	}
	return m, nil
}

// addrToWire appends the 4 or 16 bytes of a to scratch and returns them
// (nil for the zero Addr) and the extended scratch.
func addrToWire(scratch []byte, a netip.Addr, field string) (b, rest []byte, err error) {
	switch {
	case !a.IsValid():
		return nil, scratch, nil
	case a.Zone() != "":
		return nil, scratch, wireErr(opMarshal, field, "address %v has a zone", a)
	case a.Is4():
		v := a.As4()
		scratch = append(scratch, v[:]...)
		return scratch[len(scratch)-4 : len(scratch) : len(scratch)], scratch, nil
	default:
		v := a.As16()
		scratch = append(scratch, v[:]...)
		return scratch[len(scratch)-16 : len(scratch) : len(scratch)], scratch, nil
	}
}

// addrFromWire is the inverse of addrToWire: 4 bytes are an IPv4 address,
// 16 an IPv6 one (an IPv4-mapped address stays mapped), none the zero Addr.
func addrFromWire(b []byte, field string) (netip.Addr, error) {
	switch len(b) {
	case 0:
		return netip.Addr{}, nil
	case 4:
		return netip.AddrFrom4([4]byte(b)), nil
	case 16:
		return netip.AddrFrom16([16]byte(b)), nil
	}
	return netip.Addr{}, wireErr(opUnmarshal, field, "address of %d bytes, want 4 or 16", len(b))
}

// byteFromWire checks that a wire number fits the uint8 of its Go type.
func byteFromWire[T ~int32 | ~uint32](v T, field string) (uint8, error) {
	if v < 0 || v > math.MaxUint8 {
		return 0, wireErr(opUnmarshal, field, "value %d out of range 0..255", v)
	}
	return uint8(v), nil
}

func updateFromWire(m *pb.Update, in *Interner) (Update, error) {
	u := Update{
		Source:  m.Source,
		Table:   m.Table,
		Local:   m.Local,
		PeerASN: m.PeerAsn,
		PathID:  m.PathId,
	}
	switch m.Kind {
	case pb.Kind_KIND_ANNOUNCE, pb.Kind_KIND_WITHDRAW, pb.Kind_KIND_STATE:
		u.Kind = Kind(m.Kind)
	default:
		return Update{}, wireErr(opUnmarshal, "kind", "unknown kind %d", m.Kind)
	}
	f, err := byteFromWire(m.Format, "format")
	if err != nil {
		return Update{}, err
	}
	u.Format = Format(f)
	old, err := byteFromWire(m.OldState, "old_state")
	if err != nil {
		return Update{}, err
	}
	nw, err := byteFromWire(m.NewState, "new_state")
	if err != nil {
		return Update{}, err
	}
	u.OldState, u.NewState = SessionState(old), SessionState(nw)
	if m.TimeUnixNs != 0 {
		u.Time = time.Unix(0, m.TimeUnixNs).UTC()
	}
	if u.PeerAddr, err = addrFromWire(m.PeerAddr, "peer_addr"); err != nil {
		return Update{}, err
	}
	pa, err := addrFromWire(m.PrefixAddr, "prefix_addr")
	if err != nil {
		return Update{}, err
	}
	switch {
	case pa.IsValid() && m.PrefixLen > uint32(pa.BitLen()):
		return Update{}, wireErr(opUnmarshal, "prefix_len", "length %d exceeds the %d bits of %v", m.PrefixLen, pa.BitLen(), pa)
	case pa.IsValid():
		u.Prefix = netip.PrefixFrom(pa, int(m.PrefixLen))
	case m.PrefixLen != 0:
		return Update{}, wireErr(opUnmarshal, "prefix_len", "length %d without prefix_addr", m.PrefixLen)
	}
	if m.Attrs != nil {
		if u.Attrs, err = attrsFromWire(m.Attrs, in); err != nil {
			return Update{}, err
		}
	}
	return u, nil
}

func attrsFromWire(m *pb.Attrs, in *Interner) (*Attrs, error) {
	ot, err := byteFromWire(m.OriginType, "attrs.origin_type")
	if err != nil {
		return nil, err
	}
	a := &Attrs{
		OriginType:      OriginType(ot),
		LocalPref:       m.LocalPref,
		MED:             m.Med,
		HasLocalPref:    m.HasLocalPref,
		HasMED:          m.HasMed,
		AtomicAggregate: m.AtomicAggregate,
		AggregatorASN:   m.AggregatorAsn,
	}
	if a.NextHop, err = addrFromWire(m.NextHop, "attrs.next_hop"); err != nil {
		return nil, err
	}
	if a.AggregatorAddr, err = addrFromWire(m.AggregatorAddr, "attrs.aggregator_addr"); err != nil {
		return nil, err
	}
	if len(m.Communities) > 0 {
		a.Communities = m.Communities // the message is dropped after decoding
	}
	if len(m.LargeCommunities) > 0 {
		a.LargeCommunities = make([]LargeCommunity, len(m.LargeCommunities))
		for i, c := range m.LargeCommunities {
			a.LargeCommunities[i] = LargeCommunity{Global: c.GlobalAdmin, Local1: c.LocalData1, Local2: c.LocalData2}
		}
	}
	// Most paths are short: decode them into stack arrays; Intern copies
	// what it keeps.
	var segArr [16]Segment
	var keyArr [256]byte
	segs := segArr[:0]
	for i, s := range m.AsPath {
		if s.Type < 0 || s.Type > math.MaxUint8 {
			return nil, wireErr(opUnmarshal, "attrs.as_path["+strconv.Itoa(i)+"].type", "value %d out of range 0..255", s.Type)
		}
		segs = append(segs, Segment{Type: SegmentType(s.Type), ASNs: s.Asns})
	}
	if in != nil {
		a.Path = in.Intern(AppendKey(keyArr[:0], segs), segs)
	} else {
		a.Path = NewPath(cloneSegments(segs))
	}
	return a, nil
}
