// Package speaker is the live source of bgpsentry: an embedded GoBGP
// server (github.com/osrg/gobgp/v3/pkg/server, in process, no gobgpd) that
// peers with real routers and emits what each of them says as
// bgpfeed.Updates, like an MRT update dump of the sessions. It implements
// bgpfeed.Source.
//
// # Monitor only
//
// The speaker never advertises anything. GoBGP's default export policy is
// accept, so a collector built on it re-advertises every peer's routes to
// every other peer; New sets the global export policy to REJECT (and the
// import policy too, which keeps GoBGP's global RIB and best-path work
// empty: the speaker reads the pre-policy adj-RIB-in, which import policy
// does not touch). Loop detection is relaxed (AllowOwnAsn 255) so paths
// that contain the speaker's own AS are still seen.
//
// # What is emitted
//
// One GoBGP watcher (registered before any peer exists, with the initial
// dump) delivers each peer's pre-policy adj-RIB-in changes and session
// state changes in the order GoBGP handled them. For each path the
// speaker emits an Update with Source = Config.Name, Format
// bgpfeed.FormatSession, the peer's address and AS, the prefix, the
// ADD-PATH identifier and, for announcements, the attributes (AS path with
// its segments, next hop, origin, MED, local preference, communities,
// large communities, aggregator).
//
// The speaker keeps, per peer, the set of (prefix, path id) the peer
// announces (24 bytes a route, no attributes). A withdrawal of a route
// the peer never announced in this session is not emitted (counted in
// Stats.UnknownWithdrawals). When a session leaves Established the speaker
// emits a KindState Update (OldState 6, NewState as RFC 6396 numbers it)
// followed by the withdrawal of every route the peer had; GoBGP itself
// reports nothing for those routes. When a session comes up it emits a
// KindState Update (NewState 6) and marks the announcements of the table
// transfer Table=true, per address family, until that family's
// End-of-RIB, a QuietPeriod between two routes, or MaxTableTransfer
// after the session came up. Later announcements are ordinary. The speaker
// advertises the Graceful Restart capability (helper only) because GoBGP
// and BIRD send End-of-RIB only to GR-capable neighbours. Changes between
// the other states (Idle, Connect, Active, OpenSent, OpenConfirm) are not
// emitted.
//
// # Bounded queue: drops, counted
//
// Updates wait for Next in a queue bounded by Config.QueueSize. When it is
// full, new route Updates are dropped and counted (Stats.Dropped, and a
// warning at most every 10 s); the speaker never blocks. Backpressure was
// rejected because it would not be backpressure: GoBGP hands events to a
// watcher through an unbounded internal channel and its main loop never
// waits for the watcher, so blocking the callback only moves the backlog
// into GoBGP's unbounded buffer (and a BGP session cannot be paused for
// long without its hold timer expiring). Session state changes and the
// session-down withdrawals are never dropped in practice: they may use
// 1024 slots above the bound, and the withdrawals of a whole table take
// one slot, because they are produced lazily by Next from the route set
// the peer no longer needs. The per-peer route sets are updated whatever
// the queue does, so a session-down flush is always complete even after
// drops.
//
// # Lifecycle
//
// New starts listening (default 127.0.0.1:1179, no root needed) and adds
// Config.Neighbors; AddNeighbor and RemoveNeighbor change peers at run
// time. Close ends every session, queues the state changes and
// withdrawals of the peers that were up, and makes Next return io.EOF
// once the queue is drained. GoBGP v3's Serve loop cannot be stopped, so
// one idle goroutine per Speaker outlives Close.
//
// Run one Speaker (one GoBGP server) per process: GoBGP keeps its
// route-selection options in package variables that every server's start
// writes, so a second server started while another handles routes is a
// data race. New also turns Multipath TCP off for listeners (GODEBUG
// multipathtcp=0, unless GODEBUG already sets it): Go uses MPTCP for
// listeners by default since 1.24, and Linux refuses TCP-MD5 and TTL
// options on MPTCP sockets, so passive sessions with a password would
// never come up.
package speaker
