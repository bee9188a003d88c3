package bogon

import (
	"net/netip"

	"github.com/bgpsentry/bgpsentry/features/ptrie"
)

// prefixEntry is one block of the prefix table. bogon false marks a
// globally reachable block inside a larger bogon block (an exception).
type prefixEntry struct {
	prefix string
	reason string
	bogon  bool
}

// prefixTable lists the blocks, each with its registry name and RFC. The
// most specific entry covering a prefix decides.
var prefixTable = []prefixEntry{
	// IPv4: IANA IPv4 Special-Purpose Address Registry (RFC 6890) plus
	// multicast and class E.
	{"0.0.0.0/8", "\"this network\" (RFC 791 section 3.2, RFC 1122)", true},
	{"10.0.0.0/8", "private-use (RFC 1918)", true},
	{"100.64.0.0/10", "shared address space / CGN (RFC 6598)", true},
	{"127.0.0.0/8", "loopback (RFC 1122 section 3.2.1.3)", true},
	{"169.254.0.0/16", "link local (RFC 3927)", true},
	{"172.16.0.0/12", "private-use (RFC 1918)", true},
	{"192.0.0.0/24", "IETF protocol assignments (RFC 6890 section 2.1)", true},
	{"192.0.0.9/32", "PCP anycast, globally reachable (RFC 7723)", false},
	{"192.0.0.10/32", "TURN anycast, globally reachable (RFC 8155)", false},
	{"192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)", true},
	{"192.88.99.0/24", "6to4 relay anycast, deprecated (RFC 7526)", true},
	{"192.168.0.0/16", "private-use (RFC 1918)", true},
	{"198.18.0.0/15", "benchmarking (RFC 2544)", true},
	{"198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)", true},
	{"203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)", true},
	{"224.0.0.0/4", "multicast (RFC 5771)", true},
	{"240.0.0.0/4", "reserved for future use (RFC 1112 section 4)", true},
	{"255.255.255.255/32", "limited broadcast (RFC 919 section 7, RFC 8190)", true},

	// IPv6: everything outside 2000::/3, then the IANA IPv6
	// Special-Purpose Address Registry (RFC 6890) for the rest.
	{"::/3", "outside global unicast 2000::/3 (RFC 4291 section 2.4)", true},
	{"4000::/2", "outside global unicast 2000::/3 (RFC 4291 section 2.4)", true},
	{"8000::/1", "outside global unicast 2000::/3 (RFC 4291 section 2.4)", true},
	{"::/128", "unspecified address (RFC 4291)", true},
	{"::1/128", "loopback (RFC 4291)", true},
	{"::ffff:0:0/96", "IPv4-mapped addresses (RFC 4291)", true},
	{"64:ff9b::/96", "IPv4/IPv6 translation well-known prefix (RFC 6052)", true},
	{"64:ff9b:1::/48", "IPv4/IPv6 translation local-use prefix (RFC 8215)", true},
	{"100::/64", "discard-only (RFC 6666)", true},
	{"2001:2::/48", "benchmarking (RFC 5180)", true},
	{"2001:10::/28", "ORCHID, deprecated (RFC 4843)", true},
	{"2001:db8::/32", "documentation (RFC 3849)", true},
	{"2002::/16", "6to4 (RFC 3056; relay anycast deprecated by RFC 7526)", true},
	{"3ffe::/16", "former 6bone (RFC 3701)", true},
	{"3fff::/20", "documentation (RFC 9637)", true},
	{"5f00::/16", "SRv6 SIDs (RFC 9602)", true},
	{"fc00::/7", "unique local (RFC 4193)", true},
	{"fe80::/10", "link-local unicast (RFC 4291)", true},
	{"fec0::/10", "site-local, deprecated (RFC 3879)", true},
	{"ff00::/8", "multicast (RFC 4291)", true},
}

type verdict struct {
	reason string
	bogon  bool
}

var prefixes = func() *ptrie.Trie[verdict] {
	var t ptrie.Trie[verdict]
	for _, e := range prefixTable {
		if err := t.Insert(netip.MustParsePrefix(e.prefix), verdict{e.reason, e.bogon}); err != nil {
			panic(err)
		}
	}
	return &t
}()

// Prefix reports whether p lies in bogon space (p equals or is more specific
// than a bogon block) and why; a default route (0.0.0.0/0, ::/0) is a bogon
// too. An invalid prefix is a bogon with reason "invalid prefix". A prefix
// that merely covers bogon space, such as 192.0.0.0/2, is not.
func Prefix(p netip.Prefix) (bool, string) {
	if !p.IsValid() {
		return true, "invalid prefix"
	}
	if p.Bits() == 0 {
		return true, "default route"
	}
	if _, v, ok := prefixes.LongestMatch(p); ok && v.bogon {
		return true, v.reason
	}
	return false, ""
}

// asnRange is an inclusive range of reserved AS numbers.
type asnRange struct {
	lo, hi uint32
	reason string
}

var asnTable = []asnRange{
	{0, 0, "AS0 reserved (RFC 7607)"},
	{23456, 23456, "AS_TRANS (RFC 6793)"},
	{64496, 64511, "documentation (RFC 5398)"},
	{64512, 65534, "private use (RFC 6996)"},
	{65535, 65535, "last 16-bit ASN, reserved (RFC 7300)"},
	{65536, 65551, "documentation (RFC 5398)"},
	{65552, 131071, "reserved by IANA (RFC 6793 registry)"},
	{4200000000, 4294967294, "private use (RFC 6996)"},
	{4294967295, 4294967295, "last 32-bit ASN, reserved (RFC 7300)"},
}

// ASN reports whether a is a reserved AS number that must not appear in a
// global AS path, and why. ASNs that are unallocated on some date are not
// covered.
func ASN(a uint32) (bool, string) {
	for _, r := range asnTable {
		if a < r.lo {
			break // asnTable is sorted
		}
		if a <= r.hi {
			return true, r.reason
		}
	}
	return false, ""
}

// Path counts the distinct bogon ASNs of an AS path (prepending does not
// count twice) and returns the index of the first one, or -1.
func Path(path []uint32) (count, first int) {
	first = -1
	for i, a := range path {
		if ok, _ := ASN(a); !ok {
			continue
		}
		if first < 0 {
			first = i
		}
		seen := false
		for _, b := range path[:i] {
			if b == a {
				seen = true
				break
			}
		}
		if !seen {
			count++
		}
	}
	return count, first
}
