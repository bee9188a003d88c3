// Package bogon recognises address space and AS numbers that must never
// appear in the global routing table.
//
// Prefixes: the IANA IPv4 and IPv6 Special-Purpose Address Registries
// (RFC 6890 and the RFCs that add to them), multicast, the reserved class E
// block, and for IPv6 everything outside 2000::/3, the only block IANA
// allocates global unicast space from (RFC 4291 section 2.4; IANA "Internet
// Protocol Version 6 Address Space"). Each entry names its RFC. Blocks of
// the special-purpose registries that are globally reachable and legitimately
// announced (AS112 192.31.196.0/24 and 192.175.48.0/24, AMT
// 192.52.193.0/24, the PCP/TURN anycast /32s, TEREDO 2001::/32, ORCHIDv2
// 2001:20::/28) are not bogons. The list is static: space that is merely
// unallocated by the RIRs on some date ("full bogons") changes daily and is
// not covered.
//
// ASNs: AS 0 (RFC 7607), AS_TRANS 23456 (RFC 6793), the documentation
// ranges 64496-64511 and 65536-65551 (RFC 5398), the private ranges
// 64512-65534 and 4200000000-4294967294 (RFC 6996), the last ASNs 65535 and
// 4294967295 (RFC 7300), and the IANA-reserved 65552-131071.
//
// The tables are read-only; every function is safe for concurrent use.
package bogon
