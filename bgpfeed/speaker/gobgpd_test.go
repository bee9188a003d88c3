package speaker

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker/peertest"
)

// gobgpd is a gobgpd router controlled through the gobgp CLI on a
// loopback API port.
type gobgpd struct{ *peertest.Gobgpd }

type gobgpdConf = peertest.GobgpdConf

func startGobgpd(t testing.TB, c gobgpdConf) *gobgpd {
	t.Helper()
	return &gobgpd{peertest.StartGobgpd(t, c)}
}

func (g *gobgpd) cli(args ...string) []string { return g.CLI(args...) }

func (g *gobgpd) do(t testing.TB, args string) string {
	t.Helper()
	return g.Do(t, args)
}

// adj counts the paths in gobgpd's adj-RIB-in or -out for the speaker.
func (g *gobgpd) adj(t testing.TB, table string) int {
	t.Helper()
	n := 0
	for _, fam := range []string{"ipv4", "ipv6"} {
		out, err := runErr(g.cli("-j", "neighbor", g.Speaker, table, "-a", fam)...)
		if err != nil {
			if strings.Contains(out, "Network not in table") {
				continue
			}
			t.Fatalf("gobgp neighbor %s %s -a %s: %v\n%s", g.Speaker, table, fam, err, out)
		}
		var dsts map[string][]json.RawMessage
		if s := strings.TrimSpace(out); s == "" || s == "null" || s == "{}" || s == "[]" {
			continue
		}
		if err := json.Unmarshal([]byte(out), &dsts); err != nil {
			t.Fatalf("gobgp %s JSON: %v\n%s", table, err, out)
		}
		for _, ps := range dsts {
			n += len(ps)
		}
	}
	return n
}

// TestGobgpd: gobgpd peers over IPv6 (::1, the speaker connecting
// actively) and announces routes added with `gobgp global rib add`; the
// speaker emits them. Monitor only: while the speaker holds another
// router's route, gobgpd's adj-RIB-in from the speaker stays empty (and
// its adj-RIB-out towards the speaker shows the command works).
func TestGobgpd(t *testing.T) {
	port := freePort(t, "::1")
	other := newGoPeer(t, 65003, "127.0.0.3")
	s := startSpeaker(t, Config{Neighbors: []Neighbor{
		{Addr: lo3, ASN: 65003, Passive: true},
	}})
	f := collect(t, s)
	g := startGobgpd(t, gobgpdConf{ASN: 65010, SpeakerASN: s.cfg.ASN, RouterID: "10.255.0.10",
		Local: "::1", Speaker: "::1", Port: port, Passive: true})
	// The route goes in before the speaker connects, so that it is part of
	// gobgpd's table transfer (added later, it would follow gobgpd's
	// End-of-RIB and rightly be a live route).
	g.do(t, "global rib add -a ipv6 2001:db8:10::/48 origin egp aspath 64500,64501 nexthop 2001:db8::10 community 65010:1 large-community 65010:2:3 med 20")
	if err := s.AddNeighbor(context.Background(), Neighbor{Addr: lo6, ASN: 65010, Port: uint16(port), LocalAddr: lo6, Description: "gobgpd over ::1"}); err != nil {
		t.Fatal(err)
	}
	// No IPv4 route: over an IPv6 session gobgpd replaces an IPv4 route's
	// next hop with its own IPv6 address, and GoBGP treats that UPDATE as
	// a withdrawal ("invalid nexthop address", RFC 7606).

	got := f.waitFor(t, 0, establishTimeout, "gobgpd session and its route", has(isUp(lo6), isAnnounce(lo6, "2001:db8:10::/48")))
	u := checkAnnounce(t, got, lo6, "2001:db8:10::/48", "65010 64500 64501", bgpfeed.OriginEGP, "")
	if u.PeerASN != 65010 || u.OriginASN() != 64501 || !u.Attrs.NextHop.Is6() {
		t.Errorf("IPv6 route: %s", fmtUpdate(u))
	}
	if len(u.Attrs.Communities) != 1 || u.Attrs.Communities[0] != 65010<<16|1 ||
		len(u.Attrs.LargeCommunities) != 1 || u.Attrs.LargeCommunities[0] != (bgpfeed.LargeCommunity{Global: 65010, Local1: 2, Local2: 3}) ||
		!u.Attrs.HasMED || u.Attrs.MED != 20 {
		t.Errorf("IPv6 route attributes: %s", fmtUpdate(u))
	}
	if !u.Table {
		t.Errorf("table transfer not marked: %s", fmtUpdate(u))
	}
	waitPeer(t, s, lo6, "End-of-RIB from gobgpd", func(p PeerStats) bool { return p.EndOfRIB == IPv4Unicast|IPv6Unicast })

	// A live route and its withdrawal.
	m := f.mark()
	g.do(t, "global rib add -a ipv6 2001:db8:11::/48 aspath 64503")
	got = f.waitFor(t, m, routeTimeout, "a live route", has(isAnnounce(lo6, "2001:db8:11::/48")))
	if u, _ := find(got, isAnnounce(lo6, "2001:db8:11::/48")); u.Table {
		t.Errorf("route after End-of-RIB marked as table: %s", fmtUpdate(u))
	}
	m = f.mark()
	g.do(t, "global rib del -a ipv6 2001:db8:11::/48")
	f.waitFor(t, m, routeTimeout, "its withdrawal", has(isWithdraw(lo6, "2001:db8:11::/48")))

	// Monitor only.
	other.connect(s, false, false)
	other.add(route(t, "203.0.113.0/24", []uint32{64499}, "127.0.0.3", 0, nil, nil))
	other.add(route(t, "2001:db8:99::/48", []uint32{64499}, "2001:db8::3", 0, nil, nil))
	f.waitFor(t, 0, establishTimeout, "the other router's routes", has(isAnnounce(lo3, "203.0.113.0/24"), isAnnounce(lo3, "2001:db8:99::/48")))
	time.Sleep(time.Second)
	if n := g.adj(t, "adj-in"); n != 0 {
		t.Errorf("gobgpd received %d paths from the speaker, want 0", n)
	}
	if n := g.adj(t, "adj-out"); n != 1 {
		t.Errorf("gobgpd adj-out towards the speaker has %d paths, want 1 (check of the check)", n)
	}
	t.Logf("gobgpd's view of the speaker:\n%s", g.do(t, "neighbor"))
	checkNoDuplicates(t, f.snapshot())
}
