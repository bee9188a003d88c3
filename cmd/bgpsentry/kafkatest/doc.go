// Package kafkatest holds the process-level Kafka tests of bgpsentry (its
// _test.go files): `bgpsentry replay` (or a producer-only `serve`) feeds
// bgp.updates of a real broker, classifiers run as `bgpsentry serve`
// subprocesses in one consumer group, and the tests check from the
// classifiers' --kafka.audit files and the bgp.alerts topic that every
// record is processed (exactly once normally, at least once after a kill -9
// or a broker restart) and that no alert event is duplicated. They are in
// a package of their own so that the broker they start, and restart, does
// not slow down the other tests of cmd/bgpsentry.
package kafkatest
