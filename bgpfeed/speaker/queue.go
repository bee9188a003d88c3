package speaker

import (
	"context"
	"io"
	"iter"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// controlReserve is the room kept above the route bound for session state
// changes and session-down flushes, so that a queue full of routes never
// loses the news that a peer's routes are all gone.
const controlReserve = 1024

// routeKey identifies one route of one peer: prefix and ADD-PATH path
// identifier, packed into 24 bytes (a netip.Prefix alone is 32).
type routeKey struct {
	addr   [16]byte
	bits   uint8
	v4     bool
	pathID uint32
}

func keyOf(p netip.Prefix, pathID uint32) routeKey {
	return routeKey{addr: p.Addr().As16(), bits: uint8(p.Bits()), v4: p.Addr().Is4(), pathID: pathID}
}

func (k routeKey) prefix() netip.Prefix {
	a := netip.AddrFrom16(k.addr)
	if k.v4 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, int(k.bits))
}

// routeSet is what one peer currently announces.
type routeSet map[routeKey]struct{}

// flush expands lazily, in Next, into the withdrawals of every route a
// peer had when its session went down: the set is detached from the peer
// (no copy), so a full table costs no queue space.
type flush struct {
	tmpl   bgpfeed.Update // Kind, Time, Source, Format, peer; Prefix and PathID set per route
	routes routeSet
	next   func() (routeKey, bool)
	stop   func()
}

func (f *flush) pop() (bgpfeed.Update, bool) {
	if f.next == nil {
		f.next, f.stop = iter.Pull(maps.Keys(f.routes))
	}
	k, ok := f.next()
	if !ok {
		f.close()
		return bgpfeed.Update{}, false
	}
	u := f.tmpl
	u.Prefix, u.PathID = k.prefix(), k.pathID
	return u, true
}

func (f *flush) close() {
	if f.stop != nil {
		f.stop()
	}
	f.next, f.stop, f.routes = nil, nil, nil
}

// item is one queue slot: an Update, or a flush.
type item struct {
	u  bgpfeed.Update
	fl *flush
}

// queue is a bounded FIFO between the GoBGP watcher (one producer) and
// Next (any number of consumers). Route Updates are admitted while fewer
// than limit items wait and are dropped (and counted) otherwise; control
// items (state changes, flushes) may use controlReserve more slots, and
// are dropped only beyond that. Nothing ever blocks the producer, so a
// slow consumer can never stall GoBGP or a BGP session.
type queue struct {
	mu     sync.Mutex // guards buf, head, n, closed and the flush at the head
	buf    []item     // ring of len limit+controlReserve
	head   int
	n      int
	limit  int
	closed bool
	wake   chan struct{} // capacity 1: "items may be waiting"
	done   chan struct{} // closed by close: wakes every waiting consumer

	dropped        atomic.Uint64 // route Updates refused: queue full
	droppedControl atomic.Uint64 // state changes and flushes refused: reserve full too
}

func newQueue(limit int) *queue {
	return &queue{buf: make([]item, limit+controlReserve), limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push appends a route Update; false when it was dropped.
func (q *queue) push(u bgpfeed.Update) bool {
	return q.put(item{u: u}, q.limit, &q.dropped)
}

// pushControl appends a state change or a flush; false when even the
// reserve was full (or the queue is closed).
func (q *queue) pushControl(it item) bool {
	return q.put(it, len(q.buf), &q.droppedControl)
}

func (q *queue) put(it item, bound int, drops *atomic.Uint64) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if q.n >= bound {
		q.mu.Unlock()
		drops.Add(1)
		return false
	}
	q.buf[(q.head+q.n)%len(q.buf)] = it
	q.n++
	q.mu.Unlock()
	q.signal()
	return true
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next returns the next Update, waiting for one; io.EOF once the queue is
// closed and empty.
func (q *queue) next(ctx context.Context) (bgpfeed.Update, error) {
	for {
		q.mu.Lock()
		for q.n > 0 {
			it := &q.buf[q.head]
			if it.fl != nil {
				u, ok := it.fl.pop()
				if ok {
					q.mu.Unlock()
					q.signal()
					return u, nil
				}
				q.drop1()
				continue
			}
			u := it.u
			q.drop1()
			more := q.n > 0
			q.mu.Unlock()
			if more {
				q.signal() // another consumer may be waiting
			}
			return u, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return bgpfeed.Update{}, io.EOF
		}
		select {
		case <-q.wake:
		case <-q.done:
		case <-ctx.Done():
			return bgpfeed.Update{}, ctx.Err()
		}
	}
}

// drop1 removes the head item; q.mu must be held.
func (q *queue) drop1() {
	q.buf[q.head] = item{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
}

// close stops admitting items; what waits can still be read, then next
// returns io.EOF.
func (q *queue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.done) // one wake token would wake only one of several consumers
	}
	q.mu.Unlock()
	q.signal()
}

// discard drops everything still queued and releases pending flushes.
func (q *queue) discard() {
	q.mu.Lock()
	for q.n > 0 {
		if fl := q.buf[q.head].fl; fl != nil {
			fl.close()
		}
		q.drop1()
	}
	q.mu.Unlock()
}

// len is the number of items waiting (a pending flush counts one).
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
