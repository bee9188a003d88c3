package alertsvc

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc/codes"
)

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// TestAlertsResume: a subscriber disconnects, events are published, it
// reconnects with its cursor and receives exactly the missed events, in
// order, without duplicates, then the live ones.
func TestAlertsResume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		filter *pb.AlertFilter
		evs    func() []*pb.AlertEvent
	}{
		{"no filter", nil, func() []*pb.AlertEvent { return plain(1, 30) }},
		{"filtered", &pb.AlertFilter{Types: []pb.AlertType{pb.AlertType_ROUTE_LEAK}}, func() []*pb.AlertEvent {
			evs := plain(1, 30)
			for _, ev := range evs {
				if ev.Sequence%3 == 0 {
					ev.Type = pb.AlertType_ROUTE_LEAK
				}
			}
			return evs
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := serve(t, NewBroker(BrokerConfig{}), Config{})
			c := dial(t, addr)
			evs := tc.evs()
			want := func(from, to uint64) []uint64 {
				var out []uint64
				for _, ev := range evs[from-1 : to] {
					if tc.filter == nil || ev.Type == pb.AlertType_ROUTE_LEAK {
						out = append(out, ev.Sequence)
					}
				}
				return out
			}

			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			st, cur := subscribe(t, ctx, c, &pb.SubscribeRequest{Filter: tc.filter})
			for _, ev := range evs[:10] {
				s.Publish(ev)
			}
			first := recvN(t, st, len(want(1, 10)))
			if got := seqs(first); !slices.Equal(got, want(1, 10)) {
				t.Fatalf("first connection: %v, want %v", got, want(1, 10))
			}
			cancel() // disconnect
			// The client's cursor: its last event, or the header's start.
			cursor, _ := strconv.ParseUint(cur, 10, 64)
			if len(first) > 0 {
				cursor = first[len(first)-1].Sequence
			}
			for _, ev := range evs[10:20] {
				s.Publish(ev)
			}
			ctx = testCtx(t)
			st, cur = subscribe(t, ctx, c, &pb.SubscribeRequest{Filter: tc.filter, Since: &cursor})
			if cur != strconv.FormatUint(cursor, 10) {
				t.Errorf("cursor header %q, want %d", cur, cursor)
			}
			missed := want(cursor+1, 20)
			if got := seqs(recvN(t, st, len(missed))); !slices.Equal(got, missed) {
				t.Fatalf("resumed: %v, want the missed %v", got, missed)
			}
			for _, ev := range evs[20:] {
				s.Publish(ev)
			}
			if got := seqs(recvN(t, st, len(want(21, 30)))); !slices.Equal(got, want(21, 30)) {
				t.Fatalf("live after resume: %v, want %v", got, want(21, 30))
			}
		})
	}
}

// TestAlertsHistoryOverflow: a cursor older than the history is
// OUT_OF_RANGE with the oldest cursor still accepted, in the message and
// in a CursorInfo detail; a cursor ahead of the newest event is
// INVALID_ARGUMENT; the oldest accepted cursor gets exactly the kept
// events.
func TestAlertsHistoryOverflow(t *testing.T) {
	s, addr := serve(t, NewBroker(BrokerConfig{HistorySize: 100}), Config{})
	c := dial(t, addr)
	ctx := testCtx(t)
	for _, ev := range plain(1, 250) {
		s.Publish(ev)
	}
	since := uint64(10)
	st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Since: &since})
	if err == nil {
		_, err = st.Recv()
	}
	ci := wantCode(t, err, codes.OutOfRange)
	if ci == nil || ci.OldestCursor != 150 || ci.LatestSequence != 250 {
		t.Errorf("detail %v, want oldest_cursor 150, latest_sequence 250", ci)
	}
	if !strings.Contains(err.Error(), "oldest cursor accepted is 150") {
		t.Errorf("message does not name the oldest cursor: %v", err)
	}
	_, err = c.ListAlerts(ctx, &pb.ListAlertsRequest{Since: &since})
	wantCode(t, err, codes.OutOfRange)

	since = 251
	st, err = c.Subscribe(ctx, &pb.SubscribeRequest{Since: &since})
	if err == nil {
		_, err = st.Recv()
	}
	wantCode(t, err, codes.InvalidArgument)

	since = 150
	st, _ = subscribe(t, ctx, c, &pb.SubscribeRequest{Since: &since})
	if got := seqs(recvN(t, st, 100)); !slices.Equal(got, seqRange(151, 250)) {
		t.Errorf("from the oldest cursor: %v", got)
	}
	stats := s.Broker().Stats()
	if stats.Kept != 100 || stats.Evicted != 150 || stats.Oldest != 150 || stats.Latest != 250 {
		t.Errorf("stats %+v", stats)
	}
}

// TestAlertsHistoryAge: events older than HistoryAge are dropped; a cursor
// into them is OUT_OF_RANGE.
func TestAlertsHistoryAge(t *testing.T) {
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	b := NewBroker(BrokerConfig{HistoryAge: time.Hour, Now: clock})
	for _, ev := range plain(1, 5) {
		b.Publish(ev)
	}
	now = now.Add(30 * time.Minute)
	for _, ev := range plain(6, 5) {
		b.Publish(ev)
	}
	now = now.Add(45 * time.Minute) // 1..5 are 75 minutes old
	_, addr := serve(t, b, Config{})
	c := dial(t, addr)
	ctx := testCtx(t)
	since := uint64(0)
	st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Since: &since})
	if err == nil {
		_, err = st.Recv()
	}
	if ci := wantCode(t, err, codes.OutOfRange); ci.GetOldestCursor() != 5 {
		t.Errorf("detail %v, want oldest_cursor 5", ci)
	}
	resp, err := c.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(resp.Events); !slices.Equal(got, seqRange(6, 10)) || resp.OldestSequence != 6 {
		t.Errorf("kept %v (oldest %d), want 6..10", got, resp.OldestSequence)
	}
}

// TestAlertsStartSequence: after a restart the broker starts at the
// Eventer's sequence: older cursors are out of range, not silently empty,
// and Publish refuses sequences that do not increase.
func TestAlertsStartSequence(t *testing.T) {
	b := NewBroker(BrokerConfig{StartSequence: 500})
	b.Publish(event(500, pb.AlertType_ORIGIN_HIJACK, "203.0.113.0/24", 1, 1, nil, 1))
	b.Publish(event(501, pb.AlertType_ORIGIN_HIJACK, "203.0.113.0/24", 1, 1, nil, 1))
	b.Publish(event(501, pb.AlertType_ORIGIN_HIJACK, "203.0.113.0/24", 1, 1, nil, 1))
	if st := b.Stats(); st.Published != 1 || st.Rejected != 2 || st.Latest != 501 {
		t.Errorf("stats %+v, want 1 published, 2 rejected", st)
	}
	_, addr := serve(t, b, Config{})
	c := dial(t, addr)
	ctx := testCtx(t)
	since := uint64(400)
	st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Since: &since})
	if err == nil {
		_, err = st.Recv()
	}
	if ci := wantCode(t, err, codes.OutOfRange); ci.GetOldestCursor() != 500 {
		t.Errorf("detail %v, want oldest_cursor 500", ci)
	}
	since = 500
	st, _ = subscribe(t, ctx, c, &pb.SubscribeRequest{Since: &since})
	if got := seqs(recvN(t, st, 1)); got[0] != 501 {
		t.Errorf("got %v", got)
	}
}

// TestAlertsPaging: ListAlerts pages through the matching events in
// order; tokens are tied to their filter.
func TestAlertsPaging(t *testing.T) {
	s, addr := serve(t, NewBroker(BrokerConfig{}), Config{})
	c := dial(t, addr)
	ctx := testCtx(t)
	evs := plain(1, 250)
	var want []uint64
	for _, ev := range evs {
		if ev.Sequence%2 == 0 {
			ev.Type = pb.AlertType_ROUTE_LEAK
			want = append(want, ev.Sequence)
		}
		s.Publish(ev)
	}
	filter := &pb.AlertFilter{Types: []pb.AlertType{pb.AlertType_ROUTE_LEAK}}
	var got []uint64
	tok, pages := "", 0
	for {
		resp, err := c.ListAlerts(ctx, &pb.ListAlertsRequest{Filter: filter, PageSize: 40, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if resp.LatestSequence != 250 || resp.OldestSequence != 1 {
			t.Errorf("latest %d oldest %d", resp.LatestSequence, resp.OldestSequence)
		}
		if len(resp.Events) > 40 {
			t.Fatalf("page of %d", len(resp.Events))
		}
		got = append(got, seqs(resp.Events)...)
		tok = resp.NextPageToken
		if tok == "" {
			break
		}
		if pages > 10 {
			t.Fatal("too many pages")
		}
	}
	if !slices.Equal(got, want) || pages != 4 {
		t.Errorf("%d pages, events %v, want 4 pages of %v", pages, got, want)
	}

	// since starts after a cursor; the default page size is 100.
	since := uint64(200)
	resp, err := c.ListAlerts(ctx, &pb.ListAlertsRequest{Since: &since})
	if err != nil {
		t.Fatal(err)
	}
	if g := seqs(resp.Events); !slices.Equal(g, seqRange(201, 250)) || resp.NextPageToken != "" {
		t.Errorf("since 200: %v, token %q", g, resp.NextPageToken)
	}
	resp, err = c.ListAlerts(ctx, &pb.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Events) != DefaultPageSize || resp.NextPageToken == "" {
		t.Errorf("default page: %d events, token %q", len(resp.Events), resp.NextPageToken)
	}

	// A token with another filter, a bad token, a negative page size.
	_, err = c.ListAlerts(ctx, &pb.ListAlertsRequest{PageToken: resp.NextPageToken, Filter: filter})
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.ListAlerts(ctx, &pb.ListAlertsRequest{PageToken: "!!"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.ListAlerts(ctx, &pb.ListAlertsRequest{PageSize: -1})
	wantCode(t, err, codes.InvalidArgument)
}

// TestAlertsPagingEvicted: a page token whose position was evicted since
// is OUT_OF_RANGE, not a silent gap.
func TestAlertsPagingEvicted(t *testing.T) {
	s, addr := serve(t, NewBroker(BrokerConfig{HistorySize: 50}), Config{})
	c := dial(t, addr)
	ctx := testCtx(t)
	for _, ev := range plain(1, 50) {
		s.Publish(ev)
	}
	resp, err := c.ListAlerts(ctx, &pb.ListAlertsRequest{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range plain(51, 20) {
		s.Publish(ev)
	}
	_, err = c.ListAlerts(ctx, &pb.ListAlertsRequest{PageSize: 10, PageToken: resp.NextPageToken})
	if ci := wantCode(t, err, codes.OutOfRange); ci.GetOldestCursor() != 20 {
		t.Errorf("detail %v, want oldest_cursor 20", ci)
	}
}
