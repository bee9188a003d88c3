package speaker

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker/peertest"
)

func startExabgp(t testing.TB, s *Speaker, local netip.Addr, asn uint32) *daemon {
	t.Helper()
	return peertest.StartExabgp(t, "exabgp.conf.tmpl", peertest.ExabgpConf{
		RouterID: local.String(), Local: local.String(), Speaker: s.Addr().Addr().String(),
		SpeakerPort: int(s.Addr().Port()), ASN: asn, SpeakerASN: s.cfg.ASN, Index: int(local.As4()[3]),
		Script: fmt.Sprintf("%s %d", filepath.Join(peertest.PeersDir(), "exabgp-announce.sh"), asn),
	})
}

// TestExabgp: ExaBGP announces from its configuration a more-specific of
// a well-known prefix with a foreign origin, and through its API a route
// whose path ends in an AS_SET; the speaker emits them with those paths.
func TestExabgp(t *testing.T) {
	s := startSpeaker(t, Config{Neighbors: []Neighbor{{Addr: lo4, ASN: 65004, Passive: true, Description: "exabgp"}}})
	f := collect(t, s)
	startExabgp(t, s, lo4, 65004)
	got := f.waitFor(t, 0, establishTimeout, "ExaBGP session and its routes", has(isUp(lo4),
		isAnnounce(lo4, "8.8.8.0/25"), isAnnounce(lo4, "2001:4860::/33"), isAnnounce(lo4, "192.0.2.0/24")))

	u := checkAnnounce(t, got, lo4, "8.8.8.0/25", "65004 64666 64667", bgpfeed.OriginIGP, "127.0.0.4")
	if u.OriginASN() != 64667 {
		t.Errorf("origin AS %d, want 64667", u.OriginASN())
	}
	if len(u.Attrs.Communities) != 1 || u.Attrs.Communities[0] != 65004<<16|666 ||
		len(u.Attrs.LargeCommunities) != 1 || u.Attrs.LargeCommunities[0] != (bgpfeed.LargeCommunity{Global: 65004, Local1: 1, Local2: 1}) {
		t.Errorf("communities: %s", fmtUpdate(u))
	}
	checkAnnounce(t, got, lo4, "2001:4860::/33", "65004 64666", bgpfeed.OriginIncomplete, "2001:db8::4")

	// The API route: AS_SET kept as a set, and no single origin.
	u = checkAnnounce(t, got, lo4, "192.0.2.0/24", "65004 64670 {64671,64672}", bgpfeed.OriginEGP, "127.0.0.4")
	if !u.Attrs.Path.HasSet() || u.OriginASN() != 0 || u.Attrs.Path.Len() != 3 {
		t.Errorf("AS_SET path: set=%v origin=%d len=%d", u.Attrs.Path.HasSet(), u.OriginASN(), u.Attrs.Path.Len())
	}
	checkNoDuplicates(t, f.snapshot())
}
