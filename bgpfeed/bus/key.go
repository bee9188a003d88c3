package bus

import "net/netip"

// Lengths of the covering aggregate that keys a prefix: IPv4 prefixes are
// keyed by their first 8 bits, IPv6 prefixes by their first 16.
const (
	AggregateBits4 = 8
	AggregateBits6 = 16
)

// Aggregate returns the covering aggregate of p: the /8 (IPv4) or /16
// (IPv6) that holds it. A prefix and all its more-specifics share one
// aggregate, except a prefix shorter than the aggregate itself (an IPv4
// /7 or shorter, an IPv6 /15 or shorter), which gets the aggregate of its
// first address: its more-specifics may lie in other aggregates. Such
// prefixes are not seen in the global table. An IPv4-mapped IPv6 prefix is
// an IPv6 prefix. The zero Prefix (a state change has none) gives the zero
// Prefix.
func Aggregate(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return netip.Prefix{}
	}
	bits := AggregateBits6
	if p.Addr().Is4() {
		bits = AggregateBits4
	}
	agg, _ := p.Addr().Prefix(bits) // cannot fail: bits fits the family
	return agg
}

// Key is the partition key of an Update for prefix p: the text of p's
// covering aggregate ("193.0.0.0/8", "2001::/16"), so that one key, hence
// one partition, holds a prefix and its more-specifics in order. It is nil
// for the zero Prefix.
func Key(p netip.Prefix) []byte {
	if !p.IsValid() {
		return nil
	}
	return AppendKey(make([]byte, 0, 24), p)
}

// AppendKey appends Key(p) to dst.
func AppendKey(dst []byte, p netip.Prefix) []byte {
	if !p.IsValid() {
		return dst
	}
	return Aggregate(p).AppendTo(dst)
}
