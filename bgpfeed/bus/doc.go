// Package bus moves Updates from the feed (MRT replay, the live speaker) to
// the featurizer. The embedded default is Bus, a bounded in-process queue:
// one binary, no services. Kafka (bgpfeed/kafka) is the scale-out engine
// behind the same interfaces: a Sink for the feed, a bgpfeed.Source (and
// bgpfeed.Committer) for the featurizer.
//
// Key is the partition key of an Update: the covering aggregate of its
// prefix, so that a prefix and all its more-specifics travel on one
// partition, in order, and sub-prefix detection needs no cross-partition
// state.
package bus
