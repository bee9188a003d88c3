package bogon

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		bogon  bool
		reason string // substring of the reason
	}{
		{"10.0.0.0/8", true, "RFC 1918"},
		{"10.20.30.0/24", true, "RFC 1918"},
		{"11.0.0.0/8", false, ""},
		{"9.255.255.0/24", false, ""},
		{"172.16.0.0/12", true, "RFC 1918"},
		{"172.31.255.0/24", true, "RFC 1918"},
		{"172.32.0.0/16", false, ""},
		{"172.15.0.0/16", false, ""},
		{"100.64.0.0/10", true, "RFC 6598"},
		{"100.128.0.0/10", false, ""},
		{"192.168.1.0/24", true, "RFC 1918"},
		{"192.0.2.0/24", true, "RFC 5737"},
		{"192.0.0.0/24", true, "RFC 6890"},
		{"192.0.0.9/32", false, ""}, // PCP anycast exception
		{"192.0.0.8/32", true, "RFC 6890"},
		{"192.31.196.0/24", false, ""}, // AS112, globally reachable
		{"192.88.99.0/24", true, "RFC 7526"},
		{"198.18.0.0/15", true, "RFC 2544"},
		{"198.19.255.0/24", true, "RFC 2544"},
		{"198.20.0.0/16", false, ""},
		{"203.0.113.0/24", true, "RFC 5737"},
		{"224.0.0.0/4", true, "RFC 5771"},
		{"239.255.255.0/24", true, "RFC 5771"},
		{"240.0.0.0/4", true, "RFC 1112"},
		{"255.255.255.255/32", true, "RFC 919"},
		{"223.255.255.0/24", false, ""},
		{"0.0.0.0/8", true, "RFC 791"},
		{"0.0.0.0/0", true, "default route"},
		{"192.0.0.0/2", false, ""}, // covers bogons, is not one
		{"1.1.1.0/24", false, ""},
		{"8.8.8.0/24", false, ""},
		// IPv6
		{"::/0", true, "default route"},
		{"2001:db8::/32", true, "RFC 3849"},
		{"2001:db8:1234::/48", true, "RFC 3849"},
		{"2001:db9::/32", false, ""},
		{"2001::/32", false, ""}, // TEREDO
		{"2001:2::/48", true, "RFC 5180"},
		{"2001:10::/28", true, "RFC 4843"},
		{"2001:20::/28", false, ""}, // ORCHIDv2
		{"2002::/16", true, "RFC 3056"},
		{"2002:c000:0204::/48", true, "RFC 3056"},
		{"2a00:1450::/32", false, ""},
		{"2600::/12", false, ""},
		{"3ffe:1::/32", true, "RFC 3701"},
		{"3fff::/20", true, "RFC 9637"},
		{"3fff:1000::/20", false, ""},
		{"fc00::/7", true, "RFC 4193"},
		{"fd12:3456::/32", true, "RFC 4193"},
		{"fe80::/64", true, "RFC 4291"},
		{"ff02::/16", true, "multicast"},
		{"::1/128", true, "loopback"},
		{"::ffff:10.0.0.0/104", true, "IPv4-mapped"},
		{"64:ff9b::/96", true, "RFC 6052"},
		{"100::/64", true, "RFC 6666"},
		{"100::/8", true, "outside global unicast"},
		{"4000::/3", true, "outside global unicast"},
		{"5f00::/16", true, "RFC 9602"},
		{"1fff::/16", true, "outside global unicast"},
		{"2000::/3", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			got, reason := Prefix(netip.MustParsePrefix(tc.prefix))
			if got != tc.bogon || !strings.Contains(reason, tc.reason) || (!got && reason != "") {
				t.Errorf("Prefix(%s) = %v, %q; want %v, ~%q", tc.prefix, got, reason, tc.bogon, tc.reason)
			}
		})
	}
	if got, _ := Prefix(netip.Prefix{}); !got {
		t.Error("invalid prefix must be a bogon")
	}
}

func TestASN(t *testing.T) {
	tests := []struct {
		asn    uint32
		bogon  bool
		reason string
	}{
		{0, true, "RFC 7607"},
		{1, false, ""},
		{3356, false, ""},
		{23455, false, ""},
		{23456, true, "AS_TRANS"},
		{23457, false, ""},
		{64495, false, ""},
		{64496, true, "RFC 5398"},
		{64511, true, "RFC 5398"},
		{64512, true, "RFC 6996"},
		{65000, true, "RFC 6996"},
		{65534, true, "RFC 6996"},
		{65535, true, "RFC 7300"},
		{65536, true, "RFC 5398"},
		{65551, true, "RFC 5398"},
		{65552, true, "IANA"},
		{131071, true, "IANA"},
		{131072, false, ""},
		{399999, false, ""},
		{4199999999, false, ""},
		{4200000000, true, "RFC 6996"},
		{4294967294, true, "RFC 6996"},
		{4294967295, true, "RFC 7300"},
	}
	for _, tc := range tests {
		got, reason := ASN(tc.asn)
		if got != tc.bogon || !strings.Contains(reason, tc.reason) {
			t.Errorf("ASN(%d) = %v, %q; want %v, ~%q", tc.asn, got, reason, tc.bogon, tc.reason)
		}
	}
}

func TestASNTableSorted(t *testing.T) {
	for i, r := range asnTable {
		if r.lo > r.hi {
			t.Errorf("entry %d: lo %d > hi %d", i, r.lo, r.hi)
		}
		if i > 0 && r.lo <= asnTable[i-1].hi {
			t.Errorf("entry %d (%d-%d) overlaps or precedes entry %d", i, r.lo, r.hi, i-1)
		}
	}
}

func TestPrefixTableCanonical(t *testing.T) {
	for _, e := range prefixTable {
		p := netip.MustParsePrefix(e.prefix)
		if p != p.Masked() {
			t.Errorf("%s has host bits set", e.prefix)
		}
		if !strings.Contains(e.reason, "RFC") {
			t.Errorf("%s: reason %q cites no RFC", e.prefix, e.reason)
		}
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		name        string
		path        []uint32
		count, frst int
	}{
		{"clean", []uint32{3356, 1299, 13335}, 0, -1},
		{"empty", nil, 0, -1},
		// Real route from RIS rrc23, 2022-04-21 02:00 (PROVENANCE.md):
		// 103.109.236.0/24 originated by AS65551.
		{"rrc23 documentation origin", []uint32{137409, 17494, 137491, 58689, 137464, 65551}, 1, 5},
		{"private in the middle, prepended", []uint32{174, 65001, 65001, 65001, 13335}, 1, 1},
		{"private and documentation", []uint32{174, 65001, 64500}, 2, 1},
		{"two distinct", []uint32{23456, 3356, 4200000001}, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, f := Path(tc.path)
			if c != tc.count || f != tc.frst {
				t.Errorf("Path(%v) = %d, %d; want %d, %d", tc.path, c, f, tc.count, tc.frst)
			}
		})
	}
}

func BenchmarkPrefix(b *testing.B) {
	ps := []netip.Prefix{
		netip.MustParsePrefix("8.8.8.0/24"),
		netip.MustParsePrefix("10.1.2.0/24"),
		netip.MustParsePrefix("2a00:1450::/32"),
		netip.MustParsePrefix("2001:db8::/48"),
	}
	b.ReportAllocs()
	i := 0
	var sink bool
	for b.Loop() {
		sink, _ = Prefix(ps[i&3])
		i++
	}
	_ = sink
}

// FuzzPrefix checks the trie-based lookup against a linear scan of the
// table: the most specific covering entry decides.
func FuzzPrefix(f *testing.F) {
	f.Add([]byte{10, 1, 2, 3}, uint8(24))
	f.Add([]byte{192, 0, 0, 9}, uint8(32))
	f.Add([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(48))
	f.Add([]byte{0x20, 0x02}, uint8(16))
	f.Fuzz(func(t *testing.T, addr []byte, bits uint8) {
		var a netip.Addr
		switch {
		case len(addr) >= 16:
			a = netip.AddrFrom16([16]byte(addr[:16]))
		case len(addr) >= 4:
			a = netip.AddrFrom4([4]byte(addr[:4]))
		default:
			return
		}
		p := netip.PrefixFrom(a, int(bits)%(a.BitLen()+1)).Masked()
		got, reason := Prefix(p)
		want, wantReason, bestBits := false, "", -1
		for _, e := range prefixTable {
			q := netip.MustParsePrefix(e.prefix)
			if q.Addr().Is4() == p.Addr().Is4() && q.Bits() <= p.Bits() && q.Contains(p.Addr()) && q.Bits() > bestBits {
				bestBits, want, wantReason = q.Bits(), e.bogon, e.reason
			}
		}
		if !want {
			wantReason = ""
		}
		if p.Bits() == 0 {
			want, wantReason = true, "default route"
		}
		if got != want || reason != wantReason {
			t.Fatalf("Prefix(%v) = %v %q, linear scan %v %q", p, got, reason, want, wantReason)
		}
	})
}
