package mrt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	gmrt "github.com/osrg/gobgp/v3/pkg/packet/mrt"
)

const asTrans = 23456

// peerIndex is a decoded TABLE_DUMP_V2 PEER_INDEX_TABLE.
type peerIndex struct {
	peers []peerEntry
}

type peerEntry struct {
	addr netip.Addr
	asn  uint32
}

func decodePeerIndex(body []byte) (*peerIndex, error) {
	t := &gmrt.PeerIndexTable{}
	if err := t.DecodeFromBytes(body); err != nil {
		return nil, err
	}
	pi := &peerIndex{peers: make([]peerEntry, len(t.Peers))}
	for i, p := range t.Peers {
		a, _ := netip.AddrFromSlice(p.IpAddress)
		pi.peers[i] = peerEntry{addr: a.Unmap(), asn: p.AS}
	}
	return pi, nil
}

// panicSite names the function that panicked (the frame below the
// runtime's panic machinery), for the skip report.
func panicSite() string {
	pcs := make([]uintptr, 16)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			return fmt.Sprintf("%s (%s:%d)", f.Function, filepath.Base(f.File), f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

// counts are the per-batch tallies merged into Stats by the consumer.
type counts struct {
	records        int64
	messages       [6]int64 // BGP message types seen in BGP4MP records
	nonUni         int64    // NLRI of other AFI/SAFI than IPv4/IPv6 unicast
	addPathGuessed int64    // UPDATEs with ADD-PATH NLRI under a plain subtype
	skipped        map[string]int64
	samples        []RecordError
}

const maxSamples = 20

func (c *counts) skip(file string, off int64, kind string, err error) {
	if c.skipped == nil {
		c.skipped = make(map[string]int64)
	}
	c.skipped[kind]++
	if len(c.samples) < maxSamples {
		c.samples = append(c.samples, RecordError{File: file, Offset: off, Kind: kind, Err: err})
	}
}

// decoder turns framed records into Updates. One per worker goroutine: its
// scratch buffers are not shared.
type decoder struct {
	interner *bgpfeed.Interner
	key      []byte
	segs     []bgpfeed.Segment
	asns     []uint32
	segs4    []bgpfeed.Segment
	asns4    []uint32
}

var (
	addPathOpt = &bgp.MarshallingOption{AddPath: map[bgp.RouteFamily]bgp.BGPAddPathMode{
		bgp.RF_IPv4_UC: bgp.BGP_ADD_PATH_RECEIVE,
		bgp.RF_IPv6_UC: bgp.BGP_ADD_PATH_RECEIVE,
		bgp.RF_IPv4_MC: bgp.BGP_ADD_PATH_RECEIVE,
		bgp.RF_IPv6_MC: bgp.BGP_ADD_PATH_RECEIVE,
	}}
)

// decodeBatch decodes every record of b into b.out.
func (d *decoder) decodeBatch(b *batch) {
	for i := range b.recs {
		d.decodeRecord(b, &b.recs[i])
	}
}

func (d *decoder) decodeRecord(b *batch, r *record) {
	defer func() {
		if v := recover(); v != nil {
			b.counts.skip(b.file, r.off, SkipDecoderPanic, fmt.Errorf("%v at %s", v, panicSite()))
		}
	}()
	b.counts.records++
	var err error
	kind := ""
	switch r.hdr.typ {
	case typeBGP4MP, typeBGP4MPET:
		kind, err = d.bgp4mp(b, r)
	case typeTableDumpV2:
		kind, err = d.tableDumpV2(b, r)
	case typeTableDump:
		kind, err = d.tableDump(b, r)
	default:
		kind, err = SkipUnsupportedType, fmt.Errorf("type %d subtype %d", r.hdr.typ, r.hdr.subtype)
	}
	if err != nil {
		b.counts.skip(b.file, r.off, kind, err)
	}
}

func (d *decoder) bgp4mp(b *batch, r *record) (string, error) {
	format := bgpfeed.FormatBGP4MP
	if r.hdr.typ == typeBGP4MPET {
		format = bgpfeed.FormatBGP4MPET
	}
	as4, local, addPath, state := false, false, false, false
	switch r.hdr.subtype {
	case bgp4mpStateChange:
		state = true
	case bgp4mpStateChangeAS4:
		state, as4 = true, true
	case bgp4mpMessage:
	case bgp4mpMessageAS4:
		as4 = true
	case bgp4mpMessageLocal:
		local = true
	case bgp4mpMessageAS4Local:
		as4, local = true, true
	case bgp4mpMessageAddPath:
		addPath = true
	case bgp4mpMessageAS4AddPath:
		as4, addPath = true, true
	case bgp4mpMessageLocalAddPath:
		local, addPath = true, true
	case bgp4mpMessageAS4LocalAddPath:
		as4, local, addPath = true, true, true
	default:
		return SkipUnsupportedType, fmt.Errorf("BGP4MP subtype %d", r.hdr.subtype)
	}
	data := r.body
	var peerAS uint32
	if as4 {
		if len(data) < 12 {
			return SkipBGP4MPHeader, errors.New("short AS4 peer header")
		}
		peerAS = binary.BigEndian.Uint32(data)
		data = data[8:]
	} else {
		if len(data) < 8 {
			return SkipBGP4MPHeader, errors.New("short peer header")
		}
		peerAS = uint32(binary.BigEndian.Uint16(data))
		data = data[4:]
	}
	afi := binary.BigEndian.Uint16(data[2:4])
	data = data[4:]
	alen := 4
	switch afi {
	case bgp.AFI_IP:
	case bgp.AFI_IP6:
		alen = 16
	default:
		return SkipBGP4MPHeader, fmt.Errorf("address family %d", afi)
	}
	if len(data) < 2*alen {
		return SkipBGP4MPHeader, errors.New("short peer addresses")
	}
	peer, _ := netip.AddrFromSlice(data[:alen])
	data = data[2*alen:]
	base := bgpfeed.Update{
		Time:     r.hdr.time(),
		Source:   b.source,
		Format:   format,
		Local:    local,
		PeerAddr: peer,
		PeerASN:  peerAS,
	}
	if state {
		if len(data) < 4 {
			return SkipBGP4MPHeader, errors.New("short state change")
		}
		base.Kind = bgpfeed.KindState
		base.OldState = bgpfeed.SessionState(binary.BigEndian.Uint16(data))
		base.NewState = bgpfeed.SessionState(binary.BigEndian.Uint16(data[2:]))
		b.out = append(b.out, base)
		return "", nil
	}
	if len(data) < bgp.BGP_HEADER_LENGTH {
		return SkipBGPMessage, errors.New("short BGP message header")
	}
	mtype := data[18]
	if int(mtype) < len(b.counts.messages) {
		b.counts.messages[mtype]++
	}
	if mtype != bgp.BGP_MSG_UPDATE {
		return "", nil // OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH carry no routes
	}
	var opts []*bgp.MarshallingOption
	if addPath {
		opts = []*bgp.MarshallingOption{addPathOpt}
	}
	msg, err := bgp.ParseBGPMessage(data, opts...)
	if err != nil && !addPath {
		// Some speakers (BIRD's mrtdump among them) write ADD-PATH NLRI
		// under the plain MESSAGE subtypes. When the message only parses
		// with path identifiers, it has them.
		if m2, err2 := bgp.ParseBGPMessage(data, addPathOpt); err2 == nil {
			msg, err = m2, nil
			b.counts.addPathGuessed++
		}
	}
	if err != nil {
		var me *bgp.MessageError
		if msg == nil || !errors.As(err, &me) {
			return SkipBGPMessage, err
		}
		switch me.ErrorHandling {
		case bgp.ERROR_HANDLING_ATTRIBUTE_DISCARD:
			// GoBGP dropped the faulty optional attribute; the route stands.
			b.counts.skip(b.file, r.off, SkipAttributeDiscarded, err)
		case bgp.ERROR_HANDLING_TREAT_AS_WITHDRAW:
			// RFC 7606: the announced prefixes are withdrawn; a detector
			// must not learn a route the peer's neighbours would refuse.
			upd, ok := msg.Body.(*bgp.BGPUpdate)
			if !ok {
				return SkipBGPMessage, err
			}
			d.emitWithdrawAll(b, base, upd)
			return SkipAttribute, err
		default:
			return SkipBGPMessage, err
		}
	}
	upd, ok := msg.Body.(*bgp.BGPUpdate)
	if !ok {
		return SkipBGPMessage, errors.New("UPDATE without update body")
	}
	var rawASPath []byte
	if !as4 {
		rawASPath = findAttr(data[bgp.BGP_HEADER_LENGTH:], bgp.BGP_ATTR_TYPE_AS_PATH)
	}
	d.emitUpdate(b, base, upd.PathAttributes, upd.WithdrawnRoutes, upd.NLRI, !as4, rawASPath)
	return "", nil
}

// emitWithdrawAll turns every prefix of an UPDATE into a withdrawal.
func (d *decoder) emitWithdrawAll(b *batch, base bgpfeed.Update, upd *bgp.BGPUpdate) {
	for _, w := range upd.WithdrawnRoutes {
		d.emitPrefix(b, base, bgpfeed.KindWithdraw, nil, w)
	}
	for _, n := range upd.NLRI {
		d.emitPrefix(b, base, bgpfeed.KindWithdraw, nil, n)
	}
	for _, pa := range upd.PathAttributes {
		switch a := pa.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			for _, p := range a.Value {
				d.emitPrefix(b, base, bgpfeed.KindWithdraw, nil, p)
			}
		case *bgp.PathAttributeMpUnreachNLRI:
			for _, p := range a.Value {
				d.emitPrefix(b, base, bgpfeed.KindWithdraw, nil, p)
			}
		}
	}
}

// findAttr frames an UPDATE body (withdrawn routes, attributes) and returns
// the value of the first attribute of type t, or nil.
func findAttr(body []byte, t bgp.BGPAttrType) []byte {
	if len(body) < 2 {
		return nil
	}
	wl := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	if len(body) < wl+2 {
		return nil
	}
	body = body[wl:]
	al := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	if len(body) < al {
		return nil
	}
	return findAttrIn(body[:al], t)
}

// findAttrIn walks a path attribute list and returns the value of the first
// attribute of type t, or nil.
func findAttrIn(attrs []byte, t bgp.BGPAttrType) []byte {
	for len(attrs) >= 3 {
		flags, typ := attrs[0], bgp.BGPAttrType(attrs[1])
		var l, hl int
		if bgp.BGPAttrFlag(flags)&bgp.BGP_ATTR_FLAG_EXTENDED_LENGTH != 0 {
			if len(attrs) < 4 {
				return nil
			}
			l, hl = int(binary.BigEndian.Uint16(attrs[2:])), 4
		} else {
			l, hl = int(attrs[2]), 3
		}
		if len(attrs) < hl+l {
			return nil
		}
		if typ == t {
			return attrs[hl : hl+l]
		}
		attrs = attrs[hl+l:]
	}
	return nil
}

// emitUpdate appends one Update per withdrawn and announced prefix of a
// BGP UPDATE (or of the attribute list of a TABLE_DUMP entry, with no
// withdrawn routes and nlri built by the caller).
func (d *decoder) emitUpdate(b *batch, base bgpfeed.Update, pattrs []bgp.PathAttributeInterface,
	withdrawn, nlri []*bgp.IPAddrPrefix, as2 bool, rawASPath []byte) {
	for _, w := range withdrawn {
		d.emitPrefix(b, base, bgpfeed.KindWithdraw, nil, w)
	}
	var attrs *bgpfeed.Attrs
	var mpReach *bgp.PathAttributeMpReachNLRI
	for _, pa := range pattrs {
		switch a := pa.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			mpReach = a
		case *bgp.PathAttributeMpUnreachNLRI:
			for _, p := range a.Value {
				d.emitPrefix(b, base, bgpfeed.KindWithdraw, nil, p)
			}
		}
	}
	if len(nlri) == 0 && (mpReach == nil || len(mpReach.Value) == 0) {
		return
	}
	attrs = d.attrs(pattrs, as2, rawASPath)
	if len(nlri) > 0 {
		for _, p := range nlri {
			d.emitPrefix(b, base, bgpfeed.KindAnnounce, attrs, p)
		}
	}
	if mpReach != nil && len(mpReach.Value) > 0 {
		mpAttrs := attrs
		if nh, ok := netip.AddrFromSlice(mpReach.Nexthop); ok && len(mpReach.Nexthop) > 0 {
			nh = nh.Unmap()
			if nh != attrs.NextHop {
				c := *attrs
				c.NextHop = nh
				mpAttrs = &c
			}
		}
		for _, p := range mpReach.Value {
			d.emitPrefix(b, base, bgpfeed.KindAnnounce, mpAttrs, p)
		}
	}
}

// emitPrefix appends one Update for an IPv4 or IPv6 unicast prefix; other
// address families are counted and left out.
func (d *decoder) emitPrefix(b *batch, base bgpfeed.Update, kind bgpfeed.Kind, attrs *bgpfeed.Attrs, p bgp.AddrPrefixInterface) {
	var ip net.IP
	var plen uint8
	switch n := p.(type) {
	case *bgp.IPAddrPrefix:
		if n.SAFI() != bgp.SAFI_UNICAST {
			b.counts.nonUni++
			return
		}
		ip, plen = n.Prefix, n.Length
	case *bgp.IPv6AddrPrefix:
		if n.SAFI() != bgp.SAFI_UNICAST {
			b.counts.nonUni++
			return
		}
		ip, plen = n.Prefix, n.Length
	default:
		b.counts.nonUni++
		return
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		b.counts.nonUni++
		return
	}
	if p.AFI() == bgp.AFI_IP {
		addr = addr.Unmap()
	}
	u := base
	u.Kind = kind
	u.Attrs = attrs
	u.Prefix = netip.PrefixFrom(addr, int(plen))
	u.PathID = p.PathIdentifier()
	b.out = append(b.out, u)
}

// attrs converts GoBGP's path attributes. as2 marks a 2-byte-AS session
// (BGP4MP without AS4, TABLE_DUMP v1): its AS_PATH is decoded from rawASPath
// as 2-byte segments and merged with AS4_PATH (RFC 6793 section 4.2.3).
func (d *decoder) attrs(pattrs []bgp.PathAttributeInterface, as2 bool, rawASPath []byte) *bgpfeed.Attrs {
	a := &bgpfeed.Attrs{}
	d.segs, d.asns = d.segs[:0], d.asns[:0]
	d.segs4, d.asns4 = d.segs4[:0], d.asns4[:0]
	haveAS4 := false
	var agg4 *bgp.PathAttributeAs4Aggregator
	for _, pa := range pattrs {
		switch v := pa.(type) {
		case *bgp.PathAttributeOrigin:
			a.OriginType = bgpfeed.OriginType(v.Value)
		case *bgp.PathAttributeAsPath:
			if as2 {
				continue // decoded from the raw bytes below
			}
			for _, s := range v.Value {
				d.segs, d.asns = appendSeg(d.segs, d.asns, s.GetType(), s.GetAS())
			}
		case *bgp.PathAttributeAs4Path:
			if !as2 {
				continue // only meaningful on 2-byte sessions
			}
			haveAS4 = true
			for _, s := range v.Value {
				d.segs4, d.asns4 = appendSeg(d.segs4, d.asns4, s.Type, s.AS)
			}
		case *bgp.PathAttributeNextHop:
			if nh, ok := netip.AddrFromSlice(v.Value); ok {
				a.NextHop = nh.Unmap()
			}
		case *bgp.PathAttributeMultiExitDisc:
			a.MED, a.HasMED = v.Value, true
		case *bgp.PathAttributeLocalPref:
			a.LocalPref, a.HasLocalPref = v.Value, true
		case *bgp.PathAttributeAtomicAggregate:
			a.AtomicAggregate = true
		case *bgp.PathAttributeAggregator:
			a.AggregatorASN = v.Value.AS
			if ad, ok := netip.AddrFromSlice(v.Value.Address); ok {
				a.AggregatorAddr = ad.Unmap()
			}
		case *bgp.PathAttributeAs4Aggregator:
			agg4 = v
		case *bgp.PathAttributeCommunities:
			a.Communities = v.Value
		case *bgp.PathAttributeLargeCommunities:
			a.LargeCommunities = make([]bgpfeed.LargeCommunity, len(v.Values))
			for i, c := range v.Values {
				a.LargeCommunities[i] = bgpfeed.LargeCommunity{Global: c.ASN, Local1: c.LocalData1, Local2: c.LocalData2}
			}
		}
	}
	if as2 && rawASPath != nil {
		d.segs, d.asns = decodeAS2Path(d.segs, d.asns, rawASPath)
		if haveAS4 {
			d.segs = mergeAS4(d.segs, d.segs4)
		}
	}
	if as2 && agg4 != nil && a.AggregatorASN == asTrans {
		a.AggregatorASN = agg4.Value.AS
		if ad, ok := netip.AddrFromSlice(agg4.Value.Address); ok {
			a.AggregatorAddr = ad.Unmap()
		}
	}
	d.key = bgpfeed.AppendKey(d.key[:0], d.segs)
	a.Path = d.interner.Intern(d.key, d.segs)
	return a
}

// appendSeg appends a segment whose ASNs are appended to the scratch
// buffer asns. Earlier segments keep pointing at the old backing array when
// asns grows, which stays valid: the Interner copies segments it keeps.
func appendSeg(segs []bgpfeed.Segment, asns []uint32, typ uint8, as []uint32) ([]bgpfeed.Segment, []uint32) {
	start := len(asns)
	asns = append(asns, as...)
	return append(segs, bgpfeed.Segment{Type: bgpfeed.SegmentType(typ), ASNs: asns[start:len(asns):len(asns)]}), asns
}

// decodeAS2Path decodes a 2-byte AS_PATH value with GoBGP's AsPathParam,
// segment by segment. A malformed tail is dropped (the message is already
// validated by GoBGP's own decode).
func decodeAS2Path(segs []bgpfeed.Segment, asns []uint32, v []byte) ([]bgpfeed.Segment, []uint32) {
	for len(v) >= 2 {
		p := &bgp.AsPathParam{}
		if err := p.DecodeFromBytes(v); err != nil {
			break
		}
		segs, asns = appendSeg(segs, asns, p.Type, p.GetAS())
		v = v[p.Len():]
	}
	return segs, asns
}

// mergeAS4 reconstructs the path of a 2-byte session (RFC 6793 4.2.3):
// when AS_PATH has at least as many ASes as AS4_PATH, the result is the
// leading ASes of AS_PATH followed by AS4_PATH; otherwise AS4_PATH is
// ignored. An AS_SET counts one, confederation segments none.
func mergeAS4(path, as4 []bgpfeed.Segment) []bgpfeed.Segment {
	n, n4 := segCount(path), segCount(as4)
	if n4 == 0 || n < n4 {
		return path
	}
	keep := n - n4
	var out []bgpfeed.Segment
	for _, s := range path {
		if keep == 0 {
			break
		}
		switch s.Type {
		case bgpfeed.SegSequence:
			if len(s.ASNs) <= keep {
				out = append(out, s)
				keep -= len(s.ASNs)
			} else {
				out = append(out, bgpfeed.Segment{Type: s.Type, ASNs: s.ASNs[:keep:keep]})
				keep = 0
			}
		case bgpfeed.SegSet:
			out = append(out, s)
			keep--
		default:
			out = append(out, s)
		}
	}
	// Join a trailing sequence of the kept part with a leading sequence of
	// AS4_PATH, so the merged path has the segments a 4-byte session would
	// have sent.
	if len(out) > 0 && len(as4) > 0 && out[len(out)-1].Type == bgpfeed.SegSequence && as4[0].Type == bgpfeed.SegSequence {
		last := out[len(out)-1]
		joined := make([]uint32, 0, len(last.ASNs)+len(as4[0].ASNs))
		joined = append(append(joined, last.ASNs...), as4[0].ASNs...)
		out[len(out)-1] = bgpfeed.Segment{Type: bgpfeed.SegSequence, ASNs: joined}
		return append(out, as4[1:]...)
	}
	return append(out, as4...)
}

func segCount(segs []bgpfeed.Segment) int {
	n := 0
	for _, s := range segs {
		switch s.Type {
		case bgpfeed.SegSequence:
			n += len(s.ASNs)
		case bgpfeed.SegSet:
			n++
		}
	}
	return n
}
