package speaker

import (
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker/peertest"
)

// Real BGP daemons (BIRD 2, gobgpd, ExaBGP) run as child processes of the
// test, on loopback only, with configurations written into t.TempDir()
// from testdata/peers/, through package peertest (shared with the
// end-to-end tests of `bgpsentry serve`). They are installed by
// scripts/peers-deps.sh; a missing one fails the test unless
// BGPSENTRY_SKIP_PEERS=1.

type daemon = peertest.Daemon

var (
	needTool   = peertest.NeedTool
	render     = peertest.Render
	run        = peertest.Run
	runErr     = peertest.RunErr
	eventually = peertest.Eventually
	errNotYet  = peertest.ErrNotYet
	freePort   = peertest.FreePort
)

// peersDir is testdata/peers at the repository root.
func peersDir(testing.TB) string { return peertest.PeersDir() }
