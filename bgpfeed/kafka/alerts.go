package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	kgo "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// HeaderSequence is the record header of an alert event: its sequence
// number (AlertEvent.sequence) in decimal, so that a reader can skip an
// event it already has without decoding it.
const HeaderSequence = "bgpsentry-sequence"

// AlertWriterConfig configures an AlertWriter.
type AlertWriterConfig struct {
	Config
	Topic        string            // default DefaultAlertsTopic
	TopicConfigs map[string]string // configs of the topic when it is created
	Compression  Compression       // default none
	BatchTimeout time.Duration     // longest wait for a partial batch, default 1ms
}

// AlertWriter writes AlertEvents to the alerts topic: the value is the
// protobuf bgpsentry.v1.AlertEvent, the key the alert id (all events of an
// alert on one partition, in order), the header HeaderSequence the event's
// sequence number. An event written twice (a replay after a crash) has
// the same id and sequence: readers drop the second. Safe for concurrent
// use.
type AlertWriter struct {
	cfg     AlertWriterConfig
	tr      *kgo.Transport
	w       *kgo.Writer
	closed  atomic.Bool
	written atomic.Uint64
}

// NewAlertWriter creates the topic when it is missing and returns an
// AlertWriter for it. It fails with ErrUnreachable when no broker answers.
func NewAlertWriter(ctx context.Context, cfg AlertWriterConfig) (*AlertWriter, error) {
	c, err := cfg.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Config = c
	if cfg.Topic == "" {
		cfg.Topic = DefaultAlertsTopic
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = time.Millisecond
	}
	codec, err := cfg.Compression.codec()
	if err != nil {
		return nil, err
	}
	if _, err := EnsureTopic(ctx, cfg.Config, Topic{Name: cfg.Topic, Configs: cfg.TopicConfigs}); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("stage", "kafka-alerts", logTopic, cfg.Topic)
	tr := cfg.transport()
	tr.MetadataTopics = []string{cfg.Topic}
	return &AlertWriter{
		cfg: cfg,
		tr:  tr,
		w: &kgo.Writer{
			Addr:            kgo.TCP(cfg.Brokers...),
			Topic:           cfg.Topic,
			Balancer:        &kgo.Hash{},
			MaxAttempts:     10,
			WriteBackoffMin: 50 * time.Millisecond,
			WriteBackoffMax: 2 * time.Second,
			BatchTimeout:    cfg.BatchTimeout,
			RequiredAcks:    kgo.RequireAll,
			Compression:     codec,
			Transport:       tr,
			Logger:          kafkaLogger(log, slog.LevelDebug),
			ErrorLogger:     kafkaLogger(log, slog.LevelWarn),
		},
	}, nil
}

// Topic is the topic the AlertWriter writes to.
func (a *AlertWriter) Topic() string { return a.cfg.Topic }

// Written is the number of events written.
func (a *AlertWriter) Written() uint64 { return a.written.Load() }

// Write writes events in order and returns once the brokers acknowledged
// them. An event without an id fails the whole call before anything is
// written.
func (a *AlertWriter) Write(ctx context.Context, events ...*pb.AlertEvent) error {
	if a.closed.Load() {
		return ErrClosed
	}
	if len(events) == 0 {
		return nil
	}
	msgs := make([]kgo.Message, len(events))
	for i, ev := range events {
		if ev.GetId() == "" {
			return fmt.Errorf("kafka: write alerts: event %d of %d has no id", i, len(events))
		}
		val, err := proto.Marshal(ev)
		if err != nil {
			return fmt.Errorf("kafka: write alerts: event %s/%d: %w", ev.GetId(), ev.GetSequence(), err)
		}
		msgs[i] = kgo.Message{
			Key:     []byte(ev.GetId()),
			Value:   val,
			Headers: []kgo.Header{{Key: HeaderSequence, Value: strconv.AppendUint(nil, ev.GetSequence(), 10)}},
		}
	}
	if err := a.w.WriteMessages(ctx, msgs...); err != nil {
		return writeErr(ctx, &a.cfg.Config, fmt.Sprintf("%d alert events", len(events)), a.cfg.Topic, len(msgs), err)
	}
	a.written.Add(uint64(len(events)))
	return nil
}

// Close flushes and closes the AlertWriter.
func (a *AlertWriter) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	err := a.w.Close()
	a.tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("kafka: close alert writer: %w", err)
	}
	return nil
}

// UnmarshalAlert decodes the value of an alerts record.
func UnmarshalAlert(value []byte) (*pb.AlertEvent, error) {
	ev := new(pb.AlertEvent)
	if err := proto.Unmarshal(value, ev); err != nil {
		return nil, fmt.Errorf("kafka: alert event: %w", err)
	}
	return ev, nil
}
