package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/bus"
)

// upd is an announcement numbered by (writer, seq): PeerASN and PathID.
func upd(writer, seq uint32) bgpfeed.Update {
	return bgpfeed.Update{
		Kind: bgpfeed.KindAnnounce, PeerASN: writer, PathID: seq,
		PeerAddr: netip.AddrFrom4([4]byte{192, 0, 2, byte(writer)}),
		Prefix:   netip.MustParsePrefix("198.51.100.0/24"),
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, want string
	}{
		{"ipv4 /24", "193.0.14.0/24", "193.0.0.0/8"},
		{"ipv4 the aggregate itself", "10.0.0.0/8", "10.0.0.0/8"},
		{"ipv4 host", "203.0.113.7/32", "203.0.0.0/8"},
		{"ipv4 shorter than the aggregate", "192.0.0.0/7", "192.0.0.0/8"},
		{"ipv4 default route", "0.0.0.0/0", "0.0.0.0/8"},
		{"ipv6 /48", "2001:db8:1234::/48", "2001::/16"},
		{"ipv6 the aggregate itself", "2a00::/16", "2a00::/16"},
		{"ipv6 host", "2a02:26f0:ab::1/128", "2a02::/16"},
		{"ipv6 shorter than the aggregate", "2a00::/12", "2a00::/16"},
		{"ipv4-mapped ipv6 is ipv6", "::ffff:10.1.0.0/112", "::/16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netip.MustParsePrefix(tc.prefix)
			if got := string(bus.Key(p)); got != tc.want {
				t.Errorf("Key(%v) = %q, want %q", p, got, tc.want)
			}
			if got := bus.Aggregate(p).String(); got != tc.want {
				t.Errorf("Aggregate(%v) = %v, want %v", p, got, tc.want)
			}
			if got := string(bus.AppendKey([]byte("x"), p)); got != "x"+tc.want {
				t.Errorf("AppendKey = %q", got)
			}
		})
	}
	t.Run("zero prefix (state change)", func(t *testing.T) {
		if k := bus.Key(netip.Prefix{}); k != nil {
			t.Errorf("Key(zero) = %q, want nil", k)
		}
		if a := bus.Aggregate(netip.Prefix{}); a.IsValid() {
			t.Errorf("Aggregate(zero) = %v", a)
		}
	})
}

// A prefix and every more-specific of it share a key (for prefixes at
// least as long as the aggregate), and prefixes in different aggregates
// do not.
func TestKeyMoreSpecifics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	for i := 0; i < 20000; i++ {
		v6 := i%2 == 1
		a := randAddr(v6)
		minBits := bus.AggregateBits4
		if v6 {
			minBits = bus.AggregateBits6
		}
		bits := minBits + r.IntN(a.BitLen()-minBits+1)
		p, _ := a.Prefix(bits)
		moreBits := bits + r.IntN(a.BitLen()-bits+1)
		// A more-specific: p's bits, then anything.
		q, _ := a.Prefix(moreBits)
		if !p.Contains(q.Addr()) {
			t.Fatalf("test bug: %v does not contain %v", p, q)
		}
		if kp, kq := string(bus.Key(p)), string(bus.Key(q)); kp != kq {
			t.Fatalf("Key(%v) = %q but its more-specific %v has %q", p, kp, q, kq)
		}
		other := randAddr(v6)
		o, _ := other.Prefix(bits)
		if sameAgg := bus.Aggregate(o) == bus.Aggregate(p); sameAgg != (string(bus.Key(o)) == string(bus.Key(p))) {
			t.Fatalf("Key(%v) and Key(%v) disagree with their aggregates", o, p)
		}
	}
}

func TestBusOrderAndEOF(t *testing.T) {
	ctx := context.Background()
	b := bus.New(8)
	const n = 1000
	go func() {
		for i := uint32(0); i < n; i++ {
			if err := b.Write(ctx, upd(1, i)); err != nil {
				t.Errorf("Write: %v", err)
				return
			}
		}
		b.Close()
	}()
	for i := uint32(0); i < n; i++ {
		u, err := b.Next(ctx)
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if u.PathID != i {
			t.Fatalf("Next %d returned update %d: order lost", i, u.PathID)
		}
	}
	if _, err := b.Next(ctx); err != io.EOF {
		t.Fatalf("Next after Close and drain: %v, want io.EOF", err)
	}
	if _, err := b.Next(ctx); err != io.EOF {
		t.Fatalf("Next again: %v, want io.EOF", err)
	}
	st := b.Stats()
	if st.Written != n || st.Read != n || st.Len != 0 || st.Cap != 8 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestBusBackpressure(t *testing.T) {
	ctx := context.Background()
	b := bus.New(2)
	t.Run("full bus blocks until ctx is done", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		err := b.Write(wctx, upd(1, 0), upd(1, 1), upd(1, 2))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Write on a full bus: %v, want DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "2 of 3 updates queued") {
			t.Errorf("error does not say what was queued: %v", err)
		}
		if d := time.Since(t0); d < 40*time.Millisecond {
			t.Errorf("Write returned after %v: did not block", d)
		}
		st := b.Stats()
		if st.Written != 2 || st.Blocked != 1 || st.BlockedTime < 40*time.Millisecond || st.Len != 2 {
			t.Errorf("Stats = %+v", st)
		}
	})
	t.Run("a blocked writer resumes when a reader makes room", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- b.Write(ctx, upd(1, 2), upd(1, 3)) }()
		select {
		case err := <-done:
			t.Fatalf("Write on a full bus returned at once: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		for want := uint32(0); want < 4; want++ {
			u, err := b.Next(ctx)
			if err != nil || u.PathID != want {
				t.Fatalf("Next = %d, %v; want %d", u.PathID, err, want)
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("blocked Write: %v", err)
		}
		if st := b.Stats(); st.Blocked < 2 {
			t.Errorf("Blocked = %d, want >= 2", st.Blocked)
		}
	})
}

func TestBusClose(t *testing.T) {
	ctx := context.Background()
	b := bus.New(1)
	if err := b.Write(ctx, upd(1, 0)); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- b.Write(ctx, upd(1, 1)) }()
	time.Sleep(20 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, bus.ErrClosed) {
		t.Errorf("blocked Write after Close: %v, want ErrClosed", err)
	}
	if err := b.Write(ctx, upd(1, 2)); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	u, err := b.Next(ctx)
	if err != nil || u.PathID != 0 {
		t.Fatalf("Next after Close = %d, %v; want the queued update", u.PathID, err)
	}
	if _, err := b.Next(ctx); err != io.EOF {
		t.Fatalf("Next on a drained closed bus: %v, want io.EOF", err)
	}
}

func TestBusNextContext(t *testing.T) {
	b := bus.New(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty bus: %v, want DeadlineExceeded", err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := b.Write(canceled, upd(1, 0)); err != nil {
		t.Fatalf("Write with room but a canceled ctx: %v (room is taken first)", err)
	}
	if _, err := b.Next(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a canceled ctx: %v", err)
	}
}

// Many writers and readers, Close racing the last writes: every accepted
// Update is read exactly once, each writer's Updates in order per reader,
// and readers all end with io.EOF.
func TestBusConcurrent(t *testing.T) {
	const writers, readers, per = 4, 3, 5000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := bus.New(64)
	var wg sync.WaitGroup
	for w := uint32(1); w <= writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint32(0); i < per; i += 10 {
				batch := make([]bgpfeed.Update, 10)
				for j := range batch {
					batch[j] = upd(w, i+uint32(j))
				}
				if err := b.Write(ctx, batch...); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	type seen struct {
		got  map[[2]uint32]bool
		last map[uint32]int64
	}
	results := make([]seen, readers)
	var rg sync.WaitGroup
	for r := range results {
		results[r] = seen{got: map[[2]uint32]bool{}, last: map[uint32]int64{}}
		rg.Add(1)
		go func() {
			defer rg.Done()
			s := &results[r]
			for {
				u, err := b.Next(ctx)
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Errorf("reader %d: %v", r, err)
					return
				}
				if last, ok := s.last[u.PeerASN]; ok && int64(u.PathID) <= last {
					t.Errorf("reader %d: writer %d's %d after %d", r, u.PeerASN, u.PathID, last)
				}
				s.last[u.PeerASN] = int64(u.PathID)
				s.got[[2]uint32{u.PeerASN, u.PathID}] = true
			}
		}()
	}
	wg.Wait()
	b.Close()
	rg.Wait()
	all := map[[2]uint32]bool{}
	for _, s := range results {
		for k := range s.got {
			if all[k] {
				t.Fatalf("update %v read twice", k)
			}
			all[k] = true
		}
	}
	if len(all) != writers*per {
		t.Fatalf("read %d distinct updates, want %d", len(all), writers*per)
	}
	if st := b.Stats(); st.Written != writers*per || st.Read != writers*per {
		t.Errorf("Stats = %+v", st)
	}
}

func BenchmarkBus(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			q := bus.New(1024)
			us := make([]bgpfeed.Update, batch)
			for i := range us {
				us[i] = upd(1, uint32(i))
			}
			done := make(chan int)
			go func() {
				n := 0
				for {
					if _, err := q.Next(ctx); err != nil {
						done <- n
						return
					}
					n++
				}
			}()
			for i := 0; i < b.N; i += batch {
				if err := q.Write(ctx, us...); err != nil {
					b.Fatal(err)
				}
			}
			q.Close()
			n := <-done
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

func ExampleBus() {
	ctx := context.Background()
	b := bus.New(16)
	p := netip.MustParsePrefix("193.0.14.0/24")
	_ = b.Write(ctx, bgpfeed.Update{Kind: bgpfeed.KindAnnounce, Prefix: p})
	b.Close()
	for {
		u, err := b.Next(ctx)
		if err == io.EOF {
			break
		}
		fmt.Println(u.Kind, u.Prefix, "key", string(bus.Key(u.Prefix)))
	}
	// Output: A 193.0.14.0/24 key 193.0.0.0/8
}
