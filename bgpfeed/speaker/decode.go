package speaker

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// Errors of path decoding, counted in Stats.Skipped.
var (
	errNonUnicast = errors.New("not a unicast IPv4/IPv6 prefix")
	errBadNLRI    = errors.New("malformed NLRI")
	errBadAttr    = errors.New("malformed path attribute")
)

// Full names of the GoBGP API messages a path carries, compared with the
// type URLs of its Any fields.
var (
	nameIPPrefix  = fullName(&api.IPAddressPrefix{})
	nameOrigin    = fullName(&api.OriginAttribute{})
	nameASPath    = fullName(&api.AsPathAttribute{})
	nameNextHop   = fullName(&api.NextHopAttribute{})
	nameMED       = fullName(&api.MultiExitDiscAttribute{})
	nameLocalPref = fullName(&api.LocalPrefAttribute{})
	nameAtomic    = fullName(&api.AtomicAggregateAttribute{})
	nameAggr      = fullName(&api.AggregatorAttribute{})
	nameComm      = fullName(&api.CommunitiesAttribute{})
	nameLarge     = fullName(&api.LargeCommunitiesAttribute{})
	nameMPReach   = fullName(&api.MpReachNLRIAttribute{})
)

func fullName(m proto.Message) protoreflect.FullName {
	return m.ProtoReflect().Descriptor().FullName()
}

// typeName is the message name of an Any's type URL ("…/apipb.X").
func typeName(a *anypb.Any) protoreflect.FullName {
	u := a.GetTypeUrl()
	if i := lastSlash(u); i >= 0 {
		u = u[i+1:]
	}
	return protoreflect.FullName(u)
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// familyOf maps a GoBGP family to ours; 0 for anything but unicast.
func familyOf(f *api.Family) Family {
	if f.GetSafi() != api.Family_SAFI_UNICAST {
		return 0
	}
	switch f.GetAfi() {
	case api.Family_AFI_IP:
		return IPv4Unicast
	case api.Family_AFI_IP6:
		return IPv6Unicast
	}
	return 0
}

// decodePrefix reads an IPAddressPrefix NLRI straight from its wire
// bytes (field 1 prefix_len, field 2 prefix), without allocating a
// message.
func decodePrefix(a *anypb.Any) (netip.Prefix, error) {
	if a == nil || typeName(a) != nameIPPrefix {
		return netip.Prefix{}, errNonUnicast
	}
	b := a.GetValue()
	var (
		bits uint64
		addr []byte
	)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return netip.Prefix{}, errBadNLRI
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			bits, n = protowire.ConsumeVarint(b)
		case num == 2 && typ == protowire.BytesType:
			addr, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return netip.Prefix{}, errBadNLRI
		}
		b = b[n:]
	}
	ip, err := netip.ParseAddr(string(addr))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %v", errBadNLRI, err)
	}
	ip = ip.Unmap()
	if bits > uint64(ip.BitLen()) {
		return netip.Prefix{}, fmt.Errorf("%w: /%d", errBadNLRI, bits)
	}
	return netip.PrefixFrom(ip, int(bits)).Masked(), nil
}

// mpNextHops returns the raw next_hops field bytes of an MpReachNLRI
// attribute (field 2), for comparing two attributes while ignoring their
// NLRI (GoBGP gives each path of one UPDATE its own MP_REACH).
func mpNextHops(b []byte) []byte {
	start, end := -1, -1
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil
		}
		fieldStart := off
		off += n
		m := protowire.ConsumeFieldValue(num, typ, b[off:])
		if m < 0 {
			return nil
		}
		off += m
		if num == 2 {
			if start < 0 {
				start = fieldStart
			}
			end = off
		}
	}
	if start < 0 {
		return nil
	}
	return b[start:end]
}

// decoder turns GoBGP API paths into bgpfeed attributes. It is used by
// one goroutine at a time (the watcher callback, under Speaker.mu).
type decoder struct {
	interner *bgpfeed.Interner

	// prev and prevAttrs: the last attribute list decoded and its result,
	// reused for the next path when equal (all paths of one UPDATE).
	prev      []*anypb.Any
	prevAttrs *bgpfeed.Attrs

	key  []byte
	segs []bgpfeed.Segment

	// Scratch messages, reset by each proto.Unmarshal.
	origin api.OriginAttribute
	asPath api.AsPathAttribute
	nh     api.NextHopAttribute
	med    api.MultiExitDiscAttribute
	lp     api.LocalPrefAttribute
	aggr   api.AggregatorAttribute
	comm   api.CommunitiesAttribute
	large  api.LargeCommunitiesAttribute
	mp     api.MpReachNLRIAttribute
}

// sameAttrs reports whether pattrs equal d.prev, MP_REACH compared by next
// hops only.
func (d *decoder) sameAttrs(pattrs []*anypb.Any) bool {
	if d.prevAttrs == nil || len(pattrs) != len(d.prev) {
		return false
	}
	for i, a := range pattrs {
		b := d.prev[i]
		if a == b {
			continue
		}
		if a.GetTypeUrl() != b.GetTypeUrl() {
			return false
		}
		if typeName(a) == nameMPReach {
			if !bytes.Equal(mpNextHops(a.GetValue()), mpNextHops(b.GetValue())) {
				return false
			}
			continue
		}
		if !bytes.Equal(a.GetValue(), b.GetValue()) {
			return false
		}
	}
	return true
}

// attrs decodes a path's attributes; equal consecutive lists share one
// *Attrs.
func (d *decoder) attrs(pattrs []*anypb.Any) (*bgpfeed.Attrs, error) {
	if d.sameAttrs(pattrs) {
		d.prev = pattrs
		return d.prevAttrs, nil
	}
	at := &bgpfeed.Attrs{}
	uo := proto.UnmarshalOptions{DiscardUnknown: true}
	for _, a := range pattrs {
		v := a.GetValue()
		var err error
		switch typeName(a) {
		case nameOrigin:
			if err = uo.Unmarshal(v, &d.origin); err == nil {
				at.OriginType = bgpfeed.OriginType(d.origin.Origin)
			}
		case nameASPath:
			if err = uo.Unmarshal(v, &d.asPath); err == nil {
				at.Path = d.path(d.asPath.Segments)
			}
		case nameNextHop:
			if err = uo.Unmarshal(v, &d.nh); err == nil {
				at.NextHop, err = netip.ParseAddr(d.nh.NextHop)
			}
		case nameMPReach:
			if err = uo.Unmarshal(v, &d.mp); err == nil && len(d.mp.NextHops) > 0 {
				at.NextHop, err = netip.ParseAddr(d.mp.NextHops[0])
			}
		case nameMED:
			if err = uo.Unmarshal(v, &d.med); err == nil {
				at.MED, at.HasMED = d.med.Med, true
			}
		case nameLocalPref:
			if err = uo.Unmarshal(v, &d.lp); err == nil {
				at.LocalPref, at.HasLocalPref = d.lp.LocalPref, true
			}
		case nameAtomic:
			at.AtomicAggregate = true
		case nameAggr:
			if err = uo.Unmarshal(v, &d.aggr); err == nil {
				at.AggregatorASN = d.aggr.Asn
				if d.aggr.Address != "" {
					at.AggregatorAddr, err = netip.ParseAddr(d.aggr.Address)
				}
			}
		case nameComm:
			if err = uo.Unmarshal(v, &d.comm); err == nil && len(d.comm.Communities) > 0 {
				at.Communities = append([]uint32(nil), d.comm.Communities...)
			}
		case nameLarge:
			if err = uo.Unmarshal(v, &d.large); err == nil && len(d.large.Communities) > 0 {
				at.LargeCommunities = make([]bgpfeed.LargeCommunity, len(d.large.Communities))
				for i, c := range d.large.Communities {
					at.LargeCommunities[i] = bgpfeed.LargeCommunity{Global: c.GlobalAdmin, Local1: c.LocalData1, Local2: c.LocalData2}
				}
			}
		}
		if err != nil {
			d.prevAttrs = nil
			return nil, fmt.Errorf("%w: %s: %v", errBadAttr, typeName(a).Name(), err)
		}
	}
	at.NextHop = at.NextHop.Unmap()
	if at.Path == nil {
		at.Path = d.path(nil) // iBGP routes of the peer's own AS: empty path
	}
	d.prev, d.prevAttrs = pattrs, at
	return at, nil
}

// path interns an AS path.
func (d *decoder) path(segs []*api.AsSegment) *bgpfeed.Path {
	d.segs = d.segs[:0]
	for _, s := range segs {
		d.segs = append(d.segs, bgpfeed.Segment{Type: bgpfeed.SegmentType(s.Type), ASNs: s.Numbers})
	}
	d.key = bgpfeed.AppendKey(d.key[:0], d.segs)
	p := d.interner.Intern(d.key, d.segs)
	clear(d.segs) // drop references to the scratch message's slices
	return p
}
