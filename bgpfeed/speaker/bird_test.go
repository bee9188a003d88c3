package speaker

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker/peertest"
)

// bird is a BIRD 2 router on one loopback address, with the routes of
// testdata/peers/bird.conf.tmpl.
type bird struct{ *peertest.Bird }

func startBird(t testing.TB, s *Speaker, local netip.Addr, asn uint32, password string) *bird {
	t.Helper()
	return &bird{peertest.StartBird(t, "bird.conf.tmpl", peertest.BirdConf{
		RouterID: local.String(), Local: local.String(), Speaker: s.Addr().Addr().String(),
		SpeakerPort: int(s.Addr().Port()), ASN: asn, SpeakerASN: s.cfg.ASN, Index: int(local.As4()[3]), Password: password,
	})}
}

func (b *bird) mustCtl(t testing.TB, cmd string) string {
	t.Helper()
	return b.MustCtl(t, cmd)
}

var birdRoutes = regexp.MustCompile(`Routes:\s+(\d+) imported, (?:\d+ filtered, )?(\d+) exported`)

// imported sums the routes BIRD imported from the speaker over all
// channels of protocol "speaker".
func (b *bird) imported(t testing.TB) (imported, exported int) {
	t.Helper()
	out := b.mustCtl(t, "show protocols all speaker")
	ms := birdRoutes.FindAllStringSubmatch(out, -1)
	if len(ms) == 0 {
		t.Fatalf("no route counts in:\n%s", out)
	}
	for _, m := range ms {
		i, _ := strconv.Atoi(m[1])
		e, _ := strconv.Atoi(m[2])
		imported += i
		exported += e
	}
	return imported, exported
}

// TestBird: BIRD 2 peers over IPv4 loopback and announces static IPv4 and
// IPv6 routes; a static protocol disabled withdraws its route; the BGP
// protocol disabled takes the session down with all its routes. While the
// speaker holds another router's routes, BIRD receives none.
func TestBird(t *testing.T) {
	g := newGoPeer(t, 65003, "127.0.0.3")
	s := startSpeaker(t, Config{Neighbors: []Neighbor{
		{Addr: lo2, ASN: 65002, Passive: true, Description: "bird"},
		{Addr: lo3, ASN: 65003, Passive: true, Description: "in-process gobgp"},
	}})
	f := collect(t, s)
	b := startBird(t, s, lo2, 65002, "")

	got := f.waitFor(t, 0, establishTimeout, "BIRD session and its three routes", has(isUp(lo2),
		isAnnounce(lo2, "192.0.2.0/24"), isAnnounce(lo2, "198.51.100.0/24"), isAnnounce(lo2, "2001:db8::/32")))
	u := checkAnnounce(t, got, lo2, "192.0.2.0/24", "65002 64496", bgpfeed.OriginIncomplete, "127.0.0.2")
	if !u.Attrs.HasMED || u.Attrs.MED != 77 {
		t.Errorf("MED: %s", fmtUpdate(u))
	}
	if len(u.Attrs.Communities) != 1 || u.Attrs.Communities[0] != 65002<<16|100 {
		t.Errorf("communities: %s", fmtUpdate(u))
	}
	if len(u.Attrs.LargeCommunities) != 1 || u.Attrs.LargeCommunities[0] != (bgpfeed.LargeCommunity{Global: 65002, Local1: 1, Local2: 2}) {
		t.Errorf("large communities: %s", fmtUpdate(u))
	}
	checkAnnounce(t, got, lo2, "198.51.100.0/24", "65002", bgpfeed.OriginIGP, "127.0.0.2")
	u6 := checkAnnounce(t, got, lo2, "2001:db8::/32", "65002 64497 64498", bgpfeed.OriginIGP, "2001:db8::2")
	if u6.OriginASN() != 64498 || u6.PeerASN != 65002 || u6.PeerAddr != lo2 {
		t.Errorf("IPv6 route: %s", fmtUpdate(u6))
	}
	for _, u := range got {
		if u.Kind == bgpfeed.KindAnnounce && !u.Table {
			t.Errorf("initial transfer not marked as table: %s", fmtUpdate(u))
		}
	}
	p, _ := s.Peer(lo2)
	t.Logf("BIRD: End-of-RIB received for %s; table transfer still running for %s", p.EndOfRIB, p.TableTransfer)

	// Monitor only: another router's routes reach the speaker, not BIRD.
	g.connect(s, false, false)
	g.add(route(t, "203.0.113.0/24", []uint32{64499}, "127.0.0.3", 0, nil, nil))
	f.waitFor(t, 0, establishTimeout, "the in-process router's route", has(isAnnounce(lo3, "203.0.113.0/24")))
	time.Sleep(time.Second)
	if imp, exp := b.imported(t); imp != 0 || exp != 3 {
		t.Errorf("BIRD imported %d routes from the speaker (want 0) and exported %d (want 3)", imp, exp)
	}

	// Withdraw one route.
	m := f.mark()
	b.mustCtl(t, "disable s4b")
	got = f.waitFor(t, m, routeTimeout, "withdrawal of 198.51.100.0/24", has(isWithdraw(lo2, "198.51.100.0/24")))
	if n := count(got, func(u bgpfeed.Update) bool { return u.PeerAddr == lo2 && u.Kind != bgpfeed.KindWithdraw }); n != 0 {
		t.Errorf("unexpected updates with the withdrawal:\n%s", dump(got))
	}

	// Shut the session.
	m = f.mark()
	b.mustCtl(t, "disable speaker")
	got = f.waitFor(t, m, routeTimeout, "session down and withdrawal of the two remaining routes", has(isDown(lo2),
		isWithdraw(lo2, "192.0.2.0/24"), isWithdraw(lo2, "2001:db8::/32")))
	down, _ := find(got, isDown(lo2))
	if down.OldState != bgpfeed.StateEstablished || down.NewState == bgpfeed.StateEstablished || down.NewState == 0 {
		t.Errorf("down state change: %s", fmtUpdate(down))
	}
	time.Sleep(300 * time.Millisecond)
	if n := count(f.since(m), func(u bgpfeed.Update) bool { return u.Kind == bgpfeed.KindWithdraw && u.PeerAddr == lo2 }); n != 2 {
		t.Errorf("%d withdrawals after the session went down, want 2:\n%s", n, dump(f.since(m)))
	}
	checkNoDuplicates(t, f.snapshot())
}

// TestBirdSessionReset: BIRD crashes (SIGKILL, no NOTIFICATION) and
// starts again. The speaker emits the session down with every route
// withdrawn, then the session up and the new table transfer marked
// Table=true, and no announcement twice outside a table transfer.
func TestBirdSessionReset(t *testing.T) {
	s := startSpeaker(t, Config{Neighbors: []Neighbor{{Addr: lo5, ASN: 65005, Passive: true}}})
	f := collect(t, s)
	b := startBird(t, s, lo5, 65005, "")
	f.waitFor(t, 0, establishTimeout, "first table transfer", has(isUp(lo5),
		isAnnounce(lo5, "192.0.2.0/24"), isAnnounce(lo5, "198.51.100.0/24"), isAnnounce(lo5, "2001:db8::/32")))
	waitPeer(t, s, lo5, "end of the first table transfer", func(p PeerStats) bool { return p.TableTransfer == 0 })

	m := f.mark()
	b.Kill()
	got := f.waitFor(t, m, 2*routeTimeout, "session down after the crash, and 3 withdrawals", func(us []bgpfeed.Update) bool {
		return count(us, isDown(lo5)) == 1 && count(us, func(u bgpfeed.Update) bool { return u.Kind == bgpfeed.KindWithdraw }) == 3
	})
	t.Logf("after the crash:\n%s", dump(got))

	m = f.mark()
	startBird(t, s, lo5, 65005, "")
	got = f.waitFor(t, m, establishTimeout, "second table transfer", has(isUp(lo5),
		isAnnounce(lo5, "192.0.2.0/24"), isAnnounce(lo5, "198.51.100.0/24"), isAnnounce(lo5, "2001:db8::/32")))
	waitPeer(t, s, lo5, "end of the second table transfer", func(p PeerStats) bool { return p.TableTransfer == 0 })
	time.Sleep(500 * time.Millisecond)
	got = f.since(m)
	for _, u := range got {
		if u.Kind == bgpfeed.KindAnnounce && !u.Table {
			t.Errorf("re-sent route not marked as table: %s", fmtUpdate(u))
		}
	}
	if n := count(got, func(u bgpfeed.Update) bool { return u.Kind == bgpfeed.KindAnnounce }); n != 3 {
		t.Errorf("%d announcements after the restart, want 3:\n%s", n, dump(got))
	}
	checkNoDuplicates(t, f.snapshot())
	if st := s.Stats(); st.Dropped != 0 || st.UnknownWithdrawals != 0 {
		t.Errorf("stats: %+v", st)
	}
}

// TestBirdMD5: a BIRD session with a TCP MD5 password comes up; one with
// the wrong password does not. Skipped when the kernel refuses TCP-MD5 on
// loopback.
func TestBirdMD5(t *testing.T) {
	if err := probeTCPMD5(lo1); err != nil {
		t.Skipf("the kernel does not support TCP-MD5 on loopback: setsockopt(TCP_MD5SIG) on 127.0.0.1: %v", err)
	}
	const password = "bgpsentry-md5-test"
	s := startSpeaker(t, Config{Neighbors: []Neighbor{
		{Addr: lo4, ASN: 65004, Passive: true, Password: password},
		{Addr: lo5, ASN: 65005, Passive: true, Password: password},
	}})
	f := collect(t, s)
	startBird(t, s, lo4, 65004, password)
	wrong := startBird(t, s, lo5, 65005, "not-the-password")
	f.waitFor(t, 0, establishTimeout, "MD5 session up with routes", has(isUp(lo4), isAnnounce(lo4, "192.0.2.0/24")))
	time.Sleep(3 * time.Second) // BIRD retries every second
	if _, i := find(f.snapshot(), isUp(lo5)); i >= 0 {
		t.Error("session with the wrong MD5 password came up")
	}
	if out := wrong.mustCtl(t, "show protocols speaker"); strings.Contains(out, "Established") {
		t.Errorf("BIRD with the wrong password says:\n%s", out)
	}
}
