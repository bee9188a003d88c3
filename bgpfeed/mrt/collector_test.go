package mrt

import "testing"

func TestCollectorName(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"data/rrc01.updates.20100827.0840.gz", "rrc01"},
		{"x/routeviews.route-views.jinx.updates.1427846400.bz2", "route-views.jinx"},
		{"a/route-views.jinx.updates.1427846400.bz2", "route-views.jinx"},
		{"archive/rrc06/2015.04/updates.20150401.0000.gz", "rrc06"},
		{"archive/route-views2/bgpdata/2008.02/UPDATES/updates.20080224.1839.bz2", "route-views2"},
		{"../shared/data/mrt/routeviews2-2008-youtube-hijack/updates.20080224.1839.bz2", "routeviews2-2008-youtube-hijack"},
		{"updates.20080224.1839.bz2", "updates.20080224.1839.bz2"},
		{"rrc23.updates.20220421.0200.gz", "rrc23"},
	} {
		want := tc.want
		if got := CollectorName(tc.path); got != want {
			t.Errorf("CollectorName(%q) = %q, want %q", tc.path, got, want)
		}
	}
}
