// Package asorg maps AS numbers to the organisations that hold them, from
// CAIDA's AS-to-Organization dataset, to tell sibling ASes (two ASNs of one
// organisation) from independent networks: a "leak" or "hijack" between
// siblings is usually traffic engineering.
//
// Two formats are read, plain or gzip/bzip2 compressed (detected by magic
// bytes):
//
//   - JSON Lines (as-org2info.jsonl, 2021 on): one object per line, either
//     {"type":"Organization","organizationId":..,"name":..,"country":..,"source":..}
//     or {"type":"ASN","asn":"3356","organizationId":..,"name":..,"source":..}.
//   - the older pipe-separated as-org2info.txt, whose "# format:" comment
//     lines switch between "aut|changed|aut_name|org_id|opaque_id|source" and
//     "org_id|changed|org_name|country|source" records.
//
// Records may come in any order; an ASN may reference an organisation
// defined later. Malformed input fails with a *ParseError naming the file
// and line. A Table is immutable after loading and safe for concurrent use.
package asorg
