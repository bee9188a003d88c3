// Package asrel holds AS business relationships: who is whose provider,
// customer, peer or sibling. It loads CAIDA's AS-relationship files,
// infers relationships from observed AS paths when no file is at hand, and
// checks AS paths against them: valley-free routing (Gao 2001) and the
// route-leak types of RFC 7908.
//
// # Files
//
// CAIDA serial-1 lines are "a|b|rel", serial-2 lines "a|b|rel|source"
// (source such as "bgp" or "mlp" is ignored). rel -1 means a is a provider
// of b, 0 means a and b are peers. Lines starting with '#' are comments.
// Files may be plain, gzip or bzip2 (CAIDA ships .bz2), recognised by their
// magic bytes. Malformed lines fail the load with a *ParseError naming the
// file and line.
//
// # Conventions
//
// Rel(a, b) says what a is to b: Provider means a is b's provider. AS paths
// are given as BGP carries them: path[0] is the AS next to the observer
// (a collector's peer), the last element is the origin. A route travels
// from the origin towards path[0], so the step from path[i+1] to path[i]
// is "up" when path[i+1] is a customer of path[i]. Prepending (repeated
// ASes) is ignored everywhere; indices returned refer to the path as given.
//
// # Inference
//
// Infer implements Gao's heuristic (L. Gao, "On inferring autonomous system
// relationships in the Internet", IEEE/ACM ToN 9(6), 2001) with a fixed
// tier-1 clique, as Cloudflare Radar's route-leak detection does:
//
//  1. Paths are cleaned: prepending collapsed, paths with loops or reserved
//     ASNs (package bogon) dropped, duplicates counted once.
//  2. Each AS gets a rank: clique members first, then transit degree (the
//     number of distinct neighbours seen next to it while it is in the
//     middle of a path), then node degree.
//  3. In each path the top provider is the clique member(s) if the path has
//     any (two adjacent members are the peering at the top; members apart
//     or more than two mean the path itself has a valley and it is not
//     used), else the highest-ranked AS. Every link on the origin side of
//     the top votes "nearer the top is the provider" (uphill), every link
//     on the observer side too (downhill).
//  4. Links that are not next to a path's top cannot be peering (Gao's
//     phase 3): the AS that passed the route on got it from a provider and
//     may only give it to a customer. Of the two links at the top, the one
//     towards the lower-degree neighbour is not peering either.
//  5. A link whose votes all point one way (or at least 3:1) is
//     provider-customer; a link with balanced votes, a link between clique
//     members, and a provider-customer link that was never excluded from
//     peering in step 4 whose ends have degrees within a factor
//     PeerDegreeRatio (default 60, Gao's R) are peers. Gao calls balanced
//     links siblings; without organisation data that is mostly wrong, so
//     they are peers here and Graph.MarkSiblings applies AS-org data.
//
// A Graph is immutable after Load, Infer and MarkSiblings and safe for
// concurrent use.
package asrel
