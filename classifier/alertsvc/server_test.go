package alertsvc

import (
	"slices"
	"testing"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// filterEvents are the events of TestAlertsFilters, sequences 1 to 6.
func filterEvents() []*pb.AlertEvent {
	e1 := event(1, pb.AlertType_ORIGIN_HIJACK, "203.0.113.0/24", 64500, 64500, []uint32{64496}, 0.9)
	e2 := event(2, pb.AlertType_SUBPREFIX_HIJACK, "203.0.113.128/25", 64501, 64501, []uint32{64496}, 0.7)
	e2.ExpectedPrefix = "203.0.113.0/24"
	e3 := event(3, pb.AlertType_PATH_HIJACK, "198.51.100.0/24", 64502, 64497, []uint32{64497}, 0.6)
	e4 := event(4, pb.AlertType_ROUTE_LEAK, "192.0.2.0/24", 64503, 64498, []uint32{64498}, 0.95)
	e4.Prefixes = []string{"192.0.2.0/24", "203.0.112.0/24"}
	e4.PrefixCount = 2
	e5 := event(5, pb.AlertType_ORIGIN_HIJACK, "2001:db8::/32", 64504, 64504, []uint32{64499}, 0.4)
	e6 := proto.Clone(e1).(*pb.AlertEvent)
	e6.Sequence, e6.State, e6.Resolution = 6, pb.AlertState_RESOLVED, "withdrawn"
	return []*pb.AlertEvent{e1, e2, e3, e4, e5, e6}
}

// TestAlertsFilters: each filter delivers exactly the matching events, to
// a live subscriber and to one that resumes from the history; a marker
// event published last (a copy of a matching event) proves that nothing
// else was delivered before it.
func TestAlertsFilters(t *testing.T) {
	types := func(ts ...pb.AlertType) *pb.AlertFilter { return &pb.AlertFilter{Types: ts} }
	cases := []struct {
		name   string
		filter *pb.AlertFilter
		want   []uint64
	}{
		{"none", nil, []uint64{1, 2, 3, 4, 5, 6}},
		{"empty", &pb.AlertFilter{}, []uint64{1, 2, 3, 4, 5, 6}},
		{"type", types(pb.AlertType_ORIGIN_HIJACK), []uint64{1, 5, 6}},
		{"two types", types(pb.AlertType_SUBPREFIX_HIJACK, pb.AlertType_ROUTE_LEAK), []uint64{2, 4}},
		{"exact prefix", &pb.AlertFilter{Prefixes: []string{"203.0.113.0/24"}}, []uint64{1, 2, 6}}, // 2 by its expected prefix
		{"exact more-specific", &pb.AlertFilter{Prefixes: []string{"203.0.113.128/25"}}, []uint64{2}},
		{"exact unmasked", &pb.AlertFilter{Prefixes: []string{"203.0.113.7/24"}}, []uint64{1, 2, 6}},
		{"exact listed prefix", &pb.AlertFilter{Prefixes: []string{"203.0.112.0/24"}}, []uint64{4}},
		{"exact no match", &pb.AlertFilter{Prefixes: []string{"203.0.113.0/23"}}, nil},
		{"covering", &pb.AlertFilter{CoveringPrefixes: []string{"203.0.112.0/22"}}, []uint64{1, 2, 4, 6}},
		{"covering itself", &pb.AlertFilter{CoveringPrefixes: []string{"198.51.100.0/24"}}, []uint64{3}},
		{"covering is not covered", &pb.AlertFilter{CoveringPrefixes: []string{"203.0.113.0/26"}}, nil},
		{"covering v6", &pb.AlertFilter{CoveringPrefixes: []string{"2001:db8::/16"}}, []uint64{5}},
		{"exact or covering", &pb.AlertFilter{Prefixes: []string{"192.0.2.0/24"}, CoveringPrefixes: []string{"2001::/16"}}, []uint64{4, 5}},
		{"asn expected", &pb.AlertFilter{Asns: []uint32{64496}}, []uint64{1, 2, 6}},
		{"asn origin", &pb.AlertFilter{Asns: []uint32{64497}}, []uint64{3}},
		{"asn suspect", &pb.AlertFilter{Asns: []uint32{64503, 64504}}, []uint64{4, 5}},
		{"min confidence", &pb.AlertFilter{MinConfidence: 0.9}, []uint64{1, 4, 6}},
		{"all conditions", &pb.AlertFilter{Types: []pb.AlertType{pb.AlertType_ORIGIN_HIJACK, pb.AlertType_ROUTE_LEAK},
			CoveringPrefixes: []string{"203.0.113.0/24"}, Asns: []uint32{64500}, MinConfidence: 0.5}, []uint64{1, 6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := serve(t, NewBroker(BrokerConfig{}), Config{})
			c := dial(t, addr)
			ctx := testCtx(t)
			live, cur := subscribe(t, ctx, c, &pb.SubscribeRequest{Filter: tc.filter})
			if cur != "0" {
				t.Errorf("cursor header %q, want 0", cur)
			}
			evs := filterEvents()
			for _, ev := range evs {
				s.Publish(ev)
			}
			since := uint64(0)
			replay, cur := subscribe(t, ctx, c, &pb.SubscribeRequest{Filter: tc.filter, Since: &since})
			if cur != "0" {
				t.Errorf("replay cursor header %q, want 0", cur)
			}
			// The marker: a copy of a matching event (or one built to
			// match), published last.
			var marker *pb.AlertEvent
			if len(tc.want) > 0 {
				marker = proto.Clone(evs[tc.want[0]-1]).(*pb.AlertEvent)
			} else {
				p := append(tc.filter.GetPrefixes(), tc.filter.GetCoveringPrefixes()...)[0]
				marker = event(0, pb.AlertType_ORIGIN_HIJACK, p, 1, 1, nil, 1)
			}
			marker.Sequence = 100
			s.Publish(marker)
			want := append(slices.Clone(tc.want), 100)
			for name, st := range map[string]grpcStream{"live": live, "replay": replay} {
				if got := seqs(recvN(t, st, len(want))); !slices.Equal(got, want) {
					t.Errorf("%s: got %v, want %v", name, got, want)
				}
			}
			// ListAlerts applies the same filter.
			resp, err := c.ListAlerts(ctx, &pb.ListAlertsRequest{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(resp.GetEvents()); !slices.Equal(got, want) {
				t.Errorf("ListAlerts: got %v, want %v", got, want)
			}
		})
	}
}

// TestAlertsBadFilters: a filter that cannot work is INVALID_ARGUMENT.
func TestAlertsBadFilters(t *testing.T) {
	_, addr := serve(t, NewBroker(BrokerConfig{}), Config{})
	c := dial(t, addr)
	ctx := testCtx(t)
	many := make([]uint32, MaxFilterASNs+1)
	for name, f := range map[string]*pb.AlertFilter{
		"bad prefix":     {Prefixes: []string{"203.0.113.0"}},
		"bad covering":   {CoveringPrefixes: []string{"nonsense"}},
		"confidence > 1": {MinConfidence: 1.5},
		"confidence < 0": {MinConfidence: -0.1},
		"unknown type":   {Types: []pb.AlertType{99}},
		"unspecified":    {Types: []pb.AlertType{pb.AlertType_ALERT_TYPE_UNSPECIFIED}},
		"too many ASNs":  {Asns: many},
	} {
		st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Filter: f})
		if err == nil {
			_, err = st.Recv()
		}
		wantCode(t, err, codes.InvalidArgument)
		_, err = c.ListAlerts(ctx, &pb.ListAlertsRequest{Filter: f})
		if st, _ := statusOf(err); st != codes.InvalidArgument {
			t.Errorf("%s: ListAlerts: %v", name, err)
		}
	}
}
