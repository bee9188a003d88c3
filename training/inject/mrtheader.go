package inject

import (
	"bufio"
	"encoding/binary"
	"io"
	"net/netip"
)

// MRT types and BGP4MP subtypes (RFC 6396, RFC 8050) whose records start
// with the BGP4MP peer header.
const (
	mrtBGP4MP   = 16
	mrtBGP4MPET = 17
)

// bgp4mpAS4 reports, for a BGP4MP subtype with a peer header, whether its
// AS numbers are 4 bytes; ok is false for other subtypes.
func bgp4mpAS4(subtype uint16) (as4, ok bool) {
	switch subtype {
	case 0, 1, 6, 8, 10: // STATE_CHANGE, MESSAGE, MESSAGE_LOCAL, *_ADDPATH
		return false, true
	case 4, 5, 7, 9, 11: // the AS4 variants
		return true, true
	}
	return false, false
}

// scanSessions frames the MRT records of a decompressed stream and counts,
// per session (peer address and ASN), the collector's side of it: local
// ASN, local address and interface index. It stops quietly at the first
// framing problem (the decoding reader reports those).
func scanSessions(r io.Reader) map[sessionKey]map[localInfo]int {
	out := map[sessionKey]map[localInfo]int{}
	br := bufio.NewReaderSize(r, 256<<10)
	var hdr [12]byte
	body := make([]byte, 0, 64)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return out
		}
		typ := binary.BigEndian.Uint16(hdr[4:6])
		sub := binary.BigEndian.Uint16(hdr[6:8])
		n := int(binary.BigEndian.Uint32(hdr[8:12]))
		as4, ok := bgp4mpAS4(sub)
		if (typ != mrtBGP4MP && typ != mrtBGP4MPET) || !ok {
			if _, err := br.Discard(n); err != nil {
				return out
			}
			continue
		}
		// Enough of the body for the longest peer header: ET
		// microseconds, 2x4 ASNs, ifindex, AFI, 2x16 addresses.
		want := min(n, 4+8+4+32)
		body = body[:want]
		if _, err := io.ReadFull(br, body); err != nil {
			return out
		}
		if _, err := br.Discard(n - want); err != nil {
			return out
		}
		b := body
		if typ == mrtBGP4MPET {
			if len(b) < 4 {
				continue
			}
			b = b[4:]
		}
		var peerASN, localASN uint32
		if as4 {
			if len(b) < 12 {
				continue
			}
			peerASN, localASN = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
			b = b[8:]
		} else {
			if len(b) < 8 {
				continue
			}
			peerASN, localASN = uint32(binary.BigEndian.Uint16(b)), uint32(binary.BigEndian.Uint16(b[2:]))
			b = b[4:]
		}
		ifIndex := binary.BigEndian.Uint16(b)
		afi := binary.BigEndian.Uint16(b[2:])
		b = b[4:]
		var peer, local netip.Addr
		switch afi {
		case 1:
			if len(b) < 8 {
				continue
			}
			peer, local = netip.AddrFrom4([4]byte(b[:4])), netip.AddrFrom4([4]byte(b[4:8]))
		case 2:
			if len(b) < 32 {
				continue
			}
			peer, local = netip.AddrFrom16([16]byte(b[:16])), netip.AddrFrom16([16]byte(b[16:32]))
		default:
			continue
		}
		k := sessionKey{peer, peerASN}
		if out[k] == nil {
			out[k] = map[localInfo]int{}
		}
		out[k][localInfo{localASN, local, ifIndex}]++
	}
}
