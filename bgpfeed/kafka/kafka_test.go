package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/bus"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
)

// Every update of a real RIS file goes through the broker and comes back
// identical, each partition in the order written; all updates of one
// covering aggregate (a prefix and its more-specifics) on one partition;
// each state change once on every partition.
func TestProduceConsume(t *testing.T) {
	const partitions = 4
	ctx := testContext(t, 90*time.Second)
	topic := uniqueTopic(t)
	us := testUpdates(t)
	states := countStates(us)
	if states == 0 {
		t.Fatalf("%s has no state change: the broadcast goes untested", testMRT)
	}
	p := newProducer(t, ctx, topic, partitions)
	produce(t, ctx, p, us, 500)
	wantRecords := len(us) - states + states*partitions
	st := p.Stats()
	if st.Updates != uint64(len(us)) || st.Records != uint64(wantRecords) || st.States != uint64(states) || st.Failed != 0 {
		t.Errorf("producer Stats = %+v, want %d updates, %d records, %d states", st, len(us), wantRecords, states)
	}

	var assigned []kafka.Assignment
	c := newConsumer(t, ctx, topic, "g."+topic, func(cfg *kafka.ConsumerConfig) {
		cfg.OnAssign = func(a kafka.Assignment) { assigned = append(assigned, a) }
	})
	recs := collect(t, ctx, c, wantRecords)
	expectNothing(t, c, time.Second)
	if len(assigned) == 0 || len(assigned[len(assigned)-1].Partitions) != partitions {
		t.Errorf("OnAssign calls %+v, want the last to own all %d partitions", assigned, partitions)
	}

	// Where each key went, and what each partition returned, in order.
	got := map[int][]kafka.Record{}
	keyPart := map[string]int{}
	for _, r := range recs {
		got[r.Partition] = append(got[r.Partition], r)
		if r.Update.Kind == bgpfeed.KindState {
			if !r.Broadcast {
				t.Errorf("state change at %d/%d not marked Broadcast", r.Partition, r.Offset)
			}
			continue
		}
		if r.Broadcast {
			t.Errorf("update at %d/%d marked Broadcast", r.Partition, r.Offset)
		}
		k := string(r.Key)
		if k != string(bus.Key(r.Update.Prefix)) {
			t.Errorf("record %d/%d: key %q, want %q for %v", r.Partition, r.Offset, k, bus.Key(r.Update.Prefix), r.Update.Prefix)
		}
		if q, ok := keyPart[k]; ok && q != r.Partition {
			t.Fatalf("key %s on partitions %d and %d", k, q, r.Partition)
		}
		keyPart[k] = r.Partition
	}
	if len(got) != partitions {
		t.Errorf("records on %d partitions, want all %d (keys %d)", len(got), partitions, len(keyPart))
	}
	// Expected per partition: the written updates of its keys, and every
	// state change, in the order written.
	for part, rs := range got {
		var want []*bgpfeed.Update
		for i := range us {
			u := &us[i]
			if u.Kind == bgpfeed.KindState || keyPart[string(bus.Key(u.Prefix))] == part {
				want = append(want, u)
			}
		}
		if len(rs) != len(want) {
			t.Errorf("partition %d: %d records, want %d", part, len(rs), len(want))
			continue
		}
		for i, r := range rs {
			if wire(t, &r.Update) != wire(t, want[i]) {
				t.Fatalf("partition %d record %d (offset %d):\n got %s\nwant %s", part, i, r.Offset, describe(&r.Update), describe(want[i]))
			}
			if r.Offset != int64(i) {
				t.Errorf("partition %d record %d has offset %d", part, i, r.Offset)
			}
		}
	}
	// A prefix and its more-specifics: one partition.
	var prefixes []kafka.Record
	for _, r := range recs {
		if r.Update.Prefix.IsValid() {
			prefixes = append(prefixes, r)
		}
	}
	pairs := 0
	for _, a := range prefixes {
		for _, b := range prefixes {
			if a.Update.Prefix != b.Update.Prefix && a.Update.Prefix.Bits() < b.Update.Prefix.Bits() && a.Update.Prefix.Contains(b.Update.Prefix.Addr()) {
				pairs++
				if a.Partition != b.Partition {
					t.Fatalf("%v on partition %d, its more-specific %v on %d", a.Update.Prefix, a.Partition, b.Update.Prefix, b.Partition)
				}
			}
		}
	}
	if pairs == 0 {
		t.Errorf("no prefix with a more-specific in the data: the property goes untested")
	}
	if err := c.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if cs := c.Stats(); cs.Records != uint64(wantRecords) || cs.Corrupt != 0 || cs.Commits != 1 {
		t.Errorf("consumer Stats = %+v", cs)
	}
	t.Logf("%d updates as %d records over %d partitions, %d keys, %d covering/more-specific pairs", len(us), wantRecords, partitions, len(keyPart), pairs)
}

// Two consumers of one group split the partitions; committing as they go,
// together they receive every record exactly once; a third member that
// comes after them finds nothing left to read.
func TestGroupSplitsPartitions(t *testing.T) {
	const partitions = 4
	ctx := testContext(t, 90*time.Second)
	topic := uniqueTopic(t)
	group := "g." + topic
	us := testUpdates(t)
	p := newProducer(t, ctx, topic, partitions)
	a := newConsumer(t, ctx, topic, group)
	b := newConsumer(t, ctx, topic, group)
	as := waitAssigned(t, ctx, partitions, a, b)
	t.Logf("assignments: %+v", as)

	produced := time.Now()
	produce(t, ctx, p, us, 500)
	want := int(p.Stats().Records)

	type result struct {
		recs []kafka.Record
		err  error
	}
	results := [2]chan result{make(chan result, 1), make(chan result, 1)}
	total := make(chan struct{}, want+10)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	for i, c := range []*kafka.Consumer{a, b} {
		go func() {
			var res result
			defer func() { results[i] <- res }()
			for {
				r, err := c.NextRecord(rctx)
				if err != nil {
					if rctx.Err() == nil {
						res.err = err
					}
					return
				}
				res.recs = append(res.recs, r)
				total <- struct{}{}
				if len(res.recs)%50 == 0 {
					if err := c.Commit(rctx); err != nil {
						if rctx.Err() == nil {
							res.err = err
						}
						return
					}
				}
			}
		}()
	}
	for i := 0; i < want; i++ {
		select {
		case <-total:
		case <-ctx.Done():
			t.Fatalf("received %d of %d records", i, want)
		}
	}
	time.Sleep(time.Second) // anything more would be a duplicate
	stop()
	ra, rb := <-results[0], <-results[1]
	for _, r := range []result{ra, rb} {
		if r.err != nil {
			t.Fatalf("consumer: %v", r.err)
		}
	}
	if len(ra.recs) == 0 || len(rb.recs) == 0 {
		t.Errorf("one consumer got nothing: %d and %d records", len(ra.recs), len(rb.recs))
	}
	seen := map[[2]int64]bool{}
	for _, r := range append(ra.recs, rb.recs...) {
		k := [2]int64{int64(r.Partition), r.Offset}
		if seen[k] {
			t.Errorf("record %d/%d received twice", r.Partition, r.Offset)
		}
		seen[k] = true
		// Record.Time is the producer's timestamp (CreateTime).
		if r.Time.Before(produced.Add(-time.Minute)) || r.Time.After(time.Now().Add(time.Minute)) {
			t.Errorf("record %d/%d has time %v, produced at %v", r.Partition, r.Offset, r.Time, produced)
		}
	}
	if len(seen) != want {
		t.Errorf("received %d distinct records, want %d", len(seen), want)
	}
	// Each consumer only read its own partitions.
	for i, r := range []result{ra, rb} {
		c := []*kafka.Consumer{a, b}[i]
		mine := c.Assignment().Partitions
		for _, rec := range r.recs {
			if !slices.Contains(mine, rec.Partition) {
				t.Fatalf("consumer %d read partition %d, owns %v", i, rec.Partition, mine)
			}
		}
	}
	for _, c := range []*kafka.Consumer{a, b} {
		if err := c.Commit(ctx); err != nil {
			t.Fatalf("final Commit: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	t.Logf("consumer A %d records, B %d records", len(ra.recs), len(rb.recs))

	late := newConsumer(t, ctx, topic, group)
	waitAssigned(t, ctx, partitions, late)
	expectNothing(t, late, 2*time.Second)
}

// A record that is not an Update is skipped and counted, never fatal, and
// a commit moves past it.
func TestCorruptRecordSkipped(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	topic := uniqueTopic(t)
	us := testUpdates(t)
	p := newProducer(t, ctx, topic, 1)
	produce(t, ctx, p, us[:3], 10)

	// A transport of its own: kafka-go's default one caches metadata
	// fetched before this topic existed.
	tr := &kgo.Transport{}
	defer tr.CloseIdleConnections()
	raw := &kgo.Writer{Addr: kgo.TCP(brokers(t)...), Topic: topic, BatchTimeout: time.Millisecond, RequiredAcks: kgo.RequireAll, Transport: tr}
	defer raw.Close()
	if err := raw.WriteMessages(ctx,
		kgo.Message{Key: []byte("junk"), Value: []byte{0xff, 0xff, 0xff, 0xff}}, // not protobuf
		kgo.Message{Key: []byte("empty"), Value: nil},                           // protobuf, but kind 0
	); err != nil {
		t.Fatalf("writing junk: %v", err)
	}
	produce(t, ctx, p, us[3:5], 10)

	group := "g." + topic
	c := newConsumer(t, ctx, topic, group)
	recs := collect(t, ctx, c, 5)
	for i, r := range recs {
		if wire(t, &r.Update) != wire(t, &us[i]) {
			t.Errorf("record %d: got %s, want %s", i, describe(&r.Update), describe(&us[i]))
		}
	}
	if recs[3].Offset != 5 {
		t.Errorf("the update after the junk has offset %d, want 5", recs[3].Offset)
	}
	if st := c.Stats(); st.Corrupt != 2 || st.Records != 5 {
		t.Errorf("Stats = %+v, want 2 corrupt, 5 records", st)
	}
	if err := c.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	c.Close()
	again := newConsumer(t, ctx, topic, group)
	waitAssigned(t, ctx, 1, again)
	expectNothing(t, again, 2*time.Second)
	if st := again.Stats(); st.Corrupt != 0 {
		t.Errorf("the junk was read again after the commit: %+v", st)
	}
}

func TestTopics(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	cfg := kafka.Config{Brokers: brokers(t), Partitions: 3}
	t.Run("missing topic is created", func(t *testing.T) {
		topic := uniqueTopic(t)
		parts, err := kafka.EnsureTopic(ctx, cfg, kafka.Topic{Name: topic, Configs: map[string]string{"retention.ms": "3600000"}})
		if err != nil {
			t.Fatalf("EnsureTopic: %v", err)
		}
		if !slices.Equal(parts, []int{0, 1, 2}) {
			t.Errorf("partitions %v, want [0 1 2]", parts)
		}
		// An existing topic is left as it is.
		parts, err = kafka.EnsureTopic(ctx, cfg, kafka.Topic{Name: topic, Partitions: 5})
		if err != nil || len(parts) != 3 {
			t.Errorf("EnsureTopic on the existing topic = %v, %v; want its 3 partitions", parts, err)
		}
	})
	t.Run("producer creates its topic", func(t *testing.T) {
		topic := uniqueTopic(t)
		p := newProducer(t, ctx, topic, 2)
		parts, err := p.Partitions(ctx)
		if err != nil || !slices.Equal(parts, []int{0, 1}) {
			t.Fatalf("Partitions = %v, %v; want [0 1]", parts, err)
		}
		if err := p.Write(ctx, testUpdates(t)[:10]...); err != nil {
			t.Fatalf("Write to the new topic: %v", err)
		}
	})
	t.Run("alert writer creates its topic", func(t *testing.T) {
		topic := uniqueTopic(t)
		w, err := kafka.NewAlertWriter(ctx, kafka.AlertWriterConfig{Config: cfg, Topic: topic})
		if err != nil {
			t.Fatalf("NewAlertWriter: %v", err)
		}
		defer w.Close()
		parts, err := kafka.EnsureTopic(ctx, cfg, kafka.Topic{Name: topic})
		if err != nil || len(parts) != 3 {
			t.Errorf("alerts topic partitions = %v, %v", parts, err)
		}
	})
	t.Run("consumer of a missing topic fails", func(t *testing.T) {
		_, err := kafka.NewConsumer(ctx, kafka.ConsumerConfig{Config: cfg, Topic: uniqueTopic(t), GroupID: "g"})
		if !errors.Is(err, kgo.UnknownTopicOrPartition) {
			t.Errorf("NewConsumer: %v, want UnknownTopicOrPartition", err)
		}
	})
	t.Run("unreachable broker", func(t *testing.T) {
		port, err := freePort() // nothing listens there
		if err != nil {
			t.Fatal(err)
		}
		bad := kafka.Config{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, DialTimeout: 2 * time.Second}
		t0 := time.Now()
		_, err = kafka.NewProducer(ctx, kafka.ProducerConfig{Config: bad, Topic: "x"})
		if !errors.Is(err, kafka.ErrUnreachable) {
			t.Fatalf("NewProducer: %v, want ErrUnreachable", err)
		}
		if d := time.Since(t0); d > 10*time.Second {
			t.Errorf("took %v to notice", d)
		}
		t.Logf("error: %v", err)
		if _, err := kafka.NewConsumer(ctx, kafka.ConsumerConfig{Config: bad}); !errors.Is(err, kafka.ErrUnreachable) {
			t.Errorf("NewConsumer: %v, want ErrUnreachable", err)
		}
		if _, err := kafka.NewAlertWriter(ctx, kafka.AlertWriterConfig{Config: bad}); !errors.Is(err, kafka.ErrUnreachable) {
			t.Errorf("NewAlertWriter: %v, want ErrUnreachable", err)
		}
	})
	t.Run("bad configuration", func(t *testing.T) {
		if _, err := kafka.NewProducer(ctx, kafka.ProducerConfig{}); !errors.Is(err, kafka.ErrConfig) {
			t.Errorf("no brokers: %v, want ErrConfig", err)
		}
		if _, err := kafka.NewProducer(ctx, kafka.ProducerConfig{Config: cfg, Compression: "brotli"}); !errors.Is(err, kafka.ErrConfig) {
			t.Errorf("unknown compression: %v, want ErrConfig", err)
		}
	})
}

// An Update without a wire form fails the Write before anything is sent;
// a closed Producer refuses writes.
func TestProducerRejects(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	topic := uniqueTopic(t)
	p := newProducer(t, ctx, topic, 1)
	good := testUpdates(t)[0]
	bad := good
	bad.Kind = 0
	if err := p.Write(ctx, good, bad); !errors.Is(err, bgpfeed.ErrWire) {
		t.Fatalf("Write with an unknown kind: %v, want ErrWire", err)
	}
	zoned := good
	zoned.PeerAddr = netip.MustParseAddr("fe80::1%eth0")
	if err := p.Write(ctx, zoned); !errors.Is(err, bgpfeed.ErrWire) {
		t.Fatalf("Write with a zoned address: %v, want ErrWire", err)
	}
	if st := p.Stats(); st.Records != 0 || st.Failed != 3 {
		t.Errorf("Stats = %+v, want nothing written, 3 failed", st)
	}
	p.Close()
	if err := p.Write(ctx, good); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	c := newConsumer(t, ctx, topic, "g."+topic)
	waitAssigned(t, ctx, 1, c)
	expectNothing(t, c, time.Second)
}

// Compressed batches come back identical.
func TestCompression(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	us := testUpdates(t)[:300]
	for _, codec := range []kafka.Compression{kafka.CompressionSnappy, kafka.CompressionLz4, kafka.CompressionZstd, kafka.CompressionGzip} {
		t.Run(string(codec), func(t *testing.T) {
			topic := uniqueTopic(t)
			p, err := kafka.NewProducer(ctx, kafka.ProducerConfig{Config: kafka.Config{Brokers: brokers(t), Partitions: 1}, Topic: topic, Compression: codec})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			produce(t, ctx, p, us, 300)
			c := newConsumer(t, ctx, topic, "g."+topic)
			recs := collect(t, ctx, c, len(us)) // one partition: one copy of a state change
			for i, r := range recs {
				if wire(t, &r.Update) != wire(t, &us[i]) {
					t.Fatalf("record %d differs", i)
				}
			}
		})
	}
}

func TestBroadcastHeader(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	topic := uniqueTopic(t)
	p := newProducer(t, ctx, topic, 3)
	down := bgpfeed.Update{
		Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Source: "lab", Kind: bgpfeed.KindState,
		PeerAddr: netip.MustParseAddr("192.0.2.1"), PeerASN: 65001,
		OldState: bgpfeed.StateEstablished, NewState: 1,
	}
	if err := p.Write(ctx, down); err != nil {
		t.Fatal(err)
	}
	raw := kgo.NewReader(kgo.ReaderConfig{Brokers: brokers(t), Topic: topic, Partition: 2, MaxWait: 100 * time.Millisecond})
	defer raw.Close()
	m, err := raw.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hdr string
	for _, h := range m.Headers {
		if h.Key == kafka.HeaderPartition {
			hdr = string(h.Value)
		}
	}
	if hdr != strconv.Itoa(2) || string(m.Key) != "192.0.2.1" {
		t.Errorf("copy on partition 2: header %q key %q", hdr, m.Key)
	}
	u, err := bgpfeed.UnmarshalUpdate(m.Value, nil)
	if err != nil || !u.SessionDown() {
		t.Errorf("copy decodes to %+v, %v", u, err)
	}
}

// RetryFor retries a failed write once a second until it passes; a write
// that keeps failing (here a record larger than the broker takes) fails
// after RetryFor, with the retries counted. Without RetryFor it fails at
// once. (The retry across a broker restart is tested with the real
// commands in cmd/bgpsentry/kafkatest.)
func TestProducerRetryFor(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	topic := uniqueTopic(t)
	asns := make([]uint32, 400_000) // ~1.6 MB of AS path: above the broker's 1 MiB limit
	for i := range asns {
		asns[i] = uint32(64512 + i%1000)
	}
	in := bgpfeed.NewInterner(0)
	segs := []bgpfeed.Segment{{Type: bgpfeed.SegSequence, ASNs: asns}}
	big := bgpfeed.Update{
		Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Source: "lab", Kind: bgpfeed.KindAnnounce,
		PeerAddr: netip.MustParseAddr("192.0.2.1"), PeerASN: 64512, Prefix: netip.MustParsePrefix("198.51.100.0/24"),
		Attrs: &bgpfeed.Attrs{Path: in.Intern(bgpfeed.AppendKey(nil, segs), segs), NextHop: netip.MustParseAddr("192.0.2.1")},
	}
	for _, retry := range []time.Duration{0, 1500 * time.Millisecond} {
		p, err := kafka.NewProducer(ctx, kafka.ProducerConfig{
			Config: kafka.Config{Brokers: brokers(t), Partitions: 1},
			Topic:  topic, RetryFor: retry, BatchBytes: 4 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		err = p.Write(ctx, big)
		took := time.Since(t0)
		st := p.Stats()
		p.Close()
		if err == nil {
			t.Fatalf("RetryFor %v: a %d-ASN path was written", retry, len(asns))
		}
		if retry == 0 {
			if st.Retries != 0 {
				t.Errorf("RetryFor 0: %d retries", st.Retries)
			}
			continue
		}
		if st.Retries < 1 || took < retry || !strings.Contains(err.Error(), "retries") || st.Failed != 1 {
			t.Errorf("RetryFor %v: failed after %v with %d retries, %d failed: %v", retry, took, st.Retries, st.Failed, err)
		}
	}
}
