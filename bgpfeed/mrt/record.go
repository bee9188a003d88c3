package mrt

import (
	"encoding/binary"
	"time"
)

// MRT types and subtypes this package decodes (RFC 6396, RFC 8050).
const (
	typeTableDump   = 12
	typeTableDumpV2 = 13
	typeBGP4MP      = 16
	typeBGP4MPET    = 17

	// TABLE_DUMP_V2 subtypes.
	tdv2PeerIndexTable          = 1
	tdv2RIBIPv4Unicast          = 2
	tdv2RIBIPv4Multicast        = 3
	tdv2RIBIPv6Unicast          = 4
	tdv2RIBIPv6Multicast        = 5
	tdv2RIBGeneric              = 6
	tdv2GeoPeerTable            = 7
	tdv2RIBIPv4UnicastAddPath   = 8
	tdv2RIBIPv4MulticastAddPath = 9
	tdv2RIBIPv6UnicastAddPath   = 10
	tdv2RIBIPv6MulticastAddPath = 11
	tdv2RIBGenericAddPath       = 12

	// BGP4MP subtypes.
	bgp4mpStateChange            = 0
	bgp4mpMessage                = 1
	bgp4mpMessageAS4             = 4
	bgp4mpStateChangeAS4         = 5
	bgp4mpMessageLocal           = 6
	bgp4mpMessageAS4Local        = 7
	bgp4mpMessageAddPath         = 8
	bgp4mpMessageAS4AddPath      = 9
	bgp4mpMessageLocalAddPath    = 10
	bgp4mpMessageAS4LocalAddPath = 11

	headerLen = 12
	// maxRecordLen bounds one record. The largest real records (RIB
	// entries of a prefix seen by hundreds of peers) are a few hundred KiB;
	// a larger length means a corrupt header.
	maxRecordLen = 16 << 20
)

// header is an MRT common header; for the _ET types the microseconds field
// has been taken out of the body.
type header struct {
	sec     uint32
	usec    uint32
	typ     uint16
	subtype uint16
	length  uint32 // body length, without the ET microseconds
}

func parseHeader(b []byte) header {
	return header{
		sec:     binary.BigEndian.Uint32(b[0:4]),
		typ:     binary.BigEndian.Uint16(b[4:6]),
		subtype: binary.BigEndian.Uint16(b[6:8]),
		length:  binary.BigEndian.Uint32(b[8:12]),
	}
}

func (h header) time() time.Time {
	return time.Unix(int64(h.sec), int64(h.usec)*1000).UTC()
}

// known reports whether the header's type is one an MRT archive may hold;
// it is how a file is recognised as MRT.
func (h header) known() bool {
	switch h.typ {
	case 11, typeTableDump, typeTableDumpV2, typeBGP4MP, typeBGP4MPET, 32, 33, 48, 49:
		return h.length <= maxRecordLen
	}
	return false
}

// record is one framed MRT record inside a batch buffer.
type record struct {
	off  int64 // offset of the header in the decompressed stream
	hdr  header
	body []byte
}
