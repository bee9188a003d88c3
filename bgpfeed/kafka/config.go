package kafka

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	kgo "github.com/segmentio/kafka-go"
)

// Topic names and defaults (DESIGN.md, "Bus and scale-out").
const (
	DefaultUpdatesTopic      = "bgp.updates"
	DefaultAlertsTopic       = "bgp.alerts"
	DefaultGroup             = "bgpsentry-classifier"
	DefaultPartitions        = 12 // shared by 1, 2, 3, 4, 6 or 12 classifiers evenly
	DefaultReplicationFactor = 1
	DefaultDialTimeout       = 10 * time.Second
	DefaultClientID          = "bgpsentry"
)

// Log keys.
const (
	logErr       = "err"
	logTopic     = "topic"
	logPartition = "partition"
	logOffset    = "offset"
	logGroup     = "group"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnreachable: no broker answered (refused, timed out, not Kafka).
	ErrUnreachable = errors.New("kafka: broker unreachable")
	// ErrClosed: the Producer, Consumer or AlertWriter is closed.
	ErrClosed = errors.New("kafka: closed")
	// ErrConfig: a configuration that cannot work (no brokers, no group).
	ErrConfig = errors.New("kafka: bad configuration")
)

// Config is what every client of this package shares: where the brokers
// are, and the shape of the topics it creates when they are missing.
type Config struct {
	Brokers []string // host:port of one or more brokers
	// Partitions and ReplicationFactor of a topic created when missing
	// (defaults DefaultPartitions, DefaultReplicationFactor). An existing
	// topic is used as it is.
	Partitions        int
	ReplicationFactor int
	DialTimeout       time.Duration // default DefaultDialTimeout
	ClientID          string        // default DefaultClientID
	Logger            *slog.Logger  // default: discard
}

// Flags are the command-line settings of the Kafka bus: BindFlags binds
// them to flags named kafka.*, and Producer, Consumer and AlertWriter make
// the configurations of one process from them.
type Flags struct {
	Config
	UpdatesTopic   string
	AlertsTopic    string
	Group          string
	Compression    Compression
	StartAtEnd     bool
	SessionTimeout time.Duration
	WriteRetry     time.Duration // ProducerConfig.RetryFor
}

// BindFlags binds f to flags named kafka.* of fs.
func (f *Flags) BindFlags(fs *flag.FlagSet) {
	fs.Var((*listFlag)(&f.Brokers), "kafka.brokers", "Kafka brokers, host:port, comma separated (none: the embedded in-process bus)")
	fs.IntVar(&f.Partitions, "kafka.partitions", DefaultPartitions, "partitions of a Kafka topic bgpsentry creates")
	fs.IntVar(&f.ReplicationFactor, "kafka.replication", DefaultReplicationFactor, "replication factor of a Kafka topic bgpsentry creates")
	fs.DurationVar(&f.DialTimeout, "kafka.dial-timeout", DefaultDialTimeout, "timeout of a connection to a Kafka broker")
	fs.StringVar(&f.UpdatesTopic, "kafka.topic.updates", DefaultUpdatesTopic, "Kafka topic of BGP updates")
	fs.StringVar(&f.AlertsTopic, "kafka.topic.alerts", DefaultAlertsTopic, "Kafka topic of alert events")
	fs.StringVar(&f.Group, "kafka.group", DefaultGroup, "Kafka consumer group of the classifiers")
	fs.StringVar((*string)(&f.Compression), "kafka.compression", string(CompressionNone), "compression of the records bgpsentry writes: none, gzip, snappy, lz4 or zstd")
	fs.BoolVar(&f.StartAtEnd, "kafka.start-at-end", false, "a partition the group never committed is read from its end, not its beginning")
	fs.DurationVar(&f.SessionTimeout, "kafka.session-timeout", 10*time.Second, "a classifier silent this long is dropped from the Kafka group")
	fs.DurationVar(&f.WriteRetry, "kafka.write-retry", time.Minute, "keep retrying a failed write of updates for this long (a broker restart), once a second; 0 = give up after the client's ~10s of retries")
}

// Enabled reports whether brokers are configured (otherwise the embedded
// bus is the one to use).
func (f *Flags) Enabled() bool { return len(f.Brokers) > 0 }

// Producer is the configuration of the updates Producer.
func (f *Flags) Producer() ProducerConfig {
	return ProducerConfig{Config: f.Config, Topic: f.UpdatesTopic, Compression: f.Compression, RetryFor: f.WriteRetry}
}

// Consumer is the configuration of the updates Consumer.
func (f *Flags) Consumer() ConsumerConfig {
	return ConsumerConfig{Config: f.Config, Topic: f.UpdatesTopic, GroupID: f.Group, StartAtEnd: f.StartAtEnd, SessionTimeout: f.SessionTimeout}
}

// AlertWriter is the configuration of the AlertWriter.
func (f *Flags) AlertWriter() AlertWriterConfig {
	return AlertWriterConfig{Config: f.Config, Topic: f.AlertsTopic, Compression: f.Compression}
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = nil
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

// withDefaults returns c with defaults filled in, or an error for a
// configuration that cannot work.
func (c Config) withDefaults() (Config, error) {
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("%w: no brokers", ErrConfig)
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = DefaultReplicationFactor
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func (c *Config) transport() *kgo.Transport {
	return &kgo.Transport{
		DialTimeout: c.DialTimeout,
		ClientID:    c.ClientID,
		MetadataTTL: 10 * time.Second,
	}
}

func (c *Config) dialer() *kgo.Dialer {
	return &kgo.Dialer{Timeout: c.DialTimeout, ClientID: c.ClientID, DualStack: true}
}

// kafkaLogger adapts slog to kafka-go's Printf loggers: its chatter at
// Debug, its errors at Warn (kafka-go retries what it reports there).
func kafkaLogger(l *slog.Logger, level slog.Level) kgo.LoggerFunc {
	return func(format string, args ...any) {
		if l.Enabled(context.Background(), level) {
			l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)), "lib", "kafka-go")
		}
	}
}

// Compression names a record batch compression codec.
type Compression string

// Compression codecs.
const (
	CompressionNone   Compression = "none"
	CompressionGzip   Compression = "gzip"
	CompressionSnappy Compression = "snappy"
	CompressionLz4    Compression = "lz4"
	CompressionZstd   Compression = "zstd"
)

func (c Compression) codec() (kgo.Compression, error) {
	switch c {
	case "", CompressionNone:
		return 0, nil
	case CompressionGzip:
		return kgo.Gzip, nil
	case CompressionSnappy:
		return kgo.Snappy, nil
	case CompressionLz4:
		return kgo.Lz4, nil
	case CompressionZstd:
		return kgo.Zstd, nil
	}
	return 0, fmt.Errorf("%w: compression %q (want none, gzip, snappy, lz4 or zstd)", ErrConfig, string(c))
}

// Validate reports whether c names a known codec.
func (c Compression) Validate() error {
	_, err := c.codec()
	return err
}
