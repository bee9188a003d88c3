// Package inject builds labelled training data for the classifier by
// injecting synthetic BGP hijacks, route leaks and benign look-alikes into
// a real background update stream, the way the literature does (there is
// no public labelled data set of BGP incidents).
//
// # Learning the background
//
// Learn reads the background MRT files once. It keeps the peers (address,
// ASN, the collector's local ASN and address, next hops, routes per
// family), every peer's route history per prefix, each prefix's origins,
// first time seen and the peers that carried it, and two path indexes cut
// from the real paths: for every (peer, AS) the real path from that peer to
// that AS (a prefix of a real path that traverses the AS), and for every AS
// the real path suffixes that start at it (how the AS reaches an origin).
// Every path an injection uses is built from these pieces, so its links are
// real except for the link the scenario invents.
//
// # Scenarios
//
// Attack classes (the label column) and their scenarios:
//
//   - origin_hijack / exact_origin: attacker A originates the victim's exact
//     prefix; path at peer X = X's real path to A. With a baseline, 25%
//     of the exact-prefix hijacks take a dormant victim: a baseline prefix
//     that no peer of the background carries (the 2008 /24 was one).
//   - subprefix_hijack / subprefix_origin: the same for a more-specific of
//     the victim's prefix (IPv4 up to /24, IPv6 up to /48).
//   - path_hijack / forged_origin_exact, forged_origin_subprefix: X's real
//     path to A followed by the victim V; A and V are not neighbours in the
//     AS relationships nor in the background.
//   - route_leak / leak_type1_hairpin .. leak_type4_peer_to_provider (RFC
//     7908 types 1-4): leaker L re-exports n prefixes learned from P1 to
//     P2; path at X = X's real path to P2, L, then P1's real path to the
//     origin. Leaks come as waves of n (10 to 2000) prefixes from several
//     peers within a minute or two.
//
// Benign look-alikes (label benign): own_more_specific, provider_origin,
// sibling_origin, roa_new_origin, prepend, alternative_path, flap and
// session_reset.
//
// Each instance is announced by 1 to 15 real peers (more for widely seen
// ASes), seconds to minutes apart, at times drawn uniformly after the
// warm-up part of the background; some are withdrawn later.
//
// # Outputs
//
// Result.WriteDir writes into a directory: injected.mrt (BGP4MP_MESSAGE_AS4
// records of the injected messages only, from the real peer sessions;
// plain or gzip),
// labels.csv (time_unix,peer_addr,prefix,label,scenario,attacker_asn; one
// row per injected announcement, the key (time_unix, peer_addr, prefix)
// unique), vrps.json (rpki-client style ROAs: the benign roa_new_origin
// ROAs, the victims' ROAs of about half the hijacks, and ROAs for about 30%
// of the other background prefixes) and scenarios.json (one record per
// instance). For benign rows attacker_asn is the AS a detector would blame
// (the new origin, or the origin, or the peer for a session reset), so
// that training can split every row by that AS.
//
// The same inputs and seed give byte-identical outputs.
//
// The feature state keys a peer by (collector, address, ASN), and the MRT
// reader names the collector of a file after its path: replay
// DIR/injected.mrt with DIR named after the background's collector (for
// example .../rrc01/injected.mrt), or the injected routes look like they
// come from other peers than the background's.
package inject
