package kafkatest

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"
)

// BenchmarkGroupThroughput measures how fast a consumer group of 1 and 2
// `serve` classifiers works through a backlog: bgp.updates is loaded
// first (the stream replayed `passes` times, as fast as possible), then
// the classifiers start. The clock starts once the group has split the
// partitions (the classifiers are up and assigned) and stops when the
// group's committed offsets reach the end of every partition (commits every
// 200ms); the rate is the records committed in between over that time.
// Records read twice in the rebalance (the first classifier starts before
// the second joins) are part of the work, not of the count. One run per
// b.N loop: each is seconds long. Reports updates/s.
//
//	go test -run '^$' -bench GroupThroughput -benchtime 1x ./cmd/bgpsentry/kafkatest
func BenchmarkGroupThroughput(b *testing.B) {
	needs(b)
	addr := shared(b)
	sc := scenario(b)
	passes := 60
	if s := envInt("BGPSENTRY_BENCH_PASSES"); s > 0 {
		passes = s
	}
	for _, classifiers := range []int{1, 2} {
		b.Run(fmt.Sprintf("classifiers=%d", classifiers), func(b *testing.B) {
			for range b.N {
				n := testNames(b)
				createTopics(b, addr, n)
				for i := 0; i < passes; i++ {
					replay(b, addr, n, "max", streamFiles(sc)...).wait(b, 60*time.Second)
				}
				want := total(endOffsets(b, addr, n.updates))
				var cs []*proc
				for i := range classifiers {
					cs = append(cs, startClassifier(b, fmt.Sprintf("classifier-%d", i), addr, n, sc, "--kafka.commit-interval", "200ms"))
				}
				waitGroupSplit(b, cs...)
				t0, c0 := time.Now(), committed(b, addr, n)
				var t1 time.Time
				deadline := t0.Add(5 * time.Minute)
				for {
					time.Sleep(100 * time.Millisecond)
					if committed(b, addr, n) >= want {
						t1 = time.Now()
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d records committed after 5 minutes", committed(b, addr, n), want)
					}
				}
				processed := 0.0
				for _, c := range cs {
					processed += c.metric("bgpsentry_updates_processed_total")
					c.stop(b)
				}
				el := t1.Sub(t0)
				rate := float64(want-c0) / el.Seconds()
				b.ReportMetric(rate, "updates/s")
				b.ReportMetric(float64(want), "records")
				b.Logf("%d classifier(s): %d records, %d committed before the group split, the rest in %v: %.0f updates/s (%.0f processed in all: %.0f read twice)",
					classifiers, want, c0, el.Round(time.Millisecond), rate, processed, processed-float64(want))
			}
		})
	}
}

// committed is the sum of the group's committed offsets on the updates
// topic.
func committed(tb testing.TB, addr string, n names) int64 {
	tb.Helper()
	var sum int64
	for _, off := range committedOffsets(tb, addr, n) {
		sum += off
	}
	return sum
}

// committedOffsets are the group's committed offsets on the updates topic
// (0 for a partition without a commit).
func committedOffsets(tb testing.TB, addr string, n names) map[int]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	cl := &kgo.Client{Addr: kgo.TCP(addr)}
	resp, err := cl.OffsetFetch(ctx, &kgo.OffsetFetchRequest{GroupID: n.group, Topics: map[string][]int{n.updates: parts}})
	if err != nil {
		tb.Fatal(err)
	}
	offs := map[int]int64{}
	for _, p := range resp.Topics[n.updates] {
		offs[p.Partition] = max(p.CommittedOffset, 0)
	}
	return offs
}

// BenchmarkKafkaLatency measures the Kafka path's latency on a paced
// stream (the scenario at --speed 100, ~1.2k updates/s) through one
// classifier: from an update's write to bgp.updates (the record
// timestamp) to its processing, and to the acknowledgement by bgp.alerts
// of an alert event it caused, read from the classifier's histograms
// bgpsentry_kafka_update_latency_seconds and
// bgpsentry_kafka_event_latency_seconds. Reports p50 and p99 in ms (the
// upper bound of the histogram bucket: buckets grow by 1.5x).
//
//	go test -run '^$' -bench KafkaLatency -benchtime 1x ./cmd/bgpsentry/kafkatest
func BenchmarkKafkaLatency(b *testing.B) {
	needs(b)
	addr := shared(b)
	sc := scenario(b)
	for range b.N {
		n := testNames(b)
		createTopics(b, addr, n)
		c := startClassifier(b, "classifier", addr, n, sc)
		waitGroupSplit(b, c)
		replay(b, addr, n, streamSpeed, streamFiles(sc)...).wait(b, 60*time.Second)
		want := total(endOffsets(b, addr, n.updates))
		waitFor(b, "every record processed", 60*time.Second, func() bool {
			return int64(c.metric("bgpsentry_updates_processed_total")) >= want
		})
		for _, h := range []struct{ name, unit string }{
			{"bgpsentry_kafka_update_latency_seconds", "update"},
			{"bgpsentry_kafka_event_latency_seconds", "event"},
		} {
			buckets, count := histogram(b, c.metrics, h.name)
			p50, p99 := quantile(buckets, count, 0.5), quantile(buckets, count, 0.99)
			b.ReportMetric(p50*1000, h.unit+"-p50-ms")
			b.ReportMetric(p99*1000, h.unit+"-p99-ms")
			b.Logf("%s: %d samples, p50 ≤ %.1f ms, p99 ≤ %.1f ms", h.name, int64(count), p50*1000, p99*1000)
		}
		c.stop(b)
	}
}

type bucket struct{ le, count float64 }

// histogram scrapes the cumulative buckets and the count of a histogram.
func histogram(tb testing.TB, addr, name string) ([]bucket, float64) {
	tb.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var bs []bucket
	var count float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch {
		case strings.HasPrefix(line, name+`_bucket{le="`):
			le, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(f[0], name+`_bucket{le="`), `"}`), 64)
			bs = append(bs, bucket{le, v})
		case f[0] == name+"_count":
			count = v
		}
	}
	return bs, count
}

// quantile is the upper bound of the bucket holding quantile q.
func quantile(bs []bucket, count, q float64) float64 {
	if count == 0 {
		return math.NaN()
	}
	for _, b := range bs {
		if b.count >= q*count {
			return b.le
		}
	}
	return math.Inf(1)
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
