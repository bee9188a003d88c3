package speaker

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		return Config{
			ASN:      64512,
			RouterID: netip.MustParseAddr("10.0.0.1"),
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("192.0.2.1"), ASN: 65001},
				{Addr: netip.MustParseAddr("2001:db8::1"), ASN: 65002, LocalAddr: netip.MustParseAddr("2001:db8::2")},
			},
		}
	}
	long := strings.Repeat("x", 81)
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" when valid
		reason error
	}{
		{"valid", func(*Config) {}, "", nil},
		{"valid no listener", func(c *Config) { c.ListenPort = NoListen }, "", nil},
		{"valid 4-byte ASN", func(c *Config) { c.ASN = 4200000000 }, "", nil},
		{"zero ASN", func(c *Config) { c.ASN = 0 }, "ASN", ErrReservedASN},
		{"AS_TRANS", func(c *Config) { c.ASN = 23456 }, "ASN", ErrReservedASN},
		{"last ASN", func(c *Config) { c.ASN = 4294967295 }, "ASN", ErrReservedASN},
		{"no router ID", func(c *Config) { c.RouterID = netip.Addr{} }, "RouterID", ErrMissing},
		{"IPv6 router ID", func(c *Config) { c.RouterID = netip.MustParseAddr("2001:db8::1") }, "RouterID", nil},
		{"zero router ID", func(c *Config) { c.RouterID = netip.MustParseAddr("0.0.0.0") }, "RouterID", nil},
		{"multicast listen", func(c *Config) { c.ListenAddrs = []netip.Addr{netip.MustParseAddr("224.0.0.1")} }, "ListenAddrs[0]", ErrBadAddr},
		{"invalid listen", func(c *Config) { c.ListenAddrs = []netip.Addr{{}} }, "ListenAddrs[0]", ErrBadAddr},
		{"port too big", func(c *Config) { c.ListenPort = 70000 }, "ListenPort", ErrRange},
		{"port negative", func(c *Config) { c.ListenPort = -2 }, "ListenPort", ErrRange},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, "QueueSize", ErrRange},
		{"negative quiet", func(c *Config) { c.QuietPeriod = -time.Second }, "QuietPeriod", ErrRange},
		{"negative max table", func(c *Config) { c.MaxTableTransfer = -time.Second }, "MaxTableTransfer", ErrRange},
		{"neighbour without address", func(c *Config) { c.Neighbors[0].Addr = netip.Addr{} }, "Neighbors[0].Addr", ErrMissing},
		{"neighbour unspecified", func(c *Config) { c.Neighbors[0].Addr = netip.MustParseAddr("0.0.0.0") }, "Neighbors[0].Addr", ErrBadAddr},
		{"neighbour multicast", func(c *Config) { c.Neighbors[1].Addr = netip.MustParseAddr("ff02::1") }, "Neighbors[1].Addr", ErrBadAddr},
		{"neighbour bad ASN", func(c *Config) { c.Neighbors[1].ASN = 0 }, "Neighbors[1].ASN", ErrReservedASN},
		{"duplicate neighbour", func(c *Config) { c.Neighbors[1] = Neighbor{Addr: netip.MustParseAddr("192.0.2.1"), ASN: 65003} }, "Neighbors[1].Addr", ErrDuplicate},
		{"duplicate mapped", func(c *Config) { c.Neighbors[1] = Neighbor{Addr: netip.MustParseAddr("::ffff:192.0.2.1"), ASN: 65003} }, "Neighbors[1].Addr", ErrDuplicate},
		{"local family mix", func(c *Config) { c.Neighbors[1].LocalAddr = netip.MustParseAddr("192.0.2.2") }, "Neighbors[1].LocalAddr", ErrFamilyMix},
		{"passive with local", func(c *Config) { c.Neighbors[1].Passive = true }, "Neighbors[1].LocalAddr", ErrPassiveLocal},
		{"password too long", func(c *Config) { c.Neighbors[0].Password = long }, "Neighbors[0].Password", ErrPasswordLen},
		{"unknown family", func(c *Config) { c.Neighbors[0].Families = 1 << 5 }, "Neighbors[0].Families", ErrUnknownFamily},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mutate(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error on %s", tc.field)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("error %v, want one on field %s", err, tc.field)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("%v does not wrap ErrConfig", err)
			}
			if tc.reason != nil && !errors.Is(err, tc.reason) {
				t.Errorf("%v does not wrap %v", err, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "speaker: config: "+tc.field) {
				t.Errorf("message %q does not start with the field", err)
			}
			t.Log(err)
		})
	}
}

// New refuses an invalid configuration before starting anything, and
// AddNeighbor validates too.
func TestNewValidates(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Config{RouterID: netip.MustParseAddr("10.0.0.1")}); !errors.Is(err, ErrReservedASN) {
		t.Errorf("New without ASN: %v", err)
	}
	s := startSpeaker(t, Config{})
	err := s.AddNeighbor(ctx, Neighbor{Addr: netip.MustParseAddr("192.0.2.1")})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "Neighbor.ASN" {
		t.Errorf("AddNeighbor without ASN: %v", err)
	}
	if err := s.RemoveNeighbor(ctx, netip.MustParseAddr("192.0.2.9")); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("RemoveNeighbor of an unknown peer: %v", err)
	}
	// A port already taken fails New with the address in the message.
	_, err = New(ctx, Config{ASN: 64512, RouterID: netip.MustParseAddr("10.0.0.1"), ListenPort: int(s.Addr().Port())})
	if err == nil || !strings.Contains(err.Error(), "start bgp") {
		t.Errorf("New on a busy port: %v", err)
	}
	s.Close()
	if err := s.AddNeighbor(ctx, Neighbor{Addr: netip.MustParseAddr("192.0.2.1"), ASN: 65001}); !errors.Is(err, ErrClosed) {
		t.Errorf("AddNeighbor after Close: %v", err)
	}
}
