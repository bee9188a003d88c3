package speaker

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

func upd(i int) bgpfeed.Update {
	return bgpfeed.Update{Kind: bgpfeed.KindAnnounce, PathID: uint32(i)}
}

// TestQueueConcurrent runs producers against consumers under -race: the
// queue never holds more than its bound, every Update pushed is either
// read once or counted as dropped, and a stalled consumer causes drops
// rather than blocking producers.
func TestQueueConcurrent(t *testing.T) {
	const (
		limit     = 64
		producers = 4
		perProd   = 5000
		consumers = 2
	)
	q := newQueue(limit)
	var (
		accepted atomic.Int64
		read     atomic.Int64
		maxLen   atomic.Int64
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := make([]atomic.Int32, producers*perProd)
	var cwg sync.WaitGroup
	for c := 0; c < consumers; c++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				u, err := q.next(ctx)
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Errorf("next: %v", err)
					return
				}
				if seen[u.PathID].Add(1) != 1 {
					t.Errorf("update %d read twice", u.PathID)
				}
				read.Add(1)
				if c%2 == 0 {
					time.Sleep(time.Microsecond) // a slow consumer: forces drops
				}
			}
		}()
	}
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProd; i++ {
				if q.push(upd(p*perProd + i)) {
					accepted.Add(1)
				}
				if n := int64(q.len()); n > maxLen.Load() {
					maxLen.Store(n)
				}
			}
		}()
	}
	wg.Wait()
	q.close()
	cwg.Wait()
	total := int64(producers * perProd)
	dropped := int64(q.dropped.Load())
	if accepted.Load()+dropped != total {
		t.Errorf("accepted %d + dropped %d != pushed %d", accepted.Load(), dropped, total)
	}
	if read.Load() != accepted.Load() {
		t.Errorf("read %d, accepted %d", read.Load(), accepted.Load())
	}
	if maxLen.Load() > limit {
		t.Errorf("queue held %d items, bound %d", maxLen.Load(), limit)
	}
	t.Logf("pushed %d, read %d, dropped %d, max length %d (bound %d)", total, read.Load(), dropped, maxLen.Load(), limit)
}

// TestQueueControl: a full queue still takes state changes and flushes,
// a flush expands into one withdrawal per route in order, and close then
// drains before io.EOF.
func TestQueueControl(t *testing.T) {
	q := newQueue(2)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		q.push(upd(i))
	}
	if q.dropped.Load() != 1 {
		t.Fatalf("dropped %d, want 1", q.dropped.Load())
	}
	peer := netip.MustParseAddr("192.0.2.1")
	if !q.pushControl(item{u: bgpfeed.Update{Kind: bgpfeed.KindState, OldState: 6, NewState: 1}}) {
		t.Fatal("state change refused by a full queue")
	}
	routes := routeSet{}
	for i := 0; i < 1000; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		routes[keyOf(p, uint32(i%3))] = struct{}{}
	}
	routes[keyOf(netip.MustParsePrefix("2001:db8::/32"), 7)] = struct{}{}
	if !q.pushControl(item{fl: &flush{tmpl: bgpfeed.Update{Kind: bgpfeed.KindWithdraw, PeerAddr: peer}, routes: routes}}) {
		t.Fatal("flush refused")
	}
	q.push(upd(9)) // still full for routes
	q.close()
	var got []bgpfeed.Update
	for {
		u, err := q.next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u)
	}
	if len(got) != 2+1+1001 {
		t.Fatalf("read %d updates, want %d", len(got), 2+1+1001)
	}
	if got[2].Kind != bgpfeed.KindState {
		t.Errorf("third update %v, want the state change", got[2].Kind)
	}
	seen := map[routeKey]bool{}
	for _, u := range got[3:] {
		if u.Kind != bgpfeed.KindWithdraw || u.PeerAddr != peer || !u.Prefix.IsValid() {
			t.Fatalf("bad withdrawal %+v", u)
		}
		k := keyOf(u.Prefix, u.PathID)
		if _, ok := routes[k]; !ok || seen[k] {
			t.Fatalf("withdrawal of %s id %d: unknown or repeated", u.Prefix, u.PathID)
		}
		seen[k] = true
	}
	if q.push(upd(1)) || q.pushControl(item{}) {
		t.Error("closed queue accepted an item")
	}
	// Next honours its context.
	q2 := newQueue(1)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := q2.next(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("next on an empty queue: %v", err)
	}
}

func TestRouteKeyRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0/0", "192.0.2.0/24", "10.1.2.3/32", "::/0", "2001:db8::/32", "::ffff:0:0/96"} {
		p := netip.MustParsePrefix(s)
		k := keyOf(p, 42)
		if got := k.prefix(); got != p || k.pathID != 42 {
			t.Errorf("%s: round trip %s id %d", s, got, k.pathID)
		}
	}
	if keyOf(netip.MustParsePrefix("0.0.0.0/0"), 0) == keyOf(netip.MustParsePrefix("::/0"), 0) {
		t.Error("IPv4 and IPv6 default routes share a key")
	}
}
