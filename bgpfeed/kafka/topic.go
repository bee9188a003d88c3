package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	kgo "github.com/segmentio/kafka-go"
)

// Topic is a topic to create when it is missing.
type Topic struct {
	Name              string
	Partitions        int               // default: Config.Partitions
	ReplicationFactor int               // default: Config.ReplicationFactor
	Configs           map[string]string // topic configs, e.g. "retention.ms": "86400000"
}

// topicWait bounds how long EnsureTopic waits for a new topic's partitions
// to get leaders.
const topicWait = 30 * time.Second

// EnsureTopic creates topic t when it does not exist, waits until every
// partition of it has a leader, and returns its partition IDs. An existing
// topic is left as it is (its partition count may differ from
// t.Partitions). It fails with ErrUnreachable when no broker answers.
func EnsureTopic(ctx context.Context, cfg Config, t Topic) ([]int, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if t.Name == "" {
		return nil, fmt.Errorf("%w: empty topic name", ErrConfig)
	}
	if t.Partitions <= 0 {
		t.Partitions = cfg.Partitions
	}
	if t.ReplicationFactor <= 0 {
		t.ReplicationFactor = cfg.ReplicationFactor
	}
	log := cfg.Logger.With(logTopic, t.Name)

	parts, err := freshPartitions(ctx, &cfg, t.Name)
	switch {
	case err == nil:
		return parts, nil
	case !errors.Is(err, kgo.UnknownTopicOrPartition):
		return nil, err
	}

	client, tr := adminClient(&cfg, t.Name)
	defer tr.CloseIdleConnections()
	tc := kgo.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor}
	for k, v := range t.Configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kgo.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	res, err := client.CreateTopics(ctx, &kgo.CreateTopicsRequest{Topics: []kgo.TopicConfig{tc}})
	if err != nil {
		return nil, brokerErr(ctx, &cfg, "create topic "+t.Name, err)
	}
	switch cerr := res.Errors[t.Name]; {
	case cerr == nil:
		log.Info("kafka: created topic", "partitions", t.Partitions, "replication", t.ReplicationFactor)
	case errors.Is(cerr, kgo.TopicAlreadyExists):
		// Created by someone else since we looked.
	default:
		return nil, fmt.Errorf("kafka: create topic %s (%d partitions, replication %d): %w", t.Name, t.Partitions, t.ReplicationFactor, cerr)
	}

	wctx, cancel := context.WithTimeout(ctx, topicWait)
	defer cancel()
	for {
		parts, err := freshPartitions(wctx, &cfg, t.Name)
		if err == nil {
			return parts, nil
		}
		if !errors.Is(err, kgo.UnknownTopicOrPartition) && !errors.Is(err, kgo.LeaderNotAvailable) {
			return nil, err
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("kafka: topic %s created but its partitions have no leader after %v: %w", t.Name, topicWait, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// adminClient returns a client with a transport of its own, whose
// metadata is fetched afresh (kafka-go serves metadata from a transport's
// cache). Close the transport's idle connections when done.
func adminClient(cfg *Config, topics ...string) (*kgo.Client, *kgo.Transport) {
	tr := cfg.transport()
	tr.MetadataTopics = topics
	return &kgo.Client{Addr: kgo.TCP(cfg.Brokers...), Timeout: cfg.DialTimeout, Transport: tr}, tr
}

// freshPartitions returns the sorted partition IDs of topic from new
// metadata. It fails with an error that wraps UnknownTopicOrPartition for
// a missing topic, LeaderNotAvailable while a partition has no leader.
func freshPartitions(ctx context.Context, cfg *Config, topic string) ([]int, error) {
	client, tr := adminClient(cfg, topic)
	defer tr.CloseIdleConnections()
	return partitionsOf(ctx, cfg, client, topic)
}

func partitionsOf(ctx context.Context, cfg *Config, client *kgo.Client, topic string) ([]int, error) {
	md, err := client.Metadata(ctx, &kgo.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, brokerErr(ctx, cfg, "metadata of "+topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("kafka: topic %s: %w", topic, t.Error)
		}
		if len(t.Partitions) == 0 {
			return nil, fmt.Errorf("kafka: topic %s has no partitions: %w", topic, kgo.UnknownTopicOrPartition)
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			if p.Error != nil {
				return nil, fmt.Errorf("kafka: topic %s partition %d: %w", topic, p.ID, p.Error)
			}
			if p.Leader.Host == "" {
				return nil, fmt.Errorf("kafka: topic %s partition %d: %w", topic, p.ID, kgo.LeaderNotAvailable)
			}
			ids = append(ids, p.ID)
		}
		slices.Sort(ids)
		return ids, nil
	}
	return nil, fmt.Errorf("kafka: topic %s: %w", topic, kgo.UnknownTopicOrPartition)
}

// brokerErr wraps an error of a request: a Kafka protocol error as it is,
// the caller's cancellation as it is, anything else (refused, timed out,
// reset) as ErrUnreachable with the broker list.
func brokerErr(ctx context.Context, cfg *Config, op string, err error) error {
	var kerr kgo.Error
	if errors.As(err, &kerr) || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return fmt.Errorf("kafka: %s: %w", op, err)
	}
	return fmt.Errorf("%w (%s): %s: %w", ErrUnreachable, strings.Join(cfg.Brokers, ","), op, err)
}

// writeErr describes a failed WriteMessages of n records (what: "12
// updates", "3 alert events") to topic: for a partial failure, how many
// records failed and the first cause.
func writeErr(ctx context.Context, cfg *Config, what, topic string, n int, err error) error {
	var werr kgo.WriteErrors
	if errors.As(err, &werr) {
		var first error
		for _, e := range werr {
			if e != nil {
				first = e
				break
			}
		}
		return fmt.Errorf("kafka: write %s to %s: %d of %d records failed: %w", what, topic, werr.Count(), n, brokerErr(ctx, cfg, "produce", first))
	}
	return fmt.Errorf("kafka: write %s to %s: %w", what, topic, brokerErr(ctx, cfg, "produce", err))
}
