package mrt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	gmrt "github.com/osrg/gobgp/v3/pkg/packet/mrt"
)

// tableDumpV2 decodes a RIB record of TABLE_DUMP_V2 with GoBGP's mrt
// package; the PEER_INDEX_TABLE was decoded by the framer (b.peers).
func (d *decoder) tableDumpV2(b *batch, r *record) (string, error) {
	switch r.hdr.subtype {
	case tdv2PeerIndexTable, tdv2GeoPeerTable:
		return "", nil // handled by the framer / not routes
	case tdv2RIBIPv4Unicast, tdv2RIBIPv6Unicast, tdv2RIBIPv4UnicastAddPath, tdv2RIBIPv6UnicastAddPath,
		tdv2RIBGeneric, tdv2RIBGenericAddPath:
	case tdv2RIBIPv4Multicast, tdv2RIBIPv6Multicast, tdv2RIBIPv4MulticastAddPath, tdv2RIBIPv6MulticastAddPath:
		b.counts.nonUni++
		return "", nil
	default:
		return SkipUnsupportedType, fmt.Errorf("TABLE_DUMP_V2 subtype %d", r.hdr.subtype)
	}
	if b.peers == nil {
		return SkipPeerIndex, errors.New("RIB record before any PEER_INDEX_TABLE")
	}
	if err := frameRIB(r.body, r.hdr.subtype); err != nil {
		return SkipRIB, err
	}
	h := gmrt.MRTHeader{Timestamp: r.hdr.sec, Type: gmrt.MRTType(r.hdr.typ), SubType: r.hdr.subtype, Len: uint32(len(r.body))}
	m, err := gmrt.ParseMRTBody(&h, r.body)
	if err != nil {
		return SkipRIB, err
	}
	rib, ok := m.Body.(*gmrt.Rib)
	if !ok {
		return SkipRIB, errors.New("not a RIB body")
	}
	for _, e := range rib.Entries {
		if int(e.PeerIndex) >= len(b.peers.peers) {
			b.counts.skip(b.file, r.off, SkipPeerIndex, fmt.Errorf("peer index %d of %d", e.PeerIndex, len(b.peers.peers)))
			continue
		}
		pe := b.peers.peers[e.PeerIndex]
		base := bgpfeed.Update{
			Time:     r.hdr.time(),
			Source:   b.source,
			Format:   bgpfeed.FormatTableDumpV2,
			Table:    true,
			PeerAddr: pe.addr,
			PeerASN:  pe.asn,
		}
		attrs := d.attrs(e.PathAttributes, false, nil)
		// The entry's prefix is the record's; a next hop from the
		// abbreviated MP_REACH_NLRI (RFC 6396 4.3.4) overrides NEXT_HOP.
		for _, pa := range e.PathAttributes {
			if mp, ok := pa.(*bgp.PathAttributeMpReachNLRI); ok {
				if nh, ok := netip.AddrFromSlice(mp.Nexthop); ok && len(mp.Nexthop) > 0 {
					c := *attrs
					c.NextHop = nh.Unmap()
					attrs = &c
				}
			}
		}
		rib.Prefix.SetPathIdentifier(e.PathIdentifier)
		d.emitPrefix(b, base, bgpfeed.KindAnnounce, attrs, rib.Prefix)
	}
	return "", nil
}

// tableDump decodes a TABLE_DUMP (v1) record: one RIB entry of a 2-byte-AS
// peer. The framing is RFC 6396 4.2; attributes are GoBGP's.
func (d *decoder) tableDump(b *batch, r *record) (string, error) {
	alen := 4
	switch r.hdr.subtype {
	case 1: // AFI_IPv4
	case 2: // AFI_IPv6
		alen = 16
	default:
		return SkipUnsupportedType, fmt.Errorf("TABLE_DUMP subtype %d", r.hdr.subtype)
	}
	data := r.body
	need := 4 + alen + 2 + 4 + alen + 2 + 2
	if len(data) < need {
		return SkipRIB, errors.New("short TABLE_DUMP entry")
	}
	pfx, _ := netip.AddrFromSlice(data[4 : 4+alen])
	plen := int(data[4+alen])
	data = data[4+alen+2:]
	data = data[4:] // originated time
	peer, _ := netip.AddrFromSlice(data[:alen])
	data = data[alen:]
	peerAS := uint32(binary.BigEndian.Uint16(data))
	attrLen := int(binary.BigEndian.Uint16(data[2:]))
	data = data[4:]
	if len(data) < attrLen {
		return SkipRIB, errors.New("attribute length exceeds record")
	}
	prefix := netip.PrefixFrom(pfx, plen)
	if !prefix.IsValid() {
		return SkipRIB, fmt.Errorf("prefix length %d", plen)
	}
	raw := data[:attrLen]
	if err := frameAttrs(raw); err != nil {
		return SkipRIB, err
	}
	pattrs, err := parseAttrs(raw, prefix)
	if err != nil {
		return SkipAttribute, err
	}
	base := bgpfeed.Update{
		Time:     r.hdr.time(),
		Source:   b.source,
		Format:   bgpfeed.FormatTableDump,
		Kind:     bgpfeed.KindAnnounce,
		Table:    true,
		PeerAddr: peer,
		PeerASN:  peerAS,
		Prefix:   prefix.Masked(),
	}
	base.Attrs = d.attrs(pattrs, true, findAttrIn(raw, bgp.BGP_ATTR_TYPE_AS_PATH))
	b.out = append(b.out, base)
	return "", nil
}

// parseAttrs decodes a path attribute list with GoBGP, one attribute at a
// time (for records that carry attributes outside a BGP message).
func parseAttrs(data []byte, implicit netip.Prefix) ([]bgp.PathAttributeInterface, error) {
	var out []bgp.PathAttributeInterface
	var opt *bgp.MarshallingOption
	if implicit.Addr().Is6() {
		opt = &bgp.MarshallingOption{ImplicitPrefix: bgp.NewIPv6AddrPrefix(uint8(implicit.Bits()), implicit.Addr().String())}
	}
	for len(data) > 0 {
		p, err := bgp.GetPathAttribute(data)
		if err != nil {
			return nil, err
		}
		if err := p.DecodeFromBytes(data, opt); err != nil {
			return nil, err
		}
		if p.Len() > len(data) {
			return nil, errors.New("attribute length exceeds list")
		}
		data = data[p.Len():]
		out = append(out, p)
	}
	return out, nil
}

// frameRIB checks the framing of a TABLE_DUMP_V2 RIB record (RFC 6396
// 4.3.2, RFC 8050) before GoBGP decodes it: GoBGP's Rib decoder slices
// without bounds checks and panics on a short record.
func frameRIB(b []byte, subtype uint16) error {
	addPath := subtype >= tdv2RIBIPv4UnicastAddPath && subtype <= tdv2RIBGenericAddPath
	if len(b) < 4 {
		return errors.New("short RIB header")
	}
	b = b[4:] // sequence number
	if subtype == tdv2RIBGeneric || subtype == tdv2RIBGenericAddPath {
		if len(b) < 3 {
			return errors.New("short RIB_GENERIC AFI/SAFI")
		}
		b = b[3:]
	}
	if len(b) < 1 {
		return errors.New("missing prefix length")
	}
	plen := int(b[0])
	if plen > 128 {
		return fmt.Errorf("prefix length %d", plen)
	}
	n := 1 + (plen+7)/8
	if len(b) < n+2 {
		return errors.New("short prefix or entry count")
	}
	b = b[n:]
	count := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	fixed := 8
	if addPath {
		fixed = 12
	}
	for i := 0; i < count; i++ {
		if len(b) < fixed {
			return fmt.Errorf("entry %d of %d: short entry header", i, count)
		}
		al := int(binary.BigEndian.Uint16(b[fixed-2:]))
		b = b[fixed:]
		if len(b) < al {
			return fmt.Errorf("entry %d of %d: attribute length %d exceeds record", i, count, al)
		}
		if err := frameAttrs(b[:al]); err != nil {
			return fmt.Errorf("entry %d of %d: %w", i, count, err)
		}
		b = b[al:]
	}
	return nil
}

// frameAttrs checks that a path attribute list consists of whole
// attributes.
func frameAttrs(b []byte) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return errors.New("short attribute header")
		}
		l, hl := int(b[2]), 3
		if b[0]&0x10 != 0 {
			if len(b) < 4 {
				return errors.New("short extended attribute header")
			}
			l, hl = int(binary.BigEndian.Uint16(b[2:])), 4
		}
		if len(b) < hl+l {
			return fmt.Errorf("attribute type %d: length %d exceeds list", b[1], l)
		}
		b = b[hl+l:]
	}
	return nil
}
