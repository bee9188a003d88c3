package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// Sink is where a feed writes its Updates: the in-process Bus or a Kafka
// producer. Write returns once the Updates are accepted (queued in
// process, or acknowledged by the brokers); it blocks while the sink is
// full, until ctx is done.
type Sink interface {
	Write(ctx context.Context, us ...bgpfeed.Update) error
}

// ErrClosed is returned by Write on a closed Bus.
var ErrClosed = errors.New("bus: closed")

// DefaultCapacity is the queue length of a Bus made with a capacity <= 0.
const DefaultCapacity = 4096

// Bus is the embedded bus: a bounded in-process queue of Updates. It is a
// Sink for any number of writers and a bgpfeed.Source for any number of
// readers (each Update goes to one reader). When the queue is full, Write
// blocks (backpressure on the feed) until there is room or its ctx is
// done; nothing is dropped. After Close, Write fails with ErrClosed and
// Next returns what is still queued, then io.EOF.
type Bus struct {
	ch     chan bgpfeed.Update
	done   chan struct{} // closed by Close: writers stop waiting
	sealed chan struct{} // closed once closed and no Write is in flight: ch gets nothing more

	mu       sync.Mutex // guards closed and writers
	closed   bool
	writers  int // Write calls in flight
	written  atomic.Uint64
	read     atomic.Uint64
	blocked  atomic.Uint64
	blockedT atomic.Int64 // nanoseconds
}

// New returns a Bus that queues up to capacity Updates (DefaultCapacity
// when capacity <= 0).
func New(capacity int) *Bus {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Bus{
		ch:     make(chan bgpfeed.Update, capacity),
		done:   make(chan struct{}),
		sealed: make(chan struct{}),
	}
}

// Stats are a Bus's counters since New.
type Stats struct {
	Written uint64 // Updates accepted by Write
	Read    uint64 // Updates returned by Next
	// Blocked counts the Updates that found the queue full; BlockedTime
	// is how long writers waited for room in all.
	Blocked     uint64
	BlockedTime time.Duration
	Len, Cap    int // Updates queued now, and the bound
}

// Stats returns the counters. They are read one by one, not as a snapshot.
func (b *Bus) Stats() Stats {
	return Stats{
		Written:     b.written.Load(),
		Read:        b.read.Load(),
		Blocked:     b.blocked.Load(),
		BlockedTime: time.Duration(b.blockedT.Load()),
		Len:         len(b.ch),
		Cap:         cap(b.ch),
	}
}

// Write queues us in order. It blocks while the queue is full; when ctx is
// done or the Bus is closed first, it returns an error that says how many
// of us were queued (those stay queued).
func (b *Bus) Write(ctx context.Context, us ...bgpfeed.Update) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.writers++
	b.mu.Unlock()
	defer b.endWrite()

	for i := range us {
		select {
		case b.ch <- us[i]:
			b.written.Add(1)
			continue
		default:
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bus: write: %d of %d updates queued: %w", i, len(us), err)
		}
		t0 := time.Now()
		b.blocked.Add(1)
		select {
		case b.ch <- us[i]:
			b.written.Add(1)
			b.blockedT.Add(int64(time.Since(t0)))
		case <-ctx.Done():
			b.blockedT.Add(int64(time.Since(t0)))
			return fmt.Errorf("bus: write: %d of %d updates queued: %w", i, len(us), ctx.Err())
		case <-b.done:
			b.blockedT.Add(int64(time.Since(t0)))
			return fmt.Errorf("bus: write: %d of %d updates queued: %w", i, len(us), ErrClosed)
		}
	}
	return nil
}

func (b *Bus) endWrite() {
	b.mu.Lock()
	b.writers--
	if b.closed && b.writers == 0 {
		close(b.sealed)
	}
	b.mu.Unlock()
}

// Next returns the next queued Update, waiting for one. After Close it
// returns the Updates still queued, then io.EOF.
func (b *Bus) Next(ctx context.Context) (bgpfeed.Update, error) {
	if err := ctx.Err(); err != nil {
		return bgpfeed.Update{}, fmt.Errorf("bus: next: %w", err)
	}
	select {
	case u := <-b.ch:
		b.read.Add(1)
		return u, nil
	default:
	}
	select {
	case u := <-b.ch:
		b.read.Add(1)
		return u, nil
	case <-b.sealed:
		// No Write can add anything now: what is queued is all there is.
		select {
		case u := <-b.ch:
			b.read.Add(1)
			return u, nil
		default:
			return bgpfeed.Update{}, io.EOF
		}
	case <-ctx.Done():
		return bgpfeed.Update{}, fmt.Errorf("bus: next: %w", ctx.Err())
	}
}

// Close stops the Bus: blocked and later Writes fail with ErrClosed,
// readers drain the queue and then get io.EOF. Close is idempotent.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.done)
	if b.writers == 0 {
		close(b.sealed)
	}
	return nil
}

var (
	_ Sink           = (*Bus)(nil)
	_ bgpfeed.Source = (*Bus)(nil)
)
