// Package ptrie is a path-compressed binary trie keyed by netip.Prefix.
//
// It answers the three questions the featurizer asks about a prefix: is
// this exact prefix known (Get), which known prefixes cover it, shortest
// first (Covering, LongestMatch), and which known prefixes lie under it
// (Covered). IPv4 and IPv6 prefixes live in two separate trees; an
// IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/n) is an IPv6 prefix.
//
// The trie is built to hold a full table with per-prefix state (about 1.3M
// prefixes): nodes are plain structs in one slice per address family,
// linked by 32-bit indices, and only nodes where two branches meet exist
// besides the prefixes themselves (path compression), so a trie of n
// prefixes has fewer than 2n nodes. An IPv4 node is 20 bytes, an IPv6 node
// 32 bytes; values are stored once in a separate slice. Deleted prefixes
// leave their node in place (it is reused if the prefix comes back), which
// keeps deletion O(depth) and indices stable.
//
// A Trie is not safe for concurrent use when any goroutine writes; readers
// alone may share it.
package ptrie
