package bgpfeed_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

func path(segs ...bgpfeed.Segment) *bgpfeed.Path { return bgpfeed.NewPath(segs) }

func seq(asns ...uint32) bgpfeed.Segment {
	return bgpfeed.Segment{Type: bgpfeed.SegSequence, ASNs: asns}
}

func set(asns ...uint32) bgpfeed.Segment { return bgpfeed.Segment{Type: bgpfeed.SegSet, ASNs: asns} }

var (
	t0 = time.Date(2024, 3, 1, 12, 0, 5, 0, time.UTC)
	// BGP4MP_ET carries microseconds.
	t0us = time.Date(2024, 3, 1, 12, 0, 5, 123456000, time.UTC)
)

// wireCases are Updates that must survive MarshalUpdate + UnmarshalUpdate.
var wireCases = []struct {
	name string
	u    bgpfeed.Update
}{
	{"ipv4 table entry with AS_SET", bgpfeed.Update{
		Time: t0, Source: "rrc00", Format: bgpfeed.FormatTableDumpV2, Kind: bgpfeed.KindAnnounce, Table: true,
		PeerAddr: netip.MustParseAddr("192.0.2.1"), PeerASN: 3333,
		Prefix: netip.MustParsePrefix("198.51.100.0/24"),
		Attrs: &bgpfeed.Attrs{
			Path:       path(seq(3333, 1103), set(64512, 64513)),
			OriginType: bgpfeed.OriginIncomplete, NextHop: netip.MustParseAddr("192.0.2.1"),
			MED: 10, HasMED: true, LocalPref: 100, HasLocalPref: true,
			AtomicAggregate: true, AggregatorASN: 1103, AggregatorAddr: netip.MustParseAddr("203.0.113.9"),
			Communities: []uint32{3333<<16 | 100, 1103<<16 | 2},
		},
	}},
	{"ipv6 announce with large communities", bgpfeed.Update{
		Time: t0us, Source: "route-views.amsix", Format: bgpfeed.FormatBGP4MPET, Kind: bgpfeed.KindAnnounce,
		PeerAddr: netip.MustParseAddr("2001:db8::1"), PeerASN: 4200000001,
		Prefix: netip.MustParsePrefix("2001:db8:1000::/36"),
		Attrs: &bgpfeed.Attrs{
			Path:    path(seq(4200000001, 6939, 13335)),
			NextHop: netip.MustParseAddr("fe80::1"),
			LargeCommunities: []bgpfeed.LargeCommunity{
				{Global: 4200000001, Local1: 1, Local2: 2},
				{Global: 6939, Local1: 4294967295, Local2: 0},
			},
		},
	}},
	{"ipv4 withdraw", bgpfeed.Update{
		Time: t0, Source: "rrc01", Format: bgpfeed.FormatBGP4MP, Kind: bgpfeed.KindWithdraw,
		PeerAddr: netip.MustParseAddr("192.0.2.7"), PeerASN: 65001,
		Prefix: netip.MustParsePrefix("10.0.0.0/8"),
	}},
	{"state change", bgpfeed.Update{
		Time: t0, Source: "rrc00", Format: bgpfeed.FormatBGP4MP, Kind: bgpfeed.KindState,
		PeerAddr: netip.MustParseAddr("2001:db8::7"), PeerASN: 65002,
		OldState: bgpfeed.StateEstablished, NewState: 1,
	}},
	{"add-path ipv6 announce", bgpfeed.Update{
		Time: t0, Source: "lab", Format: bgpfeed.FormatSession, Kind: bgpfeed.KindAnnounce,
		PeerAddr: netip.MustParseAddr("2001:db8::2"), PeerASN: 65003,
		Prefix: netip.MustParsePrefix("2001:db8:ffff::/48"), PathID: 42,
		Attrs: &bgpfeed.Attrs{Path: path(seq(65003, 65010)), NextHop: netip.MustParseAddr("2001:db8::2")},
	}},
	{"add-path withdraw", bgpfeed.Update{
		Time: t0, Source: "lab", Format: bgpfeed.FormatSession, Kind: bgpfeed.KindWithdraw,
		PeerAddr: netip.MustParseAddr("192.0.2.2"), PeerASN: 65003,
		Prefix: netip.MustParsePrefix("192.0.2.0/24"), PathID: 4294967295,
	}},
	{"ibgp empty path, default route, local", bgpfeed.Update{
		Time: t0, Source: "rrc00", Format: bgpfeed.FormatBGP4MP, Kind: bgpfeed.KindAnnounce, Local: true,
		PeerAddr: netip.MustParseAddr("192.0.2.3"), PeerASN: 12654,
		Prefix: netip.MustParsePrefix("0.0.0.0/0"),
		Attrs:  &bgpfeed.Attrs{Path: path(), OriginType: bgpfeed.OriginEGP},
	}},
	{"confederation segments and unnamed numbers pass through", bgpfeed.Update{
		Time: t0, Source: "rrc00", Format: bgpfeed.Format(200), Kind: bgpfeed.KindAnnounce,
		PeerAddr: netip.MustParseAddr("::ffff:192.0.2.4"), PeerASN: 65004,
		Prefix: netip.MustParsePrefix("2001:db8::/128"),
		Attrs: &bgpfeed.Attrs{
			Path: path(
				bgpfeed.Segment{Type: bgpfeed.SegConfedSequence, ASNs: []uint32{65100, 65101}},
				bgpfeed.Segment{Type: bgpfeed.SegConfedSet, ASNs: []uint32{65102}},
				seq(65004), set(), bgpfeed.Segment{Type: 9, ASNs: []uint32{1}}, seq(7),
			),
			OriginType: 7,
		},
	}},
	{"zero time and no peer", bgpfeed.Update{
		Source: "prefix2as", Format: bgpfeed.FormatPrefix2AS, Kind: bgpfeed.KindAnnounce, Table: true,
		Prefix: netip.MustParsePrefix("203.0.113.0/24"),
		Attrs:  &bgpfeed.Attrs{Path: path(set(64496))},
	}},
}

// diffUpdate describes how got differs from want ("" when equal). Slices
// compare by content (nil equals empty); Paths by segments and derived
// values.
func diffUpdate(want, got *bgpfeed.Update) string {
	var d []string
	check := func(field string, ok bool, w, g any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %v, want %v", field, g, w))
		}
	}
	check("Time", want.Time.Equal(got.Time) && want.Time.IsZero() == got.Time.IsZero(), want.Time, got.Time)
	check("Source", want.Source == got.Source, want.Source, got.Source)
	check("Format", want.Format == got.Format, want.Format, got.Format)
	check("Kind", want.Kind == got.Kind, want.Kind, got.Kind)
	check("Table", want.Table == got.Table, want.Table, got.Table)
	check("Local", want.Local == got.Local, want.Local, got.Local)
	check("PeerAddr", want.PeerAddr == got.PeerAddr, want.PeerAddr, got.PeerAddr)
	check("PeerASN", want.PeerASN == got.PeerASN, want.PeerASN, got.PeerASN)
	check("Prefix", want.Prefix == got.Prefix, want.Prefix, got.Prefix)
	check("PathID", want.PathID == got.PathID, want.PathID, got.PathID)
	check("OldState", want.OldState == got.OldState, want.OldState, got.OldState)
	check("NewState", want.NewState == got.NewState, want.NewState, got.NewState)
	wa, ga := want.Attrs, got.Attrs
	if (wa == nil) != (ga == nil) {
		check("Attrs", false, wa, ga)
		return strings.Join(d, "; ")
	}
	if wa == nil {
		return strings.Join(d, "; ")
	}
	check("Attrs.OriginType", wa.OriginType == ga.OriginType, wa.OriginType, ga.OriginType)
	check("Attrs.NextHop", wa.NextHop == ga.NextHop, wa.NextHop, ga.NextHop)
	check("Attrs.LocalPref", wa.LocalPref == ga.LocalPref && wa.HasLocalPref == ga.HasLocalPref,
		fmt.Sprint(wa.LocalPref, wa.HasLocalPref), fmt.Sprint(ga.LocalPref, ga.HasLocalPref))
	check("Attrs.MED", wa.MED == ga.MED && wa.HasMED == ga.HasMED, fmt.Sprint(wa.MED, wa.HasMED), fmt.Sprint(ga.MED, ga.HasMED))
	check("Attrs.AtomicAggregate", wa.AtomicAggregate == ga.AtomicAggregate, wa.AtomicAggregate, ga.AtomicAggregate)
	check("Attrs.AggregatorASN", wa.AggregatorASN == ga.AggregatorASN, wa.AggregatorASN, ga.AggregatorASN)
	check("Attrs.AggregatorAddr", wa.AggregatorAddr == ga.AggregatorAddr, wa.AggregatorAddr, ga.AggregatorAddr)
	check("Attrs.Communities", slices.Equal(wa.Communities, ga.Communities), wa.Communities, ga.Communities)
	check("Attrs.LargeCommunities", slices.Equal(wa.LargeCommunities, ga.LargeCommunities), wa.LargeCommunities, ga.LargeCommunities)
	if ga.Path == nil {
		check("Attrs.Path", false, wa.Path, "nil")
		return strings.Join(d, "; ")
	}
	wp, gp := wa.Path, ga.Path
	var wsegs []bgpfeed.Segment
	if wp != nil {
		wsegs = wp.Segments
	}
	check("Attrs.Path", slices.EqualFunc(wsegs, gp.Segments, func(a, b bgpfeed.Segment) bool {
		return a.Type == b.Type && slices.Equal(a.ASNs, b.ASNs)
	}), wsegs, gp.Segments)
	check("Attrs.Path.Origin()", wp.Origin() == gp.Origin(), wp.Origin(), gp.Origin())
	check("Attrs.Path.Len()", wp.Len() == gp.Len(), wp.Len(), gp.Len())
	check("Attrs.Path.HasSet()", wp.HasSet() == gp.HasSet(), wp.HasSet(), gp.HasSet())
	return strings.Join(d, "; ")
}

func TestWireRoundTrip(t *testing.T) {
	in := bgpfeed.NewInterner(0)
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("keep")
			b, err := bgpfeed.MarshalUpdate(&tc.u, prefix)
			if err != nil {
				t.Fatalf("MarshalUpdate: %v", err)
			}
			if string(b[:4]) != "keep" {
				t.Fatalf("MarshalUpdate did not append to buf: % x", b)
			}
			got, err := bgpfeed.UnmarshalUpdate(b[4:], in)
			if err != nil {
				t.Fatalf("UnmarshalUpdate: %v", err)
			}
			if d := diffUpdate(&tc.u, &got); d != "" {
				t.Errorf("round trip: %s", d)
			}
			if !got.Time.IsZero() && got.Time.Location() != time.UTC {
				t.Errorf("time location %v, want UTC", got.Time.Location())
			}
			// The same bytes again share the interned Path.
			again, err := bgpfeed.UnmarshalUpdate(b[4:], in)
			if err != nil {
				t.Fatalf("UnmarshalUpdate again: %v", err)
			}
			if got.Attrs != nil && again.Attrs.Path != got.Attrs.Path {
				t.Errorf("equal paths not interned: %p != %p", again.Attrs.Path, got.Attrs.Path)
			}
		})
	}
}

func TestWireNilInterner(t *testing.T) {
	u := wireCases[0].u
	b, err := bgpfeed.MarshalUpdate(&u, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bgpfeed.UnmarshalUpdate(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffUpdate(&u, &got); d != "" {
		t.Errorf("round trip without interner: %s", d)
	}
}

func TestWireNormalisations(t *testing.T) {
	local := time.Date(2024, 3, 1, 13, 0, 5, 7, time.FixedZone("CET", 3600))
	u := bgpfeed.Update{Time: local, Kind: bgpfeed.KindAnnounce, Prefix: netip.MustParsePrefix("192.0.2.0/24"),
		Attrs: &bgpfeed.Attrs{}} // nil Path
	b, err := bgpfeed.MarshalUpdate(&u, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bgpfeed.UnmarshalUpdate(b, bgpfeed.NewInterner(0))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(local) || got.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", got.Time, local)
	}
	if got.Attrs.Path == nil || len(got.Attrs.Path.Segments) != 0 {
		t.Errorf("nil Path came back as %#v, want an empty Path", got.Attrs.Path)
	}
}

// TestWireGolden pins the wire form: bytes written by hand from
// update.proto must keep decoding to the same Update.
func TestWireGolden(t *testing.T) {
	const golden = "" +
		"08 80 e4 d9 94 c8 c6 a8 dc 17" + // 1: time_unix_ns 1709294405000000000
		"12 05 72 72 63 30 30" + // 2: source "rrc00"
		"18 01" + // 3: format BGP4MP
		"20 01" + // 4: kind ANNOUNCE
		"3a 04 c0 00 02 01" + // 7: peer_addr 192.0.2.1
		"40 85 1a" + // 8: peer_asn 3333
		"4a 04 c6 33 64 00" + // 9: prefix_addr 198.51.100.0
		"50 18" + // 10: prefix_len 24
		"62 1f" + // 12: attrs, 31 bytes
		"0a 08 08 02 12 04 85 1a cf 08" + // 1: as_path segment AS_SEQUENCE [3333 1103]
		"0a 07 08 01 12 03 80 f8 03" + // 1: as_path segment AS_SET [64512]
		"1a 04 c0 00 02 01" + // 3: next_hop 192.0.2.1
		"5a 04 64 00 05 0d" // 11: communities [3333:100]
	b, err := hex.DecodeString(strings.ReplaceAll(golden, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	got, err := bgpfeed.UnmarshalUpdate(b, bgpfeed.NewInterner(0))
	if err != nil {
		t.Fatal(err)
	}
	want := bgpfeed.Update{
		Time: t0, Source: "rrc00", Format: bgpfeed.FormatBGP4MP, Kind: bgpfeed.KindAnnounce,
		PeerAddr: netip.MustParseAddr("192.0.2.1"), PeerASN: 3333, Prefix: netip.MustParsePrefix("198.51.100.0/24"),
		Attrs: &bgpfeed.Attrs{
			Path:        path(seq(3333, 1103), set(64512)),
			NextHop:     netip.MustParseAddr("192.0.2.1"),
			Communities: []uint32{3333<<16 | 100},
		},
	}
	if d := diffUpdate(&want, &got); d != "" {
		t.Errorf("golden: %s", d)
	}
}

func TestMarshalUpdateErrors(t *testing.T) {
	ok := func() bgpfeed.Update {
		return bgpfeed.Update{Time: t0, Kind: bgpfeed.KindAnnounce, PeerAddr: netip.MustParseAddr("192.0.2.1"),
			Prefix: netip.MustParsePrefix("192.0.2.0/24"), Attrs: &bgpfeed.Attrs{Path: path(seq(1))}}
	}
	tests := []struct {
		name   string
		edit   func(u *bgpfeed.Update)
		field  string
		inText string
	}{
		{"unknown kind", func(u *bgpfeed.Update) { u.Kind = 0 }, "kind", "unknown kind 0"},
		{"zoned peer address", func(u *bgpfeed.Update) { u.PeerAddr = netip.MustParseAddr("fe80::1%eth0") }, "peer_addr", "zone"},
		{"zoned next hop", func(u *bgpfeed.Update) { u.Attrs.NextHop = netip.MustParseAddr("fe80::1%eth0") }, "attrs.next_hop", "zone"},
		{"zoned aggregator", func(u *bgpfeed.Update) { u.Attrs.AggregatorAddr = netip.MustParseAddr("fe80::2%eth1") }, "attrs.aggregator_addr", "zone"},
		{"prefix length beyond address", func(u *bgpfeed.Update) {
			u.Prefix = netip.PrefixFrom(netip.MustParseAddr("192.0.2.0"), 33)
		}, "prefix_len", "invalid prefix length"},
		{"time before 1678", func(u *bgpfeed.Update) { u.Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }, "time_unix_ns", "outside"},
		{"source not UTF-8", func(u *bgpfeed.Update) { u.Source = "rrc\xff" }, "", "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := ok()
			tc.edit(&u)
			buf := []byte("x")
			out, err := bgpfeed.MarshalUpdate(&u, buf)
			checkWireErr(t, err, "marshal", tc.field, tc.inText)
			if string(out) != "x" {
				t.Errorf("buf changed on error: %q", out)
			}
		})
	}
	if _, err := bgpfeed.MarshalUpdate(nil, nil); !errors.Is(err, bgpfeed.ErrWire) {
		t.Errorf("nil Update: err %v, want ErrWire", err)
	}
}

func TestUnmarshalUpdateErrors(t *testing.T) {
	base := func() *pb.Update {
		return &pb.Update{
			Kind: pb.Kind_KIND_ANNOUNCE, PeerAddr: []byte{192, 0, 2, 1},
			PrefixAddr: []byte{192, 0, 2, 0}, PrefixLen: 24,
			Attrs: &pb.Attrs{AsPath: []*pb.Segment{{Type: pb.Segment_TYPE_AS_SEQUENCE, Asns: []uint32{1}}}},
		}
	}
	v6 := make([]byte, 16)
	tests := []struct {
		name   string
		edit   func(m *pb.Update)
		field  string
		inText string
	}{
		{"kind unspecified", func(m *pb.Update) { m.Kind = pb.Kind_KIND_UNSPECIFIED }, "kind", "unknown kind 0"},
		{"kind unknown", func(m *pb.Update) { m.Kind = 9 }, "kind", "unknown kind 9"},
		{"format out of range", func(m *pb.Update) { m.Format = 256 }, "format", "out of range"},
		{"format negative", func(m *pb.Update) { m.Format = -1 }, "format", "out of range"},
		{"old state out of range", func(m *pb.Update) { m.OldState = 300 }, "old_state", "out of range"},
		{"new state out of range", func(m *pb.Update) { m.NewState = 1 << 31 }, "new_state", "out of range"},
		{"peer address of 5 bytes", func(m *pb.Update) { m.PeerAddr = []byte{1, 2, 3, 4, 5} }, "peer_addr", "5 bytes, want 4 or 16"},
		{"prefix address of 3 bytes", func(m *pb.Update) { m.PrefixAddr = []byte{10, 0, 0} }, "prefix_addr", "3 bytes"},
		{"ipv4 prefix length 33", func(m *pb.Update) { m.PrefixLen = 33 }, "prefix_len", "33 exceeds the 32 bits"},
		{"ipv6 prefix length 129", func(m *pb.Update) { m.PrefixAddr, m.PrefixLen = v6, 129 }, "prefix_len", "129 exceeds the 128 bits"},
		{"prefix length without address", func(m *pb.Update) { m.PrefixAddr = nil }, "prefix_len", "without prefix_addr"},
		{"next hop of 1 byte", func(m *pb.Update) { m.Attrs.NextHop = []byte{1} }, "attrs.next_hop", "1 bytes"},
		{"aggregator of 17 bytes", func(m *pb.Update) { m.Attrs.AggregatorAddr = make([]byte, 17) }, "attrs.aggregator_addr", "17 bytes"},
		{"origin type out of range", func(m *pb.Update) { m.Attrs.OriginType = 256 }, "attrs.origin_type", "out of range"},
		{"segment type out of range", func(m *pb.Update) {
			m.Attrs.AsPath = append(m.Attrs.AsPath, &pb.Segment{Type: 1000})
		}, "attrs.as_path[1].type", "out of range"},
		{"segment type negative", func(m *pb.Update) { m.Attrs.AsPath[0].Type = -2 }, "attrs.as_path[0].type", "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = bgpfeed.UnmarshalUpdate(b, bgpfeed.NewInterner(0))
			checkWireErr(t, err, "unmarshal", tc.field, tc.inText)
		})
	}
}

func checkWireErr(t *testing.T, err error, op, field, inText string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, bgpfeed.ErrWire) {
		t.Errorf("error %v does not wrap ErrWire", err)
	}
	var we *bgpfeed.WireError
	if !errors.As(err, &we) {
		t.Fatalf("error %v is not a *WireError", err)
	}
	if we.Op != op || we.Field != field {
		t.Errorf("error %v: op %q field %q, want %q %q", err, we.Op, we.Field, op, field)
	}
	if !strings.Contains(err.Error(), inText) || !strings.HasPrefix(err.Error(), "bgpfeed: "+op+" update: ") {
		t.Errorf("error %q: want prefix %q and text %q", err, "bgpfeed: "+op+" update: ", inText)
	}
}

// junk is input that is not an Update.
var junk = []struct {
	name string
	b    []byte
}{
	{"empty (no kind)", nil},
	{"ff bytes", []byte{0xff, 0xff, 0xff, 0xff}},
	{"text", []byte("not a protobuf message at all")},
	{"field 0", []byte{0x00, 0x01}},
	{"truncated varint", []byte{0x08, 0x80, 0x80}},
	{"length beyond end", []byte{0x12, 0x7f, 'r'}},
	{"group wire type", []byte{0x0b, 0x0c}},
	{"attrs not a message", []byte{0x20, 0x01, 0x62, 0x03, 0xff, 0xff, 0xff}},
	{"invalid UTF-8 source", []byte{0x20, 0x01, 0x12, 0x01, 0xff}},
}

func TestUnmarshalUpdateJunk(t *testing.T) {
	in := bgpfeed.NewInterner(0)
	for _, tc := range junk {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := bgpfeed.UnmarshalUpdate(tc.b, in); !errors.Is(err, bgpfeed.ErrWire) {
				t.Errorf("err %v, want one wrapping ErrWire", err)
			}
		})
	}
	// Every truncation of a valid message, and random bytes: an error or
	// an Update, never a panic.
	u := wireCases[0].u
	b, err := bgpfeed.MarshalUpdate(&u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		_, _ = bgpfeed.UnmarshalUpdate(b[:n], in)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		junk := make([]byte, r.IntN(64))
		for i := range junk {
			junk[i] = byte(r.UintN(256))
		}
		_, _ = bgpfeed.UnmarshalUpdate(junk, in)
	}
}

func FuzzUnmarshalUpdate(f *testing.F) {
	for _, tc := range wireCases {
		b, err := bgpfeed.MarshalUpdate(&tc.u, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range junk {
		f.Add(tc.b)
	}
	in := bgpfeed.NewInterner(1 << 10)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := bgpfeed.UnmarshalUpdate(b, in)
		if err != nil {
			if !errors.Is(err, bgpfeed.ErrWire) {
				t.Fatalf("error %v does not wrap ErrWire", err)
			}
			return
		}
		// What decodes must encode again, to the same Update.
		b2, err := bgpfeed.MarshalUpdate(&u, nil)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", u, err)
		}
		u2, err := bgpfeed.UnmarshalUpdate(b2, in)
		if err != nil {
			t.Fatalf("re-encoded update does not decode: %v", err)
		}
		if d := diffUpdate(&u, &u2); d != "" {
			t.Fatalf("second round trip: %s", d)
		}
	})
}

var (
	sinkBytes  []byte
	sinkUpdate bgpfeed.Update
)

func BenchmarkMarshalUpdate(b *testing.B) {
	for _, tc := range wireCases[:4] {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				buf, err = bgpfeed.MarshalUpdate(&tc.u, buf[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
			sinkBytes = buf
		})
	}
}

func BenchmarkUnmarshalUpdate(b *testing.B) {
	for _, tc := range wireCases[:4] {
		b.Run(tc.name, func(b *testing.B) {
			in := bgpfeed.NewInterner(0)
			buf, err := bgpfeed.MarshalUpdate(&tc.u, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				sinkUpdate, err = bgpfeed.UnmarshalUpdate(buf, in)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
