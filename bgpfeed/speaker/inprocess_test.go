package speaker

import (
	"context"
	"net/netip"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// goPeer is a second GoBGP server in the test process, playing a router
// that connects to the speaker from its own loopback address. These tests
// need no installed daemon, so they always run.
//
// GoBGP keeps its route-selection options in package variables that
// StartBgp writes: two servers in one process race (the race detector
// says so) unless every server is started before any of them handles
// routes. So newGoPeer runs before startSpeaker, and connect after.
type goPeer struct {
	t     testing.TB
	srv   *server.BgpServer
	asn   uint32
	local string
}

func newGoPeer(t testing.TB, asn uint32, local string) *goPeer {
	t.Helper()
	srv := server.NewBgpServer(server.LoggerOption(newGoBGPLogger(testLogger(t))))
	go srv.Serve()
	if err := srv.StartBgp(context.Background(), &api.StartBgpRequest{Global: &api.Global{
		Asn: asn, RouterId: local, ListenPort: -1, ListenAddresses: []string{local},
	}}); err != nil {
		t.Fatalf("peer %s: start: %v", local, err)
	}
	t.Cleanup(srv.Stop)
	return &goPeer{t: t, srv: srv, asn: asn, local: local}
}

// connect makes g connect to the speaker; gr turns on Graceful Restart
// (GoBGP then sends End-of-RIB), addPathSend ADD-PATH send.
func (g *goPeer) connect(s *Speaker, gr, addPathSend bool) {
	g.t.Helper()
	p := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: s.Addr().Addr().String(), PeerAsn: s.cfg.ASN},
		Transport: &api.Transport{LocalAddress: g.local, RemotePort: uint32(s.Addr().Port())},
		Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 1}},
	}
	if gr {
		p.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: 30}
	}
	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		as := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true}}
		if gr {
			as.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
		}
		if addPathSend {
			as.AddPaths = &api.AddPaths{Config: &api.AddPathsConfig{SendMax: 8}}
		}
		p.AfiSafis = append(p.AfiSafis, as)
	}
	if err := g.srv.AddPeer(context.Background(), &api.AddPeerRequest{Peer: p}); err != nil {
		g.t.Fatalf("peer %s: add neighbour: %v", g.local, err)
	}
}

// route builds a GoBGP API path: pfx with the AS path after the peer's own
// AS (which GoBGP prepends on eBGP), communities and a MED.
func route(t testing.TB, pfx string, path []uint32, nextHop string, med uint32, comms []uint32, large []*bgp.LargeCommunity) *api.Path {
	t.Helper()
	p := netip.MustParsePrefix(pfx)
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	if len(path) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, path)}))
	}
	var nlri bgp.AddrPrefixInterface
	if p.Addr().Is4() {
		nlri = bgp.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String())
		attrs = append(attrs, bgp.NewPathAttributeNextHop(nextHop))
	} else {
		nlri = bgp.NewIPv6AddrPrefix(uint8(p.Bits()), p.Addr().String())
		attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI(nextHop, []bgp.AddrPrefixInterface{nlri}))
	}
	if med > 0 {
		attrs = append(attrs, bgp.NewPathAttributeMultiExitDisc(med))
	}
	if len(comms) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeCommunities(comms))
	}
	if len(large) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeLargeCommunities(large))
	}
	ap, err := apiutil.NewPath(nlri, false, attrs, time.Now())
	if err != nil {
		t.Fatalf("path %s: %v", pfx, err)
	}
	return ap
}

func (g *goPeer) add(ap *api.Path) {
	g.t.Helper()
	if _, err := g.srv.AddPath(context.Background(), &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: ap}); err != nil {
		g.t.Fatalf("add path: %v", err)
	}
}

func (g *goPeer) del(ap *api.Path) {
	g.t.Helper()
	if err := g.srv.DeletePath(context.Background(), &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: ap.Family, Path: ap}); err != nil {
		g.t.Fatalf("delete path: %v", err)
	}
}

// received counts the paths g holds from neighbour addr (its adj-RIB-in).
func (g *goPeer) received(addr string) int {
	g.t.Helper()
	n := 0
	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		err := g.srv.ListPath(context.Background(), &api.ListPathRequest{
			TableType: api.TableType_ADJ_IN, Name: addr, Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST},
		}, func(d *api.Destination) { n += len(d.Paths) })
		if err != nil {
			g.t.Fatalf("list adj-in of %s: %v", addr, err)
		}
	}
	return n
}

var (
	lo1 = netip.MustParseAddr("127.0.0.1")
	lo2 = netip.MustParseAddr("127.0.0.2")
	lo3 = netip.MustParseAddr("127.0.0.3")
	lo4 = netip.MustParseAddr("127.0.0.4")
	lo5 = netip.MustParseAddr("127.0.0.5")
	lo6 = netip.MustParseAddr("::1")
)

// TestInProcessPeer runs the whole life of a session against an
// in-process GoBGP router: table transfer up to End-of-RIB, attributes,
// ordinary announcements, withdrawals, a duplicate-free feed, monitor-only
// (a second router receives nothing), and session down.
func TestInProcessPeer(t *testing.T) {
	a := newGoPeer(t, 65002, "127.0.0.2")
	b := newGoPeer(t, 65003, "127.0.0.3")
	s := startSpeaker(t, Config{Neighbors: []Neighbor{
		{Addr: lo2, ASN: 65002, Passive: true, Description: "router A"},
		{Addr: lo3, ASN: 65003, Passive: true, Description: "router B"},
	}})
	f := collect(t, s)

	a.connect(s, true, false)
	// Routes present before the session comes up form the table transfer.
	a.add(route(t, "192.0.2.0/24", []uint32{64496}, "127.0.0.2", 50, []uint32{65002<<16 | 100}, []*bgp.LargeCommunity{bgp.NewLargeCommunity(65002, 1, 2)}))
	a.add(route(t, "2001:db8::/32", []uint32{64497, 64498}, "2001:db8::2", 0, nil, nil))
	b.connect(s, true, false)
	b.add(route(t, "198.51.100.0/24", nil, "127.0.0.3", 0, nil, nil))

	got := f.waitFor(t, 0, establishTimeout, "both sessions up and their tables", has(
		isUp(lo2), isUp(lo3),
		isAnnounce(lo2, "192.0.2.0/24"), isAnnounce(lo2, "2001:db8::/32"), isAnnounce(lo3, "198.51.100.0/24")))
	u := checkAnnounce(t, got, lo2, "192.0.2.0/24", "65002 64496", bgpfeed.OriginIGP, "127.0.0.2")
	if !u.Table || u.PeerASN != 65002 || u.Source != DefaultName {
		t.Errorf("table-transfer announcement: %s (source %q)", fmtUpdate(u), u.Source)
	}
	if !u.Attrs.HasMED || u.Attrs.MED != 50 || len(u.Attrs.Communities) != 1 || u.Attrs.Communities[0] != 65002<<16|100 ||
		len(u.Attrs.LargeCommunities) != 1 || u.Attrs.LargeCommunities[0] != (bgpfeed.LargeCommunity{Global: 65002, Local1: 1, Local2: 2}) {
		t.Errorf("attributes: %s", fmtUpdate(u))
	}
	if o := u.OriginASN(); o != 64496 {
		t.Errorf("origin AS %d, want 64496", o)
	}
	checkAnnounce(t, got, lo2, "2001:db8::/32", "65002 64497 64498", bgpfeed.OriginIGP, "2001:db8::2")
	checkAnnounce(t, got, lo3, "198.51.100.0/24", "65003", bgpfeed.OriginIGP, "127.0.0.3")
	up, iu := find(got, isUp(lo2))
	if _, ia := find(got, isAnnounce(lo2, "192.0.2.0/24")); ia < iu {
		t.Errorf("announcement before the session-up state change")
	}
	if up.OldState == 0 || up.OldState == bgpfeed.StateEstablished {
		t.Errorf("up state change: %s", fmtUpdate(up))
	}

	// End-of-RIB ends the table transfer: later announcements are live.
	waitPeer(t, s, lo2, "End-of-RIB for both families", func(p PeerStats) bool { return p.EndOfRIB == IPv4Unicast|IPv6Unicast })
	m := f.mark()
	a.add(route(t, "203.0.113.0/24", []uint32{64499}, "127.0.0.2", 0, nil, nil))
	got = f.waitFor(t, m, routeTimeout, "a live announcement", has(isAnnounce(lo2, "203.0.113.0/24")))
	if u, _ := find(got, isAnnounce(lo2, "203.0.113.0/24")); u.Table {
		t.Errorf("announcement after End-of-RIB marked as table: %s", fmtUpdate(u))
	}

	// Monitor only: each router holds nothing from the speaker although
	// the speaker holds the other router's routes.
	time.Sleep(500 * time.Millisecond) // what would be re-advertised has had time to arrive
	if n := a.received(lo1.String()); n != 0 {
		t.Errorf("router A received %d paths from the speaker, want 0", n)
	}
	if n := b.received(lo1.String()); n != 0 {
		t.Errorf("router B received %d paths from the speaker, want 0", n)
	}
	if p, _ := s.Peer(lo3); p.Routes != 1 {
		t.Errorf("speaker holds %d routes of router B, want 1", p.Routes)
	}

	// A withdrawal.
	m = f.mark()
	a.del(route(t, "203.0.113.0/24", []uint32{64499}, "127.0.0.2", 0, nil, nil))
	f.waitFor(t, m, routeTimeout, "withdrawal", has(isWithdraw(lo2, "203.0.113.0/24")))

	// Session down: state change then the withdrawal of both remaining routes.
	m = f.mark()
	a.srv.Stop()
	got = f.waitFor(t, m, routeTimeout, "session down and withdrawals", has(isDown(lo2),
		isWithdraw(lo2, "192.0.2.0/24"), isWithdraw(lo2, "2001:db8::/32")))
	if _, id := find(got, isDown(lo2)); id < 0 {
		t.Fatal("no down")
	} else if _, iw := find(got, isWithdraw(lo2, "192.0.2.0/24")); iw < id {
		t.Errorf("withdrawal before the down state change:\n%s", dump(got))
	}
	checkNoDuplicates(t, f.snapshot())
	st := s.Stats()
	if st.Dropped != 0 || st.Skipped != 0 {
		t.Errorf("stats: %+v", st)
	}
	if p, _ := s.Peer(lo2); p.Routes != 0 || p.State == bgpfeed.StateEstablished {
		t.Errorf("peer A after down: %+v", p)
	}

	// Close drains: router B's session ends with its withdrawal, then EOF.
	m = f.mark()
	s.Close()
	got = f.waitEOF(t, routeTimeout)[m:]
	if !has(isDown(lo3), isWithdraw(lo3, "198.51.100.0/24"))(got) {
		t.Errorf("close did not end router B's session with withdrawals:\n%s", dump(got))
	}
}

// waitPeer polls the speaker's view of a peer until cond holds.
func waitPeer(t testing.TB, s *Speaker, addr netip.Addr, what string, cond func(PeerStats) bool) PeerStats {
	t.Helper()
	deadline := time.Now().Add(routeTimeout)
	for {
		p, ok := s.Peer(addr)
		if ok && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer %s: timed out waiting for %s: %+v", addr, what, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInProcessAddPathAndRuntimeNeighbours: ADD-PATH receive keeps
// several paths of one prefix apart; a neighbour added at run time comes
// up, and removing it withdraws its routes; a peer without End-of-RIB
// ends its table transfer after the quiet period.
func TestInProcessAddPathAndRuntimeNeighbours(t *testing.T) {
	g := newGoPeer(t, 65004, "127.0.0.4")
	s := startSpeaker(t, Config{QuietPeriod: 300 * time.Millisecond})
	f := collect(t, s)
	ctx := context.Background()
	if err := s.AddNeighbor(ctx, Neighbor{Addr: lo4, ASN: 65004, Passive: true, AddPath: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNeighbor(ctx, Neighbor{Addr: lo4, ASN: 65004}); err == nil {
		t.Fatal("duplicate AddNeighbor accepted")
	}
	// No GR: this router sends no End-of-RIB; ADD-PATH send: it sends
	// every path of its RIB. Two paths for one prefix from two sources.
	g.connect(s, false, true)
	p1 := route(t, "192.0.2.0/24", []uint32{64496}, "127.0.0.4", 0, nil, nil)
	p2 := route(t, "192.0.2.0/24", []uint32{64510, 64496}, "127.0.0.4", 0, nil, nil)
	p2.SourceAsn, p2.SourceId, p2.NeighborIp = 64510, "10.9.9.9", "10.9.9.9" // a second source: not an implicit withdraw of p1
	g.add(p1)
	g.add(p2)
	got := f.waitFor(t, 0, establishTimeout, "two paths of one prefix", func(us []bgpfeed.Update) bool {
		return count(us, isAnnounce(lo4, "192.0.2.0/24")) >= 2
	})
	ids := map[uint32]bool{}
	for _, u := range got {
		if isAnnounce(lo4, "192.0.2.0/24")(u) {
			ids[u.PathID] = true
			if !u.Table {
				t.Errorf("table transfer path not marked: %s", fmtUpdate(u))
			}
		}
	}
	if len(ids) != 2 || ids[0] {
		t.Errorf("path ids %v, want two distinct non-zero", ids)
	}
	// Quiet period: the next route, after a pause, is live.
	time.Sleep(600 * time.Millisecond)
	m := f.mark()
	g.add(route(t, "198.51.100.0/24", []uint32{64496}, "127.0.0.4", 0, nil, nil))
	got = f.waitFor(t, m, routeTimeout, "a live route", has(isAnnounce(lo4, "198.51.100.0/24")))
	if u, _ := find(got, isAnnounce(lo4, "198.51.100.0/24")); u.Table {
		t.Errorf("announcement after the quiet period marked as table: %s", fmtUpdate(u))
	}
	// Remove the neighbour: down and three withdrawals.
	m = f.mark()
	if err := s.RemoveNeighbor(ctx, lo4); err != nil {
		t.Fatal(err)
	}
	got = f.waitFor(t, m, routeTimeout, "down and withdrawals after RemoveNeighbor", func(us []bgpfeed.Update) bool {
		return count(us, isDown(lo4)) == 1 && count(us, func(u bgpfeed.Update) bool { return u.Kind == bgpfeed.KindWithdraw }) == 3
	})
	time.Sleep(300 * time.Millisecond)
	if extra := f.since(m); len(extra) != len(got) {
		t.Errorf("more than one down/flush after RemoveNeighbor:\n%s", dump(extra))
	}
	if err := s.RemoveNeighbor(ctx, lo4); err == nil {
		t.Error("removing an unknown neighbour succeeded")
	}
}
