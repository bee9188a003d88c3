package kafka_test

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// Closing a Producer, Consumer and AlertWriter leaves no goroutine behind,
// and a closed Consumer returns io.EOF.
func TestCloseReleasesGoroutines(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	topic := uniqueTopic(t)
	before := runtime.NumGoroutine()

	p, err := kafka.NewProducer(ctx, kafka.ProducerConfig{Config: kafka.Config{Brokers: brokers(t), Partitions: 2}, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	us := testUpdates(t)[:100]
	produce(t, ctx, p, us, 100)
	w, err := kafka.NewAlertWriter(ctx, kafka.AlertWriterConfig{Config: kafka.Config{Brokers: brokers(t)}, Topic: uniqueTopic(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, &pb.AlertEvent{Id: "a", Sequence: 1}); err != nil {
		t.Fatal(err)
	}
	c, err := kafka.NewConsumer(ctx, kafka.ConsumerConfig{Config: kafka.Config{Brokers: brokers(t)}, Topic: topic, GroupID: "g." + topic})
	if err != nil {
		t.Fatal(err)
	}
	collect(t, ctx, c, len(us))
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []io.Closer{c, p, w} {
		if err := cl.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := cl.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	if _, err := c.Next(ctx); err != io.EOF {
		t.Errorf("Next after Close: %v, want io.EOF", err)
	}
	if err := c.Commit(ctx); err != kafka.ErrClosed {
		t.Errorf("Commit after Close: %v, want ErrClosed", err)
	}

	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			var ours []string
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "kafka-go") || strings.Contains(g, "bgpfeed/kafka.") {
					ours = append(ours, g)
				}
			}
			t.Fatalf("%d goroutines before, %d after Close; kafka ones:\n%s", before, runtime.NumGoroutine(), strings.Join(ours, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
