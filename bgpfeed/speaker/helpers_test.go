package speaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// Test timeouts: generous, the machine is shared.
const (
	establishTimeout = 30 * time.Second
	routeTimeout     = 20 * time.Second
)

// testLogger logs to the test at the level of BGPSENTRY_SPEAKER_LOG
// ("debug", "info"; default warn).
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	switch os.Getenv("BGPSENTRY_SPEAKER_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startSpeaker starts a speaker on 127.0.0.1 (and ::1 when v6) at a free
// port, closed at the end of the test.
func startSpeaker(t testing.TB, cfg Config) *Speaker {
	t.Helper()
	if cfg.ASN == 0 {
		cfg.ASN = 64512
	}
	if !cfg.RouterID.IsValid() {
		cfg.RouterID = netip.MustParseAddr("10.255.0.1")
	}
	if cfg.ListenPort == 0 {
		cfg.ListenPort = freePort(t, "127.0.0.1")
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("speaker: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		s.Discard()
	})
	return s
}

// feed collects a speaker's Updates in the background.
type feed struct {
	mu      sync.Mutex
	cond    *sync.Cond
	updates []bgpfeed.Update
	err     error
	cancel  context.CancelFunc
	done    chan struct{}
}

func collect(t testing.TB, src bgpfeed.Source) *feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &feed{cancel: cancel, done: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	go func() {
		defer close(f.done)
		for {
			u, err := src.Next(ctx)
			f.mu.Lock()
			if err != nil {
				f.err = err
				f.cond.Broadcast()
				f.mu.Unlock()
				return
			}
			f.updates = append(f.updates, u)
			f.cond.Broadcast()
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	return f
}

// snapshot copies what was collected so far.
func (f *feed) snapshot() []bgpfeed.Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bgpfeed.Update(nil), f.updates...)
}

// mark returns the number of Updates collected so far.
func (f *feed) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.updates)
}

// since returns the Updates collected after mark m.
func (f *feed) since(m int) []bgpfeed.Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bgpfeed.Update(nil), f.updates[m:]...)
}

// waitFor waits until cond holds for the Updates collected after mark m,
// failing the test after d with what.
func (f *feed) waitFor(t testing.TB, m int, d time.Duration, what string, cond func([]bgpfeed.Update) bool) []bgpfeed.Update {
	t.Helper()
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer timer.Stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		got := f.updates[m:]
		if cond(got) {
			return append([]bgpfeed.Update(nil), got...)
		}
		if f.err != nil && !errors.Is(f.err, context.Canceled) {
			t.Fatalf("waiting for %s: feed ended: %v (got %d updates)\n%s", what, f.err, len(got), dump(got))
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; got %d updates:\n%s", d, what, len(got), dump(got))
		}
		f.cond.Wait()
	}
}

// waitEOF waits for the feed to end with io.EOF.
func (f *feed) waitEOF(t testing.TB, d time.Duration) []bgpfeed.Update {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(d):
		t.Fatalf("feed did not end within %v", d)
	}
	if !errors.Is(f.err, io.EOF) {
		t.Fatalf("feed ended with %v, want io.EOF", f.err)
	}
	return f.snapshot()
}

// fmtUpdate is a one-line form of an Update for failure messages.
func fmtUpdate(u bgpfeed.Update) string {
	switch u.Kind {
	case bgpfeed.KindState:
		return fmt.Sprintf("STATE %s AS%d %d->%d", u.PeerAddr, u.PeerASN, u.OldState, u.NewState)
	case bgpfeed.KindWithdraw:
		return fmt.Sprintf("W %s AS%d %s id=%d", u.PeerAddr, u.PeerASN, u.Prefix, u.PathID)
	}
	s := fmt.Sprintf("A %s AS%d %s id=%d table=%v", u.PeerAddr, u.PeerASN, u.Prefix, u.PathID, u.Table)
	if a := u.Attrs; a != nil {
		s += fmt.Sprintf(" path=[%s] nh=%s origin=%s", a.Path, a.NextHop, a.OriginType)
		if a.HasMED {
			s += fmt.Sprintf(" med=%d", a.MED)
		}
		if a.HasLocalPref {
			s += fmt.Sprintf(" lp=%d", a.LocalPref)
		}
		if len(a.Communities) > 0 {
			s += fmt.Sprintf(" comm=%v", a.Communities)
		}
		if len(a.LargeCommunities) > 0 {
			s += fmt.Sprintf(" large=%v", a.LargeCommunities)
		}
	}
	return s
}

func dump(us []bgpfeed.Update) string {
	var b strings.Builder
	for i, u := range us {
		if i == 200 {
			fmt.Fprintf(&b, "  ... %d more\n", len(us)-i)
			break
		}
		b.WriteString("  " + fmtUpdate(u) + "\n")
	}
	return b.String()
}

// Predicates over collected Updates.

func isState(peer netip.Addr, old, next bgpfeed.SessionState) func(bgpfeed.Update) bool {
	return func(u bgpfeed.Update) bool {
		return u.Kind == bgpfeed.KindState && u.PeerAddr == peer && (old == 0 || u.OldState == old) && u.NewState == next
	}
}

func isUp(peer netip.Addr) func(bgpfeed.Update) bool {
	return isState(peer, 0, bgpfeed.StateEstablished)
}

func isDown(peer netip.Addr) func(bgpfeed.Update) bool {
	return func(u bgpfeed.Update) bool { return u.SessionDown() && u.PeerAddr == peer }
}

func isAnnounce(peer netip.Addr, pfx string) func(bgpfeed.Update) bool {
	p := netip.MustParsePrefix(pfx)
	return func(u bgpfeed.Update) bool {
		return u.Kind == bgpfeed.KindAnnounce && u.PeerAddr == peer && u.Prefix == p
	}
}

func isWithdraw(peer netip.Addr, pfx string) func(bgpfeed.Update) bool {
	p := netip.MustParsePrefix(pfx)
	return func(u bgpfeed.Update) bool {
		return u.Kind == bgpfeed.KindWithdraw && u.PeerAddr == peer && u.Prefix == p
	}
}

func count(us []bgpfeed.Update, pred func(bgpfeed.Update) bool) int {
	n := 0
	for _, u := range us {
		if pred(u) {
			n++
		}
	}
	return n
}

func find(us []bgpfeed.Update, pred func(bgpfeed.Update) bool) (bgpfeed.Update, int) {
	for i, u := range us {
		if pred(u) {
			return u, i
		}
	}
	return bgpfeed.Update{}, -1
}

// has builds a waitFor condition: every predicate matches some Update.
func has(preds ...func(bgpfeed.Update) bool) func([]bgpfeed.Update) bool {
	return func(us []bgpfeed.Update) bool {
		for _, p := range preds {
			if _, i := find(us, p); i < 0 {
				return false
			}
		}
		return true
	}
}

// checkAnnounce checks the attributes of the announcement of pfx by peer.
func checkAnnounce(t testing.TB, us []bgpfeed.Update, peer netip.Addr, pfx, path string, origin bgpfeed.OriginType, nextHop string) bgpfeed.Update {
	t.Helper()
	u, i := find(us, isAnnounce(peer, pfx))
	if i < 0 {
		t.Fatalf("no announcement of %s by %s in:\n%s", pfx, peer, dump(us))
	}
	if u.Source == "" || u.Format != bgpfeed.FormatSession || u.Attrs == nil || u.Time.IsZero() {
		t.Errorf("%s: bad envelope: %+v", pfx, u)
		return u
	}
	if got := u.Attrs.Path.String(); got != path {
		t.Errorf("%s: AS path %q, want %q", pfx, got, path)
	}
	if u.Attrs.OriginType != origin {
		t.Errorf("%s: origin %s, want %s", pfx, u.Attrs.OriginType, origin)
	}
	if nextHop != "" && u.Attrs.NextHop != netip.MustParseAddr(nextHop) {
		t.Errorf("%s: next hop %s, want %s", pfx, u.Attrs.NextHop, nextHop)
	}
	return u
}

// checkNoDuplicates fails when one (peer, prefix, path id) is announced
// more than once outside a table transfer in us.
func checkNoDuplicates(t testing.TB, us []bgpfeed.Update) {
	t.Helper()
	type key struct {
		peer netip.Addr
		pfx  netip.Prefix
		id   uint32
	}
	seen := map[key]int{}
	for _, u := range us {
		if u.Kind == bgpfeed.KindAnnounce && !u.Table {
			k := key{u.PeerAddr, u.Prefix, u.PathID}
			seen[k]++
			if seen[k] == 2 {
				t.Errorf("duplicate non-table announcement: %s", fmtUpdate(u))
			}
		}
	}
}
