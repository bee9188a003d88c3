// Package mrt replays MRT archives (RFC 6396) from RIPE RIS, RouteViews and
// lab routers as bgpfeed.Update records, and reads prefix-to-origin tables
// (pyasn / CAIDA prefix2as) as a baseline of the same shape.
//
// BGP messages and path attributes are decoded by GoBGP's pkg/packet/bgp.
// This package frames MRT records itself, which closes the gaps of GoBGP's
// pkg/packet/mrt: BGP4MP_ET timestamps, the ADD-PATH flag of BGP4MP
// *_ADDPATH records, 2-byte AS_PATHs of old sessions (which GoBGP's
// heuristic may read as 4-byte), AS4_PATH merging (RFC 6793) and
// TABLE_DUMP (v1).
//
// Decoding is pipelined: one goroutine per file decompresses and frames
// records into batches, a pool of workers decodes batches in parallel, and
// the Reader hands Updates out in file order, merging several files by
// timestamp. Every queue is bounded, so memory does not grow with the input.
// A malformed record is skipped and counted (Stats) with its file and byte
// offset; a truncated or corrupt compressed stream yields every complete
// record and then a counted truncation.
package mrt
