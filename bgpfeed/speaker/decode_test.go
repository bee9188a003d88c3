package speaker

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

func anyOf(t testing.TB, m *api.IPAddressPrefix) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDecodePrefix(t *testing.T) {
	tests := []struct {
		in   *api.IPAddressPrefix
		want string // "" for an error
	}{
		{&api.IPAddressPrefix{Prefix: "192.0.2.0", PrefixLen: 24}, "192.0.2.0/24"},
		{&api.IPAddressPrefix{Prefix: "192.0.2.77", PrefixLen: 24}, "192.0.2.0/24"}, // host bits masked
		{&api.IPAddressPrefix{Prefix: "0.0.0.0", PrefixLen: 0}, "0.0.0.0/0"},
		{&api.IPAddressPrefix{Prefix: "2001:db8::", PrefixLen: 32}, "2001:db8::/32"},
		{&api.IPAddressPrefix{Prefix: "::ffff:192.0.2.0", PrefixLen: 24}, "192.0.2.0/24"},
		{&api.IPAddressPrefix{Prefix: "192.0.2.0", PrefixLen: 33}, ""},
		{&api.IPAddressPrefix{Prefix: "not an address", PrefixLen: 8}, ""},
	}
	for _, tc := range tests {
		got, err := decodePrefix(anyOf(t, tc.in))
		if tc.want == "" {
			if err == nil {
				t.Errorf("%v: accepted as %s", tc.in, got)
			}
			continue
		}
		if err != nil || got != netip.MustParsePrefix(tc.want) {
			t.Errorf("%v: %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	other, _ := anypb.New(&api.LabeledIPAddressPrefix{Prefix: "192.0.2.0", PrefixLen: 24})
	if _, err := decodePrefix(other); err == nil {
		t.Error("a labelled prefix was taken for unicast")
	}
	if _, err := decodePrefix(nil); err == nil {
		t.Error("nil NLRI accepted")
	}
}

func FuzzDecodePrefix(f *testing.F) {
	for _, m := range []*api.IPAddressPrefix{
		{Prefix: "192.0.2.0", PrefixLen: 24}, {Prefix: "2001:db8::", PrefixLen: 32},
	} {
		a, _ := anypb.New(m)
		f.Add(a.Value)
	}
	typeURL := "type.googleapis.com/" + string(nameIPPrefix)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePrefix(&anypb.Any{TypeUrl: typeURL, Value: b})
		if err == nil && (!p.IsValid() || p != p.Masked()) {
			t.Fatalf("invalid prefix %s without error", p)
		}
		mpNextHops(b)
	})
}

// apiPath builds the API form of a path as GoBGP's watcher does.
func apiPath(t testing.TB, pfx string, attrs ...bgp.PathAttributeInterface) *api.Path {
	t.Helper()
	p := netip.MustParsePrefix(pfx)
	var nlri bgp.AddrPrefixInterface
	if p.Addr().Is4() {
		nlri = bgp.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String())
	} else {
		nlri = bgp.NewIPv6AddrPrefix(uint8(p.Bits()), p.Addr().String())
		for i, a := range attrs {
			if mp, ok := a.(*bgp.PathAttributeMpReachNLRI); ok {
				attrs[i] = bgp.NewPathAttributeMpReachNLRI(mp.Nexthop.String(), []bgp.AddrPrefixInterface{nlri})
			}
		}
	}
	ap, err := apiutil.NewPath(nlri, false, attrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// TestDecoderAttrs: every attribute bgpsentry keeps, AS_SET and
// confederation segments kept, and attribute sharing between paths of one
// UPDATE (IPv6 paths differ only in their MP_REACH NLRI).
func TestDecoderAttrs(t *testing.T) {
	d := &decoder{interner: bgpfeed.NewInterner(0)}
	asPath := bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{
		bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_CONFED_SEQ, []uint32{65100}),
		bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{64496, 64497}),
		bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SET, []uint32{64498, 64499}),
	})
	common := []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_EGP), asPath,
		bgp.NewPathAttributeMultiExitDisc(5), bgp.NewPathAttributeLocalPref(200),
		bgp.NewPathAttributeAtomicAggregate(), bgp.NewPathAttributeAggregator(uint32(64499), "192.0.2.9"),
		bgp.NewPathAttributeCommunities([]uint32{1<<16 | 2, 0xFFFFFF01}),
		bgp.NewPathAttributeLargeCommunities([]*bgp.LargeCommunity{bgp.NewLargeCommunity(4200000000, 1, 2)}),
	}
	p4 := apiPath(t, "192.0.2.0/24", append([]bgp.PathAttributeInterface{bgp.NewPathAttributeNextHop("198.51.100.1")}, common...)...)
	a, err := d.attrs(p4.Pattrs)
	if err != nil {
		t.Fatal(err)
	}
	want := bgpfeed.Attrs{
		OriginType: bgpfeed.OriginEGP, NextHop: netip.MustParseAddr("198.51.100.1"),
		MED: 5, HasMED: true, LocalPref: 200, HasLocalPref: true, AtomicAggregate: true,
		AggregatorASN: 64499, AggregatorAddr: netip.MustParseAddr("192.0.2.9"),
	}
	got := *a
	got.Path, got.Communities, got.LargeCommunities = nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attrs\n got %+v\nwant %+v", got, want)
	}
	if s := a.Path.String(); s != "(65100) 64496 64497 {64498,64499}" {
		t.Errorf("path %q", s)
	}
	if len(a.Communities) != 2 || a.Communities[1] != 0xFFFFFF01 || len(a.LargeCommunities) != 1 || a.LargeCommunities[0].Global != 4200000000 {
		t.Errorf("communities %v %v", a.Communities, a.LargeCommunities)
	}

	mp := bgp.NewPathAttributeMpReachNLRI("2001:db8::1", nil)
	x := apiPath(t, "2001:db8:1::/48", append([]bgp.PathAttributeInterface{mp}, common...)...)
	y := apiPath(t, "2001:db8:2::/48", append([]bgp.PathAttributeInterface{mp}, common...)...)
	ax, err := d.attrs(x.Pattrs)
	if err != nil {
		t.Fatal(err)
	}
	ay, _ := d.attrs(y.Pattrs)
	if ax != ay {
		t.Error("paths of one UPDATE do not share their attributes")
	}
	if ax.NextHop != netip.MustParseAddr("2001:db8::1") || ax.Path != a.Path {
		t.Errorf("IPv6 next hop %s, path shared %v", ax.NextHop, ax.Path == a.Path)
	}
	z := apiPath(t, "2001:db8:3::/48", append([]bgp.PathAttributeInterface{bgp.NewPathAttributeMpReachNLRI("2001:db8::2", nil)}, common...)...)
	if az, _ := d.attrs(z.Pattrs); az == ax || az.NextHop != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("a different next hop shared the attributes: %s", az.NextHop)
	}
}
