// Package rpki loads Validated ROA Payloads (VRPs) and performs BGP route
// origin validation (RFC 6811), and loads lists of ASNs measured to deploy
// ROV.
//
// VRPs come from the JSON that rpki-client (-j) and Routinator
// (--format json) write, and that StayRTR and GoRTR read:
//
//	{"roas": [{"prefix": "1.1.1.0/24", "maxLength": 24, "asn": "AS13335", "ta": "apnic"}]}
//
// "asn" is a number, "13335" or "AS13335"; a missing maxLength means the
// prefix length; other top-level keys (metadata, bgpsec_keys, aspas, ...)
// and other VRP fields (expires, source) are ignored. Input may be gzip
// compressed. Malformed input fails with a *ParseError naming the file and
// line.
//
// Validate follows RFC 6811 section 2: a route is NotFound when no VRP
// covers its prefix, Valid when a covering VRP has its origin AS and a
// maxLength at least its length, and Invalid otherwise. Invalid is split
// into InvalidLength (a covering VRP has the origin AS but too short a
// maxLength) and InvalidASN (none has the origin AS). A VRP for AS0 (RFC
// 6483 section 4) covers without ever matching, so it makes every route it
// covers Invalid unless another VRP makes it Valid; a route whose origin is
// unknown (0: an AS_SET at the end of the path) is never Valid.
//
// A Table is immutable once loaded and safe for concurrent use.
package rpki
