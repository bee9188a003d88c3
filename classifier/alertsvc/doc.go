// Package alertsvc serves alert events over gRPC (bgpsentry.v1.AlertService):
// a filtered, resumable Subscribe stream, a paged ListAlerts, Classify of
// one update against the live state, and GetModelInfo, beside the standard
// health and reflection services.
//
// A Broker keeps a bounded history of the events the Eventer emits
// (Publish, which never blocks) and feeds the subscriptions from it: a
// subscription is a cursor into the history, not a copy of the events, so
// memory is bounded by the history and the number of subscribers, whatever
// their speed. A subscriber that falls more than QueueSize matching events
// behind is ended with RESOURCE_EXHAUSTED and the cursor of the last event
// it was sent, from which it can resume; the others are not slowed.
//
// A Server puts a Broker behind gRPC with TLS (optionally mutual), bearer
// tokens, keepalive enforcement and a graceful shutdown. Several Servers
// may serve one Broker in turn (a restart keeps the history).
package alertsvc
