package kafka

import (
	"flag"
	"testing"

	kgo "github.com/segmentio/kafka-go"

	"github.com/bgpsentry/bgpsentry/bgpfeed/bus"
)

func TestBalancer(t *testing.T) {
	b := &balancer{}
	parts := []int{0, 1, 2, 3}
	hdr := func(v string) []kgo.Header { return []kgo.Header{{Key: HeaderPartition, Value: []byte(v)}} }
	key := bus.Key(mustPrefix("193.0.14.0/24"))
	byKey := b.Balance(kgo.Message{Key: key}, parts...)
	for _, tc := range []struct {
		name string
		msg  kgo.Message
		want int
	}{
		{"header routes a state change copy", kgo.Message{Key: []byte("192.0.2.1"), Headers: hdr("2")}, 2},
		{"header wins over the key", kgo.Message{Key: key, Headers: hdr("3")}, 3},
		{"a more-specific goes with its aggregate", kgo.Message{Key: bus.Key(mustPrefix("193.0.14.128/25"))}, byKey},
		{"a partition that does not exist falls back to the key", kgo.Message{Key: key, Headers: hdr("9")}, byKey},
		{"a bad header falls back to the key", kgo.Message{Key: key, Headers: hdr("x")}, byKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 { // stable
				if got := b.Balance(tc.msg, parts...); got != tc.want {
					t.Fatalf("Balance = %d, want %d", got, tc.want)
				}
			}
		})
	}
	// Same as kafka-go's Hash, so other kafka-go or Sarama producers agree.
	if h := (&kgo.Hash{}).Balance(kgo.Message{Key: key}, parts...); h != byKey {
		t.Errorf("balancer %d, kafka-go Hash %d", byKey, h)
	}
}

func TestCompressionNames(t *testing.T) {
	for _, c := range []Compression{"", CompressionNone, CompressionGzip, CompressionSnappy, CompressionLz4, CompressionZstd} {
		if _, err := c.codec(); err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
	if _, err := Compression("brotli").codec(); err == nil {
		t.Error("brotli accepted")
	}
}

func TestFlags(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f.BindFlags(fs)
	if f.Enabled() || f.Partitions != DefaultPartitions || f.UpdatesTopic != DefaultUpdatesTopic || f.Group != DefaultGroup {
		t.Fatalf("defaults: %+v", f)
	}
	if err := fs.Parse([]string{"-kafka.brokers", "10.0.0.1:9092, 10.0.0.2:9092", "-kafka.partitions", "6", "-kafka.compression", "lz4", "-kafka.topic.alerts", "a"}); err != nil {
		t.Fatal(err)
	}
	if !f.Enabled() || len(f.Brokers) != 2 || f.Brokers[1] != "10.0.0.2:9092" {
		t.Errorf("brokers %q", f.Brokers)
	}
	p, c, a := f.Producer(), f.Consumer(), f.AlertWriter()
	if p.Topic != DefaultUpdatesTopic || p.Partitions != 6 || p.Compression != CompressionLz4 ||
		c.Topic != DefaultUpdatesTopic || c.GroupID != DefaultGroup || a.Topic != "a" || len(a.Brokers) != 2 {
		t.Errorf("configs %+v %+v %+v", p, c, a)
	}
}
