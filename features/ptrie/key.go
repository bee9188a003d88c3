package ptrie

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// key is the bit string of a prefix, most significant bit first. Keys in
// the trie are always masked to their node's length.
type key[K any] interface {
	comparable
	// bit returns bit i (0 is the most significant); i is below the key
	// width.
	bit(i uint8) uint32
	// common returns how many leading bits k and o share (the key width
	// when they are equal).
	common(o K) uint8
	// mask clears every bit from position n on.
	mask(n uint8) K
	// prefix turns the first n bits back into a netip.Prefix.
	prefix(n uint8) netip.Prefix
}

// k32 is an IPv4 key.
type k32 uint32

func (k k32) bit(i uint8) uint32 { return uint32(k>>(31-i)) & 1 }

func (k k32) common(o k32) uint8 { return uint8(bits.LeadingZeros32(uint32(k ^ o))) }

// mask relies on Go's shift semantics: a shift by the full width gives 0.
func (k k32) mask(n uint8) k32 { return k & (^k32(0) << (32 - n)) }

func (k k32) prefix(n uint8) netip.Prefix {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(k))
	return netip.PrefixFrom(netip.AddrFrom4(a), int(n))
}

// k128 is an IPv6 key.
type k128 struct{ hi, lo uint64 }

func (k k128) bit(i uint8) uint32 {
	if i < 64 {
		return uint32(k.hi>>(63-i)) & 1
	}
	return uint32(k.lo>>(127-i)) & 1
}

func (k k128) common(o k128) uint8 {
	if d := k.hi ^ o.hi; d != 0 {
		return uint8(bits.LeadingZeros64(d))
	}
	return 64 + uint8(bits.LeadingZeros64(k.lo^o.lo))
}

func (k k128) mask(n uint8) k128 {
	if n <= 64 {
		return k128{hi: k.hi & (^uint64(0) << (64 - n))}
	}
	return k128{hi: k.hi, lo: k.lo & (^uint64(0) << (128 - n))}
}

func (k k128) prefix(n uint8) netip.Prefix {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], k.hi)
	binary.BigEndian.PutUint64(a[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(a), int(n))
}

func key4(a netip.Addr) k32 {
	b := a.As4()
	return k32(binary.BigEndian.Uint32(b[:]))
}

func key6(a netip.Addr) k128 {
	b := a.As16()
	return k128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}
