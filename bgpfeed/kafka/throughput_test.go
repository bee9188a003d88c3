package kafka_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
)

// repeated returns n Updates: the test file over and over.
func repeated(t testing.TB, n int) []bgpfeed.Update {
	us := testUpdates(t)
	out := make([]bgpfeed.Update, 0, n)
	for len(out) < n {
		out = append(out, us[:min(len(us), n-len(out))]...)
	}
	return out
}

// TestThroughput logs what one producer and a consumer group of one and
// two members move through the broker on this machine (loopback), with
// real updates. Not under -short or the race detector.
func TestThroughput(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("throughput: not with -short or -race")
	}
	n := 200_000
	if s := os.Getenv("BGPSENTRY_KAFKA_THROUGHPUT_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const partitions = 6
	ctx := testContext(t, 120*time.Second)
	topic := uniqueTopic(t)
	us := repeated(t, n)
	p := newProducer(t, ctx, topic, partitions)

	// Write's chunk size matters: each Write waits for the acknowledgement
	// of its records on every partition.
	small := newProducer(t, ctx, uniqueTopic(t), partitions)
	t0 := time.Now()
	produce(t, ctx, small, us[:n/4], 500)
	d := time.Since(t0)
	t.Logf("producer, Writes of 500: %d updates in %v: %.0f updates/s", n/4, d.Round(time.Millisecond), float64(n/4)/d.Seconds())

	t0 = time.Now()
	produce(t, ctx, p, us, 5000)
	d = time.Since(t0)
	st := p.Stats()
	t.Logf("producer, Writes of 5000: %d updates (%d records, %.1f MB) in %v: %.0f updates/s, %.1f MB/s (acks=all, no compression)",
		st.Updates, st.Records, float64(st.Bytes)/1e6, d.Round(time.Millisecond), float64(st.Updates)/d.Seconds(), float64(st.Bytes)/1e6/d.Seconds())

	for _, members := range []int{1, 2} {
		group := "g" + strconv.Itoa(members) + "." + topic
		cs := make([]*kafka.Consumer, members)
		for i := range cs {
			cs[i] = newConsumer(t, ctx, topic, group)
		}
		waitAssigned(t, ctx, partitions, cs...)
		var total atomic.Int64
		want := int64(st.Records)
		var wg sync.WaitGroup
		cctx, cancel := context.WithCancel(ctx)
		t0 := time.Now()
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; ; i++ {
					if _, err := c.Next(cctx); err != nil {
						return
					}
					if i%5000 == 0 {
						if err := c.Commit(cctx); err != nil {
							return
						}
					}
					if total.Add(1) >= want {
						cancel()
					}
				}
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		cancel()
		if got := total.Load(); got < want {
			t.Fatalf("group of %d read %d of %d records", members, got, want)
		}
		t.Logf("consumer group of %d: %d records in %v: %.0f updates/s (decoded, commit every 5000)", members, want, d.Round(time.Millisecond), float64(want)/d.Seconds())
		for _, c := range cs {
			c.Close()
		}
	}
}

// BenchmarkProduce writes b.N updates in Writes of a given size: each
// Write waits for its acknowledgements, so the size sets the throughput.
func BenchmarkProduce(b *testing.B) {
	for _, chunk := range []int{100, 1000, 5000} {
		b.Run("write="+strconv.Itoa(chunk), func(b *testing.B) {
			ctx := context.Background()
			p := newProducer(b, ctx, uniqueTopic(b), 6)
			us := repeated(b, chunk)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += len(us) {
				if err := p.Write(ctx, us[:min(len(us), b.N-i)]...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

func BenchmarkConsumeGroup(b *testing.B) {
	ctx := context.Background()
	topic := uniqueTopic(b)
	p := newProducer(b, ctx, topic, 6)
	us := repeated(b, b.N)
	for i := range us {
		if us[i].Kind == bgpfeed.KindState {
			us[i].Kind = bgpfeed.KindWithdraw // one record per update
		}
	}
	produce(b, ctx, p, us, 2000)
	c := newConsumer(b, ctx, topic, "g."+topic)
	waitAssigned(b, ctx, 6, c)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := c.Next(ctx); err != nil {
			b.Fatal(err)
		}
		if i%5000 == 4999 {
			if err := c.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
