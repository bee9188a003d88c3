package alertsvc

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// benchSink keeps results alive.
var benchSink atomic.Uint64

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkAlertsFanout: events per second delivered over gRPC (loopback)
// to 1, 10 and 100 subscribers, and the publish -> receive latency of one
// of them under that load. Publishing is paced so that no subscriber
// falls QueueSize behind (it would be ended); events/s is per subscriber,
// deliveries/s over all of them.
func BenchmarkAlertsFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			br := NewBroker(BrokerConfig{MaxSubscribers: n})
			_, addr := serve(b, br, Config{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			counts := make([]atomic.Int64, n)
			published := make([]int64, b.N+1) // publish time per sequence, ns
			var lat []time.Duration
			var wg sync.WaitGroup
			var c pb.AlertServiceClient
			for i := range n {
				if i%10 == 0 {
					c = dial(b, addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				}
				st, _ := subscribe(b, ctx, c, &pb.SubscribeRequest{})
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := 1; k <= b.N; k++ {
						ev, err := st.Recv()
						if err != nil {
							b.Errorf("subscriber %d after %d: %v", i, k-1, err)
							return
						}
						if i == 0 {
							lat = append(lat, time.Duration(time.Now().UnixNano()-atomic.LoadInt64(&published[ev.Sequence])))
						}
						counts[i].Add(1)
					}
				}()
			}
			tmpl := plain(1, 1)[0]
			b.ReportAllocs()
			b.ResetTimer()
			t0 := time.Now()
			for seq := 1; seq <= b.N; seq++ {
				if seq%64 == 0 {
					// Pace: keep every subscriber within half a queue.
					for i := range counts {
						for int64(seq)-counts[i].Load() > DefaultQueueSize/2 {
							time.Sleep(50 * time.Microsecond)
						}
					}
				}
				tmpl.Sequence = uint64(seq)
				atomic.StoreInt64(&published[seq], time.Now().UnixNano())
				br.Publish(tmpl)
			}
			wg.Wait()
			el := time.Since(t0)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			b.ReportMetric(float64(b.N*n)/el.Seconds(), "deliveries/s")
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "p50-µs")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
			if st := br.Stats(); st.TooSlow != 0 {
				b.Fatalf("%d subscribers ended as too slow", st.TooSlow)
			}
			benchSink.Add(uint64(len(lat)))
		})
	}
}

// BenchmarkAlertsLatency: one event at a time, publish -> receive, with
// one subscriber: in process (the Broker's own path: a subscription woken
// and fed from the history) and through gRPC on loopback; the difference
// is the latency the gRPC hop adds.
func BenchmarkAlertsLatency(b *testing.B) {
	b.Run("inprocess", func(b *testing.B) {
		br := NewBroker(BrokerConfig{})
		sub, _, err := br.subscribe(nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan uint64, 1)
		go func() {
			buf := make([]*pb.AlertEvent, 0, fetchBatch)
			for {
				batch, more, ok := br.fetch(sub, buf[:0])
				if !ok {
					return
				}
				for _, ev := range batch {
					got <- ev.Sequence
					sub.markSent(ev.Sequence)
				}
				if len(batch) == 0 && !more {
					select {
					case <-sub.wake:
					case <-sub.done:
						return
					}
				}
			}
		}()
		defer br.unsubscribe(sub)
		latencyLoop(b, br, func() uint64 {
			select {
			case s := <-got:
				return s
			case <-sub.done:
				b.Fatal("subscription ended")
				return 0
			}
		})
	})
	b.Run("grpc", func(b *testing.B) {
		br := NewBroker(BrokerConfig{})
		_, addr := serve(b, br, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st, _ := subscribe(b, ctx, dial(b, addr), &pb.SubscribeRequest{})
		latencyLoop(b, br, func() uint64 {
			ev, err := st.Recv()
			if err != nil {
				b.Fatal(err)
			}
			return ev.Sequence
		})
	})
}

func latencyLoop(b *testing.B, br *Broker, recv func() uint64) {
	tmpl := plain(1, 1)[0]
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		tmpl.Sequence = uint64(i)
		t0 := time.Now()
		br.Publish(tmpl)
		if s := recv(); s != uint64(i) {
			b.Fatalf("got %d, want %d", s, i)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.5).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkAlertsPublish: the cost of Publish with 100 idle subscribers
// whose filters do not match (the per-event filter pass).
func BenchmarkAlertsPublish(b *testing.B) {
	for _, n := range []int{0, 100} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			br := NewBroker(BrokerConfig{MaxSubscribers: max(n, 1)})
			f, _ := compileFilter(&pb.AlertFilter{CoveringPrefixes: []string{"10.0.0.0/8"}})
			for range n {
				if _, _, err := br.subscribe(f, nil); err != nil {
					b.Fatal(err)
				}
			}
			tmpl := plain(1, 1)[0]
			b.ReportAllocs()
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				tmpl.Sequence = uint64(i)
				br.Publish(tmpl)
			}
		})
	}
}
