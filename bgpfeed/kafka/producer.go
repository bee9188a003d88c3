package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/bus"
)

// HeaderPartition is the record header of a state change copy: the
// partition it is addressed to, in decimal (see Producer).
const HeaderPartition = "bgpsentry-partition"

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Config
	Topic        string            // default DefaultUpdatesTopic
	TopicConfigs map[string]string // configs of the topic when it is created
	Compression  Compression       // default none
	// A partition's records go out in batches of up to BatchSize records
	// and BatchBytes bytes (defaults 5000 and 1 MiB, the broker's default
	// message.max.bytes); a partial batch waits at most BatchTimeout
	// (default 1ms: Write is synchronous, its records are all there) for
	// more.
	BatchSize    int
	BatchBytes   int64
	BatchTimeout time.Duration
	// MaxAttempts bounds the tries of a batch (default 10).
	MaxAttempts int
	// RetryFor makes Write try again, for this long after its first
	// failure, the records that failed (all of them when kafka-go does not
	// say which), once a second: a broker restart or a leader election
	// outlasts MaxAttempts' ~10 s of backoff. 0 (the default): no retry
	// beyond MaxAttempts. Every error is retried, so a permanent one
	// (record too large) fails only after RetryFor.
	RetryFor time.Duration
}

// Producer writes Updates to the updates topic; it is a bus.Sink and is
// safe for concurrent use (the order of concurrent Writes is not defined).
//
// Each Update is one record whose value is bgpfeed.MarshalUpdate's
// protobuf. An announcement or withdrawal is keyed by bus.Key(prefix),
// the covering aggregate, and kafka-go's Hash balancer sends one key to
// one partition: a prefix and its more-specifics stay together and in
// order. A session state change has no prefix but concerns every prefix
// the peer announced, hence potentially every partition, and it must
// come after the peer's earlier updates on each of them. So it is written
// once to every partition, the copy for partition i carrying the header
// HeaderPartition = i (the balancer routes by it); each partition's
// consumer sees it in order with that partition's updates. A consumer that
// owns several partitions gets one copy per partition (Record.Broadcast):
// withdrawing a peer's routes is idempotent.
//
// Write returns when the brokers acknowledged every record (RequiredAcks
// all): a call costs a round trip of a few milliseconds whatever its size,
// so write in chunks of thousands of Updates for throughput. Failed batches are retried (MaxAttempts) in order, one batch at a
// time per partition; kafka-go has no idempotent producer, so a retry
// after a lost acknowledgement can write a record twice: consumers are
// at-least-once anyway.
type Producer struct {
	cfg   ProducerConfig
	log   *slog.Logger
	tr    *kgo.Transport // shared by w and meta: one view of the partitions
	w     *kgo.Writer
	meta  *kgo.Client
	close atomic.Bool

	updates, records, bytes, states, failed, retries atomic.Uint64
}

// ProducerStats are a Producer's counters.
type ProducerStats struct {
	Updates uint64 // Updates written (acknowledged)
	Records uint64 // records written: Updates plus the extra state change copies
	Bytes   uint64 // record values written
	States  uint64 // state changes written (each to every partition)
	Failed  uint64 // Updates whose Write failed
	Retries uint64 // writes tried again within RetryFor
}

// NewProducer creates the topic when it is missing and returns a Producer
// for it. It fails with ErrUnreachable when no broker answers.
func NewProducer(ctx context.Context, cfg ProducerConfig) (*Producer, error) {
	c, err := cfg.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Config = c
	if cfg.Topic == "" {
		cfg.Topic = DefaultUpdatesTopic
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 5000
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 1 << 20
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = time.Millisecond
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	codec, err := cfg.Compression.codec()
	if err != nil {
		return nil, err
	}
	if _, err := EnsureTopic(ctx, cfg.Config, Topic{Name: cfg.Topic, Configs: cfg.TopicConfigs}); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("stage", "kafka-producer", logTopic, cfg.Topic)
	tr := cfg.transport()
	tr.MetadataTopics = []string{cfg.Topic}
	p := &Producer{
		cfg:  cfg,
		log:  log,
		tr:   tr,
		meta: &kgo.Client{Addr: kgo.TCP(cfg.Brokers...), Timeout: cfg.DialTimeout, Transport: tr},
		w: &kgo.Writer{
			Addr:                   kgo.TCP(cfg.Brokers...),
			Topic:                  cfg.Topic,
			Balancer:               &balancer{},
			MaxAttempts:            cfg.MaxAttempts,
			WriteBackoffMin:        50 * time.Millisecond,
			WriteBackoffMax:        2 * time.Second,
			BatchSize:              cfg.BatchSize,
			BatchBytes:             cfg.BatchBytes,
			BatchTimeout:           cfg.BatchTimeout,
			RequiredAcks:           kgo.RequireAll,
			Compression:            codec,
			Transport:              tr,
			Logger:                 kafkaLogger(log, slog.LevelDebug),
			ErrorLogger:            kafkaLogger(log, slog.LevelWarn),
			AllowAutoTopicCreation: false,
		},
	}
	return p, nil
}

// Topic is the topic the Producer writes to.
func (p *Producer) Topic() string { return p.cfg.Topic }

// Stats returns the counters.
func (p *Producer) Stats() ProducerStats {
	return ProducerStats{
		Updates: p.updates.Load(),
		Records: p.records.Load(),
		Bytes:   p.bytes.Load(),
		States:  p.states.Load(),
		Failed:  p.failed.Load(),
		Retries: p.retries.Load(),
	}
}

// Partitions returns the partition IDs of the topic, as the Producer sees
// them (metadata refreshed every few seconds).
func (p *Producer) Partitions(ctx context.Context) ([]int, error) {
	return partitionsOf(ctx, &p.cfg.Config, p.meta, p.cfg.Topic)
}

// Write writes us in order (per partition) and returns once the brokers
// acknowledged them all. An Update that has no wire form fails the whole
// call before anything is written. When the brokers fail or ctx is done,
// some records may have been written (and some may still be, when ctx
// ended the wait): the error says how many Updates were given.
func (p *Producer) Write(ctx context.Context, us ...bgpfeed.Update) error {
	if p.close.Load() {
		return ErrClosed
	}
	if len(us) == 0 {
		return nil
	}
	var parts []int
	states := 0
	for i := range us {
		if us[i].Kind == bgpfeed.KindState {
			states++
		}
	}
	if states > 0 {
		var err error
		if parts, err = p.Partitions(ctx); err != nil {
			p.failed.Add(uint64(len(us)))
			return fmt.Errorf("kafka: write %d updates: partitions for state changes: %w", len(us), err)
		}
	}
	msgs := make([]kgo.Message, 0, len(us)+states*(len(parts)-1))
	// One buffer for all values and one for all keys; a slice of them
	// stays valid when a later append moves the buffer.
	vals := make([]byte, 0, 160*len(us))
	keys := make([]byte, 0, 16*len(us))
	var size uint64
	for i := range us {
		u := &us[i]
		start := len(vals)
		var err error
		if vals, err = bgpfeed.MarshalUpdate(u, vals); err != nil {
			p.failed.Add(uint64(len(us)))
			return fmt.Errorf("kafka: write: update %d of %d (%v %v from %v): %w", i, len(us), u.Kind, u.Prefix, u.PeerAddr, err)
		}
		val := vals[start:len(vals):len(vals)]
		if u.Kind == bgpfeed.KindState {
			start := len(keys)
			keys = u.PeerAddr.AppendTo(keys)
			key := keys[start:len(keys):len(keys)]
			for _, part := range parts {
				msgs = append(msgs, kgo.Message{
					Key:     key,
					Value:   val,
					Headers: []kgo.Header{{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(part), 10)}},
				})
				size += uint64(len(val))
			}
			continue
		}
		start = len(keys)
		keys = bus.AppendKey(keys, u.Prefix)
		msgs = append(msgs, kgo.Message{Key: keys[start:len(keys):len(keys)], Value: val})
		size += uint64(len(val))
	}
	if retried, err := p.write(ctx, msgs); err != nil {
		p.failed.Add(uint64(len(us)))
		err = writeErr(ctx, &p.cfg.Config, fmt.Sprintf("%d updates", len(us)), p.cfg.Topic, len(msgs), err)
		if retried {
			err = fmt.Errorf("%w (still failing after %v of retries)", err, p.cfg.RetryFor)
		}
		return err
	}
	p.updates.Add(uint64(len(us)))
	p.records.Add(uint64(len(msgs)))
	p.bytes.Add(size)
	p.states.Add(uint64(states))
	return nil
}

// write writes msgs, retrying what failed for RetryFor. Records written
// before a failure that kafka-go reports as a whole may be written twice
// (at-least-once, as a retry after a lost acknowledgement).
func (p *Producer) write(ctx context.Context, msgs []kgo.Message) (retried bool, err error) {
	var deadline time.Time
	for {
		err := p.w.WriteMessages(ctx, msgs...)
		if err == nil {
			return retried, nil
		}
		if p.cfg.RetryFor <= 0 || ctx.Err() != nil || p.close.Load() {
			return retried, err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(p.cfg.RetryFor)
		} else if time.Now().After(deadline) {
			return true, err
		}
		var werr kgo.WriteErrors
		if errors.As(err, &werr) && len(werr) == len(msgs) {
			failed := make([]kgo.Message, 0, werr.Count())
			for i, e := range werr {
				if e != nil {
					failed = append(failed, msgs[i])
				}
			}
			msgs = failed
		}
		retried = true
		p.retries.Add(1)
		p.log.Warn("kafka: write failed; retrying", "records", len(msgs), "until", deadline.Format(time.RFC3339), logErr, err)
		select {
		case <-ctx.Done():
			return retried, err
		case <-time.After(time.Second):
		}
	}
}

// Close flushes and closes the Producer.
func (p *Producer) Close() error {
	if p.close.Swap(true) {
		return nil
	}
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("kafka: close producer: %w", err)
	}
	return nil
}

// balancer is kafka-go's Hash balancer (FNV-1a of the key, as Sarama: one
// key, one partition), except for records with a HeaderPartition header,
// which go to the partition it names.
type balancer struct{ hash kgo.Hash }

func (b *balancer) Balance(m kgo.Message, partitions ...int) int {
	for _, h := range m.Headers {
		if h.Key == HeaderPartition {
			if p, err := strconv.Atoi(string(h.Value)); err == nil && slices.Contains(partitions, p) {
				return p
			}
		}
	}
	return b.hash.Balance(m, partitions...)
}

var _ bus.Sink = (*Producer)(nil)
