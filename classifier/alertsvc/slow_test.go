package alertsvc

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestAlertsSlowSubscribers: 100 subscribers of which 10 never read. The
// 90 readers get every event, in order; the 10 are ended with
// RESOURCE_EXHAUSTED and the cursor of the last event they were sent;
// publishing never waits for them; and the heap stays bounded.
//
// The bound: the history keeps at most HistorySize events (about 600
// bytes each on the heap here; 1 KiB is allowed), and a subscriber holds
// no events of its own, only a batch of pointers and its gRPC stream: at
// most the 64 KiB HTTP/2 window of data on each side plus the stream
// state, 256 KiB allowed per subscriber (server and client side both live
// in this process). Bound: HistorySize*1 KiB + 100*256 KiB ≈ 35 MiB.
// Publishing twice as many events as the history holds shows that
// nothing else accumulates.
func TestAlertsSlowSubscribers(t *testing.T) {
	const (
		subscribers = 100
		stalled     = 10
		history     = 10000
		heapBound   = history<<10 + subscribers*256<<10
	)
	events := 20000
	if raceEnabled || testing.Short() {
		// The race detector makes each delivery ~20x slower; 2,500 events
		// still overflow the stalled subscribers (1,000 queued plus what
		// the HTTP/2 windows hold).
		events = 2500
	}
	before := heapInUse()
	b := NewBroker(BrokerConfig{HistorySize: history, QueueSize: 1000, MaxSubscribers: subscribers})
	_, addr := serve(t, b, Config{})

	// A fixed 64 KiB window per stream (no BDP growth) bounds what a
	// client that never reads buffers.
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64 << 10),
		grpc.WithInitialConnWindowSize(1 << 20),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		received [subscribers - stalled]atomic.Int64
		readErrs = make(chan error, subscribers)
		wg       sync.WaitGroup
	)
	stalledStreams := make([]grpcStream, 0, stalled)
	var c pb.AlertServiceClient
	for i := range subscribers {
		// Ten clients with ten streams each; a stalled stream shares its
		// connection with readers.
		if i%10 == 0 {
			c = dial(t, addr, opts...)
		}
		st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{})
		if i%10 == 0 {
			stalledStreams = append(stalledStreams, st)
			continue
		}
		r := i - i/10 - 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := uint64(1)
			for next <= uint64(events) {
				ev, err := st.Recv()
				if err != nil {
					readErrs <- fmt.Errorf("reader %d after %d: %w", r, next-1, err)
					return
				}
				if ev.Sequence != next {
					readErrs <- fmt.Errorf("reader %d: got %d, want %d", r, ev.Sequence, next)
					return
				}
				next++
				received[r].Add(1)
			}
		}()
	}

	// Publish in bursts and let the readers drain each one: the 90 must
	// get everything, so they must not fall QueueSize behind. Publish
	// itself never waits (timed below).
	const burst = 500
	var publishTime time.Duration
	tmpl := plain(1, 1)[0]
	for seq := 1; seq <= events; {
		t0 := time.Now()
		for end := min(seq+burst, events+1); seq < end; seq++ {
			tmpl.Sequence = uint64(seq)
			b.Publish(tmpl)
		}
		publishTime += time.Since(t0)
		deadline := time.Now().Add(testTimeout)
		for r := range received {
			for received[r].Load() < int64(seq-1) {
				select {
				case err := <-readErrs:
					t.Fatal(err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("reader %d stuck at %d of %d", r, received[r].Load(), seq-1)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	wg.Wait()
	select {
	case err := <-readErrs:
		t.Fatal(err)
	default:
	}
	after := heapInUse()
	stats := b.Stats()
	t.Logf("%d events to %d readers; publish took %v in total (%.1f µs/event); heap %d KiB -> %d KiB (+%d KiB; bound %d KiB); stats %+v",
		events, subscribers-stalled, publishTime, float64(publishTime.Microseconds())/float64(events),
		before>>10, after>>10, (int64(after)-int64(before))>>10, heapBound>>10, stats)
	if after > before && after-before > heapBound {
		t.Errorf("heap grew by %d KiB, bound %d KiB", (after-before)>>10, heapBound>>10)
	}
	if stats.TooSlow != stalled {
		t.Errorf("%d subscriptions ended as too slow, want %d", stats.TooSlow, stalled)
	}
	if stats.Subscribers != subscribers-stalled {
		t.Errorf("%d subscribers left, want %d", stats.Subscribers, subscribers-stalled)
	}

	// The stalled clients now read: what was in flight, then
	// RESOURCE_EXHAUSTED whose cursor is the last event they received.
	for i, st := range stalledStreams {
		var last uint64
		var err error
		for {
			var ev *pb.AlertEvent
			if ev, err = st.Recv(); err != nil {
				break
			}
			if ev.Sequence != last+1 {
				t.Fatalf("stalled %d: got %d after %d", i, ev.Sequence, last)
			}
			last = ev.Sequence
		}
		ci := wantCode(t, err, codes.ResourceExhausted)
		if ci.GetLastSequence() != last || last == 0 || last >= uint64(events) {
			t.Errorf("stalled %d: received up to %d, detail %v", i, last, ci)
		}
	}
}
