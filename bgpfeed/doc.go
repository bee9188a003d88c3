// Package bgpfeed defines the one record every BGP source of bgpsentry
// produces, Update, and the small interfaces that move it between stages.
//
// Sources live in sub-packages: bgpfeed/mrt replays RIPE RIS and RouteViews
// archives (and prefix-to-origin tables); the live GoBGP speaker and the
// Kafka transport come later. Whatever the source, a consumer sees the same
// Update: one prefix announced or withdrawn by one peer, or a peer's session
// changing state.
package bgpfeed
