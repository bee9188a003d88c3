package alertsvc

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// Defaults of BrokerConfig.
const (
	DefaultHistorySize    = 10000
	DefaultHistoryAge     = 24 * time.Hour
	DefaultQueueSize      = 1000
	DefaultMaxSubscribers = 256
)

// fetchBatch is how many events a subscription takes from the history per
// lock; maxScan bounds the events examined per lock.
const (
	fetchBatch = 64
	maxScan    = 4096
)

// Log keys.
const (
	keyErr      = "err"
	keySequence = "sequence"
	keyLatest   = "latest"
	keyMethod   = "method"
)

// BrokerConfig bounds a Broker. The zero value means the defaults.
type BrokerConfig struct {
	// HistorySize is how many events are kept for resume and ListAlerts
	// (default 10,000).
	HistorySize int
	// HistoryAge drops kept events published longer ago than this
	// (default 24h).
	HistoryAge time.Duration
	// QueueSize is how many matching events a subscriber may fall behind
	// before it is ended with RESOURCE_EXHAUSTED (default 1,000).
	QueueSize int
	// MaxSubscribers bounds the concurrent subscriptions (default 256);
	// one more is refused with RESOURCE_EXHAUSTED.
	MaxSubscribers int
	// StartSequence is the sequence of the last event published before
	// this Broker (the Eventer's restored sequence after a restart): a
	// cursor below it is out of range, not silently empty, and Publish
	// refuses events at or below it.
	StartSequence uint64
	// Logger gets rejected events; nil discards.
	Logger *slog.Logger
	// Now is the clock of HistoryAge (default time.Now).
	Now func() time.Time
}

// BrokerStats are a Broker's counters.
type BrokerStats struct {
	Published   uint64 // events accepted by Publish
	Rejected    uint64 // events refused: sequence not above the latest
	Evicted     uint64 // events dropped from the history
	Kept        int    // events in the history now
	Subscribers int    // subscriptions now
	Subscribed  uint64 // subscriptions started
	TooSlow     uint64 // subscriptions ended for falling behind
	Latest      uint64 // sequence of the newest event
	Oldest      uint64 // oldest cursor accepted as since
}

// Broker keeps the recent alert events and feeds the subscriptions. It is
// safe for concurrent use; Publish never blocks on a subscriber.
type Broker struct {
	cfg BrokerConfig
	log *slog.Logger

	mu     sync.Mutex // guards every field below and subscription.next/queued/ended/endCode/endMsg
	hist   ring
	floor  uint64 // every event at or below floor is gone: the oldest cursor accepted
	latest uint64 // sequence of the newest event published
	subs   map[*subscription]struct{}
	stats  BrokerStats
}

// NewBroker makes a Broker.
func NewBroker(cfg BrokerConfig) *Broker {
	if cfg.HistorySize <= 0 {
		cfg.HistorySize = DefaultHistorySize
	}
	if cfg.HistoryAge <= 0 {
		cfg.HistoryAge = DefaultHistoryAge
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxSubscribers <= 0 {
		cfg.MaxSubscribers = DefaultMaxSubscribers
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Broker{
		cfg:    cfg,
		log:    log.With("stage", "alertsvc"),
		hist:   ring{max: cfg.HistorySize},
		floor:  cfg.StartSequence,
		latest: cfg.StartSequence,
		subs:   map[*subscription]struct{}{},
	}
}

// entry is a kept event with what the filters need, parsed once.
type entry struct {
	ev       *pb.AlertEvent // immutable once published
	seq      uint64
	at       int64 // publish time, Unix ns
	prefixes []netip.Prefix
}

// subscription is one Subscribe stream's cursor into the history.
type subscription struct {
	filter      *filter
	startLatest uint64        // the latest sequence when it started
	wake        chan struct{} // capacity 1: a matching event was published
	done        chan struct{} // closed when the broker ends it

	// Guarded by Broker.mu.
	next    uint64 // the next sequence to examine
	queued  int64  // matching events published since it started
	ended   bool
	endCode codes.Code
	endMsg  string

	sentLive atomic.Int64  // events sent that were published after it started
	lastSent atomic.Uint64 // sequence of the last event sent
}

// markSent records that the event seq was sent: it leaves the queue.
func (s *subscription) markSent(seq uint64) {
	s.lastSent.Store(seq)
	if seq > s.startLatest {
		s.sentLive.Add(1)
	}
}

// Publish adds an event to the history and wakes the subscriptions it
// matches; it keeps a clone, so the caller may reuse ev (it fits
// classifier.NewEventer's emit). An event whose sequence is not above the
// latest is refused, logged and counted (BrokerStats.Rejected): cursors
// must increase. Publish never blocks on a subscriber: one that falls
// QueueSize events behind is ended.
func (b *Broker) Publish(ev *pb.AlertEvent) {
	if ev == nil {
		return
	}
	c := proto.Clone(ev).(*pb.AlertEvent)
	e := entry{ev: c, seq: c.GetSequence(), prefixes: eventPrefixes(c)}
	now := b.cfg.Now()
	e.at = now.UnixNano()

	b.mu.Lock()
	defer b.mu.Unlock()
	if e.seq <= b.latest {
		b.stats.Rejected++
		b.log.Error("alertsvc: publish: sequence does not increase; event dropped", keySequence, e.seq, keyLatest, b.latest)
		return
	}
	b.evict(e.at, 1)
	prev := b.latest
	b.hist.push(e)
	b.latest = e.seq
	b.stats.Published++
	for s := range b.subs {
		if !s.filter.match(&e) {
			if s.next > prev { // caught up: skip the event for good
				s.next = e.seq + 1
			}
			continue
		}
		s.queued++
		if s.queued-s.sentLive.Load() > int64(b.cfg.QueueSize) {
			b.stats.TooSlow++
			b.end(s, codes.ResourceExhausted, fmt.Sprintf("subscriber too slow: more than %d events queued", b.cfg.QueueSize))
			continue
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// evict drops the events older than HistoryAge, and the oldest ones until
// room more fit. A subscription that has not yet been sent a dropped event
// it matches is ended: it fell behind the history.
func (b *Broker) evict(now int64, room int) {
	oldest := now - int64(b.cfg.HistoryAge)
	for b.hist.n > 0 {
		ev := *b.hist.front()
		if b.hist.n+room <= b.cfg.HistorySize && ev.at >= oldest {
			return
		}
		b.hist.popFront()
		b.floor = ev.seq
		b.stats.Evicted++
		for s := range b.subs {
			if s.next <= ev.seq && s.filter.match(&ev) {
				b.stats.TooSlow++
				b.end(s, codes.ResourceExhausted, "subscriber too slow: fell behind the history")
			}
		}
	}
}

// end ends a subscription (idempotent); b.mu must be held.
func (b *Broker) end(s *subscription, code codes.Code, msg string) {
	if s.ended {
		return
	}
	s.ended, s.endCode, s.endMsg = true, code, msg
	close(s.done)
	delete(b.subs, s)
}

// endOf returns why s ended.
func (b *Broker) endOf(s *subscription) (codes.Code, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return s.endCode, s.endMsg
}

// Stats returns the counters.
func (b *Broker) Stats() BrokerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.Kept = b.hist.n
	st.Subscribers = len(b.subs)
	st.Latest = b.latest
	st.Oldest = b.floor
	return st
}

// Latest is the sequence of the newest event published.
func (b *Broker) Latest() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latest
}

// cursorInfo describes the history for an error detail; b.mu must be held.
func (b *Broker) cursorInfo(last uint64) *pb.CursorInfo {
	return &pb.CursorInfo{LastSequence: last, OldestCursor: b.floor, LatestSequence: b.latest}
}

// checkSince validates a resume cursor; b.mu must be held.
func (b *Broker) checkSince(since uint64) error {
	if since > b.latest {
		return cursorError(codes.InvalidArgument, b.cursorInfo(0),
			"since %d is ahead of the newest event %d", since, b.latest)
	}
	if since < b.floor {
		return cursorError(codes.OutOfRange, b.cursorInfo(0),
			"since %d is older than the history: events %d to %d are gone; the oldest cursor accepted is %d",
			since, since+1, b.floor, b.floor)
	}
	return nil
}

// subscribe starts a subscription after since (nil: after the newest
// event); it returns the cursor the stream starts after.
func (b *Broker) subscribe(f *filter, since *uint64) (*subscription, uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.evict(b.cfg.Now().UnixNano(), 0)
	if len(b.subs) >= b.cfg.MaxSubscribers {
		return nil, 0, cursorError(codes.ResourceExhausted, b.cursorInfo(0),
			"too many subscribers (at most %d)", b.cfg.MaxSubscribers)
	}
	start := b.latest
	if since != nil {
		if err := b.checkSince(*since); err != nil {
			return nil, 0, err
		}
		start = *since
	}
	s := &subscription{
		filter:      f,
		startLatest: b.latest,
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		next:        start + 1,
	}
	s.lastSent.Store(start)
	if start < b.latest {
		s.wake <- struct{}{}
	}
	b.subs[s] = struct{}{}
	b.stats.Subscribed++
	return s, start, nil
}

// unsubscribe removes a subscription (idempotent).
func (b *Broker) unsubscribe(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !s.ended {
		s.ended = true
		close(s.done)
	}
	delete(b.subs, s)
}

// endSubscription ends s from outside (server shutdown).
func (b *Broker) endSubscription(s *subscription, code codes.Code, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.end(s, code, msg)
}

// fetch appends to buf the next events s matches, up to cap(buf), and
// advances its cursor past them. more says whether events remain to be
// examined; ok is false once s has ended.
func (b *Broker) fetch(s *subscription, buf []*pb.AlertEvent) (out []*pb.AlertEvent, more, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.ended {
		return buf, false, false
	}
	i := b.hist.search(s.next)
	for scanned := 0; i < b.hist.n && len(buf) < cap(buf) && scanned < maxScan; i, scanned = i+1, scanned+1 {
		e := b.hist.at(i)
		if s.filter.match(e) {
			buf = append(buf, e.ev)
		}
		s.next = e.seq + 1
	}
	return buf, i < b.hist.n, true
}

// list returns up to n events after cursor that pass f, whether more
// follow, and the history's bounds. With strict, a cursor older than the
// history is an OUT_OF_RANGE error; otherwise the listing starts at the
// oldest kept event.
func (b *Broker) list(f *filter, after uint64, strict bool, n int) (evs []*pb.AlertEvent, more bool, latest, oldest uint64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.evict(b.cfg.Now().UnixNano(), 0)
	if strict {
		if err := b.checkSince(after); err != nil {
			return nil, false, 0, 0, err
		}
	}
	if b.hist.n > 0 {
		oldest = b.hist.front().seq
	}
	for i := b.hist.search(after + 1); i < b.hist.n; i++ {
		e := b.hist.at(i)
		if !f.match(e) {
			continue
		}
		if len(evs) == n {
			more = true
			break
		}
		evs = append(evs, e.ev)
	}
	return evs, more, b.latest, oldest, nil
}

// ring is the history: entries in ascending sequence order, oldest first,
// in a circular buffer that grows up to max entries.
type ring struct {
	buf     []entry
	head, n int
	max     int
}

func (r *ring) at(i int) *entry { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) front() *entry { return r.at(0) }

func (r *ring) push(e entry) {
	if r.n == len(r.buf) {
		size := min(max(2*len(r.buf), 64), r.max)
		nb := make([]entry, size)
		for i := 0; i < r.n; i++ {
			nb[i] = *r.at(i)
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

func (r *ring) popFront() {
	r.buf[r.head] = entry{} // release the event
	r.head = (r.head + 1) % len(r.buf)
	r.n--
}

// search is the index of the first entry whose sequence is at least seq
// (n when there is none).
func (r *ring) search(seq uint64) int {
	return sort.Search(r.n, func(i int) bool { return r.at(i).seq >= seq })
}
