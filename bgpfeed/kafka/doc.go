// Package kafka is bgpsentry's scale-out bus on Apache Kafka (through
// segmentio/kafka-go), behind the same interfaces as the embedded bus:
//
//   - Producer is a bus.Sink: the feed writes Updates to the topic
//     bgp.updates, as protobuf (bgpfeed.MarshalUpdate), keyed by the
//     covering aggregate of the prefix (bus.Key), so that a prefix and all
//     its more-specifics land on one partition, in order. A peer's session
//     state change concerns every partition that holds routes of that peer,
//     so it is written to every partition (see Producer).
//   - Consumer is a bgpfeed.Source and bgpfeed.Committer: classifier
//     instances share the partitions as one consumer group; Next returns
//     the decoded Updates (a record that does not decode is skipped and
//     counted), Commit commits the offsets of everything Next returned.
//     Delivery is at-least-once: commit only once the Updates' effects are
//     durable. Partition assignment changes are reported (OnAssign), so a
//     classifier knows which partitions, hence which aggregates, it owns.
//   - AlertWriter writes AlertEvents to the topic bgp.alerts, keyed by
//     alert id, with the event sequence in a header.
//
// Producers and writers create their topic when it is missing (partitions
// and replication factor from Config), and fail with ErrUnreachable when
// no broker answers. scripts/kafka.sh runs a single-node broker for
// development and tests.
package kafka
