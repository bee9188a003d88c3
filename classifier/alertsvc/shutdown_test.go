package alertsvc

import (
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// TestAlertsShutdown: Shutdown ends the subscriptions with UNAVAILABLE and
// their cursor, finishes even when a client does not read, and leaves no
// goroutine behind; a second Server on the same Broker resumes.
func TestAlertsShutdown(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	b := NewBroker(BrokerConfig{})
	s, err := New(b, Config{})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	c := pb.NewAlertServiceClient(cc)
	ctx := testCtx(t)
	reader, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{})
	stalled, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{})
	for _, ev := range plain(1, 600) { // more than the stalled windows hold
		s.Publish(ev)
	}
	recvN(t, reader, 600)

	// The stalled client's status waits behind the data its window does
	// not take: the graceful part ends with the deadline, then the
	// connections close.
	t0 := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	_, err = reader.Recv()
	if ci := wantCode(t, err, codes.Unavailable); ci.GetLastSequence() != 600 {
		t.Errorf("reader's detail %v, want last_sequence 600", ci)
	}
	var last uint64
	for {
		ev, err := stalled.Recv()
		if err != nil {
			// UNAVAILABLE: with the cursor when the status got through,
			// or the closed connection.
			if ci := wantCode(t, err, codes.Unavailable); ci != nil && ci.GetLastSequence() != last {
				t.Errorf("stalled: received up to %d, detail %v", last, ci)
			}
			break
		}
		if ev.Sequence != last+1 {
			t.Fatalf("stalled: %d after %d", ev.Sequence, last)
		}
		last = ev.Sequence
	}
	cc.Close()

	// Subscribing to a stopped server fails.
	if st, err := c.Subscribe(ctx, &pb.SubscribeRequest{}); err == nil {
		if _, err = st.Recv(); err == nil {
			t.Error("subscribed after Shutdown")
		}
	}

	// A new Server over the same Broker: the history survives.
	_, addr := serve(t, b, Config{})
	since := uint64(590)
	st, _ := subscribe(t, ctx, dial(t, addr), &pb.SubscribeRequest{Since: &since})
	if got := seqs(recvN(t, st, 10)); got[0] != 591 || got[9] != 600 {
		t.Errorf("after restart: %v", got)
	}

	// No goroutine of the first server is left.
	deadline := time.Now().Add(testTimeout)
	for {
		// The second server and its client add a bounded few.
		if n := runtime.NumGoroutine(); n <= goroutines+20 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), goroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAlertsMaxSubscribers: one subscription too many is refused.
func TestAlertsMaxSubscribers(t *testing.T) {
	_, addr := serve(t, NewBroker(BrokerConfig{MaxSubscribers: 3}), Config{})
	c := dial(t, addr)
	ctx := testCtx(t)
	for range 3 {
		subscribe(t, ctx, c, &pb.SubscribeRequest{})
	}
	st, err := c.Subscribe(ctx, &pb.SubscribeRequest{})
	if err == nil {
		_, err = st.Recv()
	}
	wantCode(t, err, codes.ResourceExhausted)
}

// TestAlertsPublishNeverBlocks: with a subscriber that never reads,
// Publish keeps its pace.
func TestAlertsPublishNeverBlocks(t *testing.T) {
	s, addr := serve(t, NewBroker(BrokerConfig{QueueSize: 10}), Config{})
	subscribe(t, testCtx(t), dial(t, addr), &pb.SubscribeRequest{})
	done := make(chan struct{})
	go func() {
		for _, ev := range plain(1, 5000) {
			s.Publish(ev)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("Publish blocked")
	}
	if st := s.Broker().Stats(); st.TooSlow != 1 || st.Subscribers != 0 {
		t.Errorf("stats %+v", st)
	}
}
