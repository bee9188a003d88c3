// Package fulltable writes a synthetic but realistic full routing table as
// an MRT TABLE_DUMP_V2 file (PEER_INDEX_TABLE, RIB_IPV4_UNICAST,
// RIB_IPV6_UNICAST records), for scale tests: load it into a real router
// (`gobgp mrt inject global FILE`) and let that router send it to the
// speaker.
//
// The prefixes and their origin ASes are real: they come from a
// prefix-to-origin table (pyasn IPASN .dat, read with bgpfeed/prefix2as),
// e.g. the 2026-07-30 RouteViews tables in ../shared/data/baseline/asinfo
// (1,107,938 IPv4 and 258,956 IPv6 prefixes: enough for a full table, so
// no more-specifics are derived). The AS paths are made up, deterministic
// for a seed, and shaped like a real table's:
//
//   - a provider hierarchy: a clique of real tier-1 ASes, then the origins
//     with the most prefixes as large transits (level 1) and regional
//     transits (level 2), the other origins as stubs; each AS's providers
//     are picked by hash, skewed towards the bigger transits, so a few
//     upstreams carry most paths and paths repeat as in a real table;
//   - 40% of the stubs are multihomed: a vantage point prefers one
//     provider, and some prefixes (traffic engineering) take the other;
//   - each vantage point (Peer) reaches the top through its own tier-1, or
//     through a direct peering with a transit (or, rarely, the origin)
//     when it has one, so paths are 2 to 6 ASes long, mostly 3 to 5;
//   - 8% of the origins prepend themselves 1 to 3 extra times, and a few
//     regional transits prepend once towards some vantage points;
//   - ORIGIN is mostly IGP, some INCOMPLETE; 20% of the paths carry a MED,
//     most carry 1 to 3 communities of the vantage point and its upstream.
//
// Every prefix gets one RIB entry per Peer. The records are written in
// prefix order, IPv4 first. Nothing here is used by the bgpsentry binary.
package fulltable
