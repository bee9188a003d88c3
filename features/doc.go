// Package features turns a stream of bgpfeed.Updates into feature vectors
// for the classifier: one function (State.Observe) keeps the routing state
// (prefix trie with origin history and each peer's current route, the AS
// link graph with first-seen times, per-origin statistics, decayed burst
// counters) and computes the ordered, versioned vector of Names for every
// announcement worth scoring. `bgpsentry featurize` (training rows) and the
// live classifier call the same function, so training and serving cannot
// drift apart.
//
// Reference data is optional and loaded by the sub-packages: asrel (AS
// relationships, or inferred from observed paths), asorg (siblings), rpki
// (route origin validation) and bogon (reserved prefixes and ASNs).
package features
