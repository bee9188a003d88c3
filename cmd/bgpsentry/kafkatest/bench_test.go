package kafkatest

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkGroupThroughput measures how fast a consumer group of 1 and 2
// `serve` classifiers works through a backlog: bgp.updates is loaded
// first (the stream replayed `passes` times, as fast as possible), then
// the classifiers start, and the rate is the records processed between
// the first and the last sample of their bgpsentry_updates_processed_total
// (polled every 100ms) over that time. One run per b.N loop: each is
// seconds long. Reports updates/s.
//
//	go test -run '^$' -bench GroupThroughput -benchtime 1x ./cmd/bgpsentry/kafkatest
func BenchmarkGroupThroughput(b *testing.B) {
	needs(b)
	addr := shared(b)
	sc := scenario(b)
	passes := 30
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
					cs = append(cs, startClassifier(b, fmt.Sprintf("classifier-%d", i), addr, n, sc))
				}
				var first, last float64
				var t0, t1 time.Time
				deadline := time.Now().Add(5 * time.Minute)
				for {
					sum := 0.0
					for _, c := range cs {
						if v := c.metric("bgpsentry_updates_processed_total"); v > 0 {
							sum += v
						}
					}
					now := time.Now()
					if sum > 0 && t0.IsZero() {
						t0, first = now, sum
					}
					if int64(sum) >= want {
						t1, last = now, sum
						break
					}
					if now.After(deadline) {
						b.Fatalf("%d of %d records processed after 5 minutes", int64(sum), want)
					}
					time.Sleep(100 * time.Millisecond)
				}
				for _, c := range cs {
					c.stop(b)
				}
				el := t1.Sub(t0)
				rate := (last - first) / el.Seconds()
				if el <= 0 {
					rate = math.Inf(1)
				}
				b.ReportMetric(rate, "updates/s")
				b.ReportMetric(float64(want), "records")
				b.Logf("%d classifier(s): %d records, %.0f processed in %v: %.0f updates/s", classifiers, want, last-first, el.Round(time.Millisecond), rate)
			}
		})
	}
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
