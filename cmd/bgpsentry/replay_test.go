package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka/brokertest"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// The replay tests that publish run against a real Kafka broker:
// BGPSENTRY_KAFKA (host:port) when set, else one started with
// scripts/kafka.sh on free loopback ports the first time a test asks for
// it (the other tests of the package never wait for Kafka) and stopped by
// TestMain at the end (a watcher stops it too if this process is killed).
// Without Java or the Kafka jars those tests fail, unless
// BGPSENTRY_SKIP_KAFKA=1, which skips them and says why.

func TestMain(m *testing.M) {
	// The commands' default table cache is the user's: the tests keep
	// theirs in a directory of their own.
	cache, err := os.MkdirTemp("", "bgpsentry-cache-")
	if err == nil {
		os.Setenv("XDG_CACHE_HOME", cache)
	}
	code := m.Run()
	stopTestBroker(code == 0)
	if err == nil {
		os.RemoveAll(cache)
	}
	os.Exit(code)
}

var testBroker struct {
	once sync.Once
	addr string
	skip string // why the Kafka tests are skipped
	err  error
	stop func(passed bool)
}

// kafkaBroker returns the address of the test broker, starting it on the
// first call; it skips the test when told to and fails it when there is
// no broker.
func kafkaBroker(t testing.TB) string {
	t.Helper()
	testBroker.once.Do(func() {
		if addr := os.Getenv("BGPSENTRY_KAFKA"); addr != "" {
			testBroker.addr = addr
			return
		}
		addr, stop, err := startTestBroker()
		if err != nil {
			if os.Getenv("BGPSENTRY_SKIP_KAFKA") == "1" {
				testBroker.skip = fmt.Sprintf("no Kafka broker (BGPSENTRY_SKIP_KAFKA=1): %v", err)
				return
			}
			testBroker.err = err
			return
		}
		testBroker.addr, testBroker.stop = addr, stop
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-sigs
			stop(false)
			os.Exit(2)
		}()
	})
	if testBroker.skip != "" {
		t.Skip(testBroker.skip)
	}
	if testBroker.err != nil {
		t.Fatalf("no Kafka broker: %v\nSet BGPSENTRY_KAFKA=host:port to use a running broker, or BGPSENTRY_SKIP_KAFKA=1 to skip the Kafka tests.", testBroker.err)
	}
	return testBroker.addr
}

func stopTestBroker(passed bool) {
	if testBroker.stop != nil {
		testBroker.stop(passed)
	}
}

func repoRoot() (string, error) { return brokertest.RepoRoot() }

// freePort returns a loopback TCP port nothing listens on (now).
func freePort() (int, error) { return brokertest.FreePort() }

// startTestBroker starts the broker of this package's Kafka tests.
func startTestBroker() (addr string, stop func(passed bool), err error) {
	b, err := brokertest.Start("cmd/bgpsentry tests")
	if err != nil {
		return "", nil, err
	}
	return b.Addr, b.Stop, nil
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// testTopic names a topic of this test run.
func testTopic(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeTopicChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 100 {
		name = name[:100]
	}
	return "test." + name + "." + hex.EncodeToString(b[:])
}

// readMRT returns every Update the mrt reader yields for path.
func readMRT(t testing.TB, path string) []bgpfeed.Update {
	t.Helper()
	r, err := mrt.Open([]string{path}, mrt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var us []bgpfeed.Update
	for {
		u, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		us = append(us, u)
	}
	if len(us) == 0 {
		t.Fatalf("%s has no updates", path)
	}
	return us
}

func wireKey(t testing.TB, u *bgpfeed.Update) string {
	t.Helper()
	b, err := bgpfeed.MarshalUpdate(u, nil)
	if err != nil {
		t.Fatalf("MarshalUpdate(%s): %v", mrt.AppendBGPDump(nil, u), err)
	}
	return string(b)
}

var publishedRe = regexp.MustCompile(`replay: (?:stopped early: )?(\d+) updates published`)

// published is the count of the summary line.
func published(t testing.TB, stderr string) int {
	t.Helper()
	m := publishedRe.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line in stderr:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestParseSpeed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "max", want: 0},
		{in: "MAX", want: 0},
		{in: "1", want: 1},
		{in: "60", want: 60},
		{in: "60x", want: 60},
		{in: "0.5", want: 0.5},
		{in: "0", bad: true},
		{in: "-2", bad: true},
		{in: "fast", bad: true},
		{in: "NaN", bad: true},
		{in: "Inf", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSpeed(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("parseSpeed(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseSpeed(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestReplayUsage(t *testing.T) {
	t.Run("help explains every flag", func(t *testing.T) {
		code, _, e := runCmd("replay", "--help")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{"-speed", "-max-gap", "-batch", "-collector", "-workers",
			"-kafka.brokers", "-kafka.topic.updates", "-kafka.partitions", "-kafka.replication", "-kafka.dial-timeout", "-kafka.compression",
			"waits 2 hours at --speed 1", "Ctrl-C"} {
			if !strings.Contains(e, want) {
				t.Errorf("--help lacks %q:\n%s", want, e)
			}
		}
		// Consumer-side flags mean nothing to replay.
		if strings.Contains(e, "-kafka.group") {
			t.Errorf("--help shows the consumer flag -kafka.group")
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no brokers", []string{rrc06}, "--kafka.brokers is required"},
		{"no input", []string{"--kafka.brokers", "127.0.0.1:9"}, "no input"},
		{"speed zero", []string{"--kafka.brokers", "127.0.0.1:9", "--speed", "0", rrc06}, "--speed"},
		{"speed negative", []string{"--kafka.brokers", "127.0.0.1:9", "--speed", "-1", rrc06}, "--speed"},
		{"speed word", []string{"--kafka.brokers", "127.0.0.1:9", "--speed", "fast", rrc06}, "--speed"},
		{"negative max-gap", []string{"--kafka.brokers", "127.0.0.1:9", "--speed", "1", "--max-gap", "-1s", rrc06}, "--max-gap"},
		{"zero batch", []string{"--kafka.brokers", "127.0.0.1:9", "--batch", "0", rrc06}, "--batch"},
		{"unknown flag", []string{"--kafka.brokers", "127.0.0.1:9", "--bogus", rrc06}, "bogus"},
		{"consumer flag", []string{"--kafka.brokers", "127.0.0.1:9", "--kafka.group", "g", rrc06}, "kafka.group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, e := runCmd(append([]string{"replay"}, tc.args...)...)
			if code != 2 || !strings.Contains(e, tc.want) {
				t.Errorf("exit %d, want 2 with %q in stderr:\n%s", code, tc.want, e)
			}
		})
	}
}

// TestReplayInputErrors: a missing or non-MRT input is an error naming it,
// reported before any broker is dialled (the broker here is a closed port).
func TestReplayInputErrors(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	broker := fmt.Sprintf("127.0.0.1:%d", port)
	junk := filepath.Join(t.TempDir(), "junk.gz")
	if err := os.WriteFile(junk, []byte("hello, this is not MRT at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.gz")
	for _, tc := range []struct{ name, file, want string }{
		{"missing", missing, "no such file"},
		{"not MRT", junk, "not an MRT file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, e := runCmd("replay", "--kafka.brokers", broker, tc.file)
			if code != 1 || !strings.Contains(e, tc.file) || !strings.Contains(e, tc.want) {
				t.Errorf("exit %d, want 1 naming %s (%q):\n%s", code, tc.file, tc.want, e)
			}
			if strings.Contains(e, "unreachable") {
				t.Errorf("the broker was dialled before the input was checked:\n%s", e)
			}
		})
	}
}

// TestReplayUnreachableBroker: a closed loopback port is a clear error
// within the dial timeout, not a hang.
func TestReplayUnreachableBroker(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	broker := fmt.Sprintf("127.0.0.1:%d", port)
	t0 := time.Now()
	code, _, e := runCmd("replay", "--kafka.brokers", broker, "--kafka.dial-timeout", "2s", rrc06)
	d := time.Since(t0)
	if code != 1 || !strings.Contains(e, "broker unreachable") || !strings.Contains(e, broker) {
		t.Errorf("exit %d, want 1 with 'broker unreachable' and %s:\n%s", code, broker, e)
	}
	// Generous: the bound is the 2s dial timeout plus slack for a loaded machine.
	if d > 30*time.Second {
		t.Errorf("took %v to report an unreachable broker (dial timeout 2s)", d)
	}
}

// fakeClock is a clock whose sleeps only advance it, and records them.
type fakeClock struct {
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

// sliceSource returns us, then io.EOF.
type sliceSource struct {
	us []bgpfeed.Update
	i  int
}

func (s *sliceSource) Next(ctx context.Context) (bgpfeed.Update, error) {
	if err := ctx.Err(); err != nil {
		return bgpfeed.Update{}, err
	}
	if s.i >= len(s.us) {
		return bgpfeed.Update{}, io.EOF
	}
	s.i++
	return s.us[s.i-1], nil
}

// recordSink keeps what was written.
type recordSink struct {
	mu     sync.Mutex
	us     []bgpfeed.Update
	writes int
}

func (s *recordSink) Write(ctx context.Context, us ...bgpfeed.Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.us = append(s.us, us...)
	s.writes++
	return nil
}

func withdrawalAt(t time.Time, i int) bgpfeed.Update {
	return bgpfeed.Update{
		Time:     t,
		Kind:     bgpfeed.KindWithdraw,
		PeerAddr: netip.MustParseAddr("192.0.2.1"),
		PeerASN:  64500,
		Prefix:   netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i)),
	}
}

// TestPacer checks the schedule on a fake clock: waits are the scaled
// archive gaps, a gap longer than --max-gap is cut to it and the rest of
// the schedule moves up, and everything is written in order.
func TestPacer(t *testing.T) {
	t0 := time.Date(2015, 4, 1, 0, 0, 0, 0, time.UTC)
	offsets := []time.Duration{0, 0, time.Second, time.Second, 10 * time.Second, time.Hour, time.Hour + 2*time.Second, time.Hour + time.Second}
	var us []bgpfeed.Update
	for i, off := range offsets {
		us = append(us, withdrawalAt(t0.Add(off), i))
	}
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	sink := &recordSink{}
	rp := &replayer{cfg: replayerConfig{Speed: 2, MaxGap: 5 * time.Second, Batch: 100, now: clk.now, sleep: clk.sleep}}
	if err := rp.run(context.Background(), &sliceSource{us: us}, sink); err != nil {
		t.Fatal(err)
	}
	// At speed 2: +1s -> 500ms; +10s -> 4.5s more; +1h -> 1795s more, cut
	// to 5s; +1h2s -> 1s after that; +1h1s (out of order) -> due already.
	want := []time.Duration{500 * time.Millisecond, 4500 * time.Millisecond, 5 * time.Second, time.Second}
	if fmt.Sprint(clk.sleeps) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", clk.sleeps, want)
	}
	if rp.waits.Load() != 4 || rp.capped.Load() != 1 {
		t.Errorf("waits %d (want 4), capped %d (want 1)", rp.waits.Load(), rp.capped.Load())
	}
	if len(sink.us) != len(us) || rp.published.Load() != int64(len(us)) || rp.wd.Load() != int64(len(us)) {
		t.Fatalf("%d written, %d counted published (%d withdrawals), want %d", len(sink.us), rp.published.Load(), rp.wd.Load(), len(us))
	}
	for i := range us {
		if sink.us[i].Prefix != us[i].Prefix {
			t.Fatalf("update %d written is %v, want %v (order)", i, sink.us[i].Prefix, us[i].Prefix)
		}
	}
	// What was due went out before each wait: one write per wait, plus the last.
	if sink.writes != 5 {
		t.Errorf("%d writes, want 5 (a flush before each of the 4 waits, and the end)", sink.writes)
	}
}

// TestPacerGapCancel: a huge gap (a day, at real time) is waited, and
// cancelling the context ends the wait; what was read is still written.
func TestPacerGapCancel(t *testing.T) {
	t0 := time.Date(2015, 4, 1, 0, 0, 0, 0, time.UTC)
	us := []bgpfeed.Update{withdrawalAt(t0, 0), withdrawalAt(t0, 1), withdrawalAt(t0.Add(24*time.Hour), 2)}
	sink := &recordSink{}
	rp := &replayer{cfg: replayerConfig{Speed: 1}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rp.run(ctx, &sliceSource{us: us}, sink) }()
	// Cancel once the replayer waits for the gap.
	for rp.waits.Load() == 0 {
		select {
		case err := <-done:
			t.Fatalf("run returned %v before waiting for the gap", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("cancel did not end the wait for a 24h gap")
	}
	if len(sink.us) != 2 || rp.published.Load() != 2 || rp.read.Load() != 2 {
		t.Errorf("written %d, published %d, read %d; want the 2 updates before the gap", len(sink.us), rp.published.Load(), rp.read.Load())
	}
}

// TestReplayKafka replays a real RIS update file into a fresh topic of a
// real broker and reads it back with a consumer group: exactly the Updates
// the mrt reader yields, equal on the wire.
func TestReplayKafka(t *testing.T) {
	broker := kafkaBroker(t)
	want := readMRT(t, rrc06)
	topic := testTopic(t)
	const partitions = 3
	code, out, e := runCmd("replay", "--kafka.brokers", broker, "--kafka.topic.updates", topic, "--kafka.partitions", strconv.Itoa(partitions), "--batch", "500", rrc06)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, e)
	}
	if out != "" {
		t.Errorf("replay wrote to stdout: %q", out)
	}
	if n := published(t, e); n != len(want) {
		t.Fatalf("summary says %d updates published, the mrt reader yields %d:\n%s", n, len(want), e)
	}
	if !strings.Contains(e, "skipped records 0") {
		t.Errorf("summary lacks the skipped records: %s", e)
	}
	t.Log(strings.TrimSpace(e))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := kafka.NewConsumer(ctx, kafka.ConsumerConfig{
		Config:            kafka.Config{Brokers: []string{broker}},
		Topic:             topic,
		GroupID:           "g." + topic,
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	states := 0
	wantSet := map[string]int{}
	for i := range want {
		wantSet[wireKey(t, &want[i])]++
		if want[i].Kind == bgpfeed.KindState {
			states++
		}
	}
	// A state change is written once to every partition.
	records := len(want) + states*(partitions-1)
	got := map[string]int{}
	copies := map[string]int{}
	for i := 0; i < records; i++ {
		r, err := c.NextRecord(ctx)
		if err != nil {
			t.Fatalf("NextRecord after %d of %d records: %v", i, records, err)
		}
		k := wireKey(t, &r.Update)
		if r.Update.Kind == bgpfeed.KindState {
			if copies[k]++; copies[k] > 1 {
				continue
			}
		}
		got[k]++
	}
	for k, n := range copies {
		if n != partitions*wantSet[k] {
			u, _ := bgpfeed.UnmarshalUpdate([]byte(k), nil)
			t.Errorf("state change %s: %d copies, want one per partition (%d)", strings.TrimSpace(string(mrt.AppendBGPDump(nil, &u))), n, partitions)
		}
	}
	for k, n := range wantSet {
		if got[k] != n {
			u, _ := bgpfeed.UnmarshalUpdate([]byte(k), nil)
			t.Errorf("%s: read %d times, published %d", strings.TrimSpace(string(mrt.AppendBGPDump(nil, &u))), got[k], n)
		}
	}
	for k, n := range got {
		if wantSet[k] == 0 {
			u, _ := bgpfeed.UnmarshalUpdate([]byte(k), nil)
			t.Errorf("read %d times, never published: %s", n, strings.TrimSpace(string(mrt.AppendBGPDump(nil, &u))))
		}
	}
	// Nothing more.
	wctx, wcancel := context.WithTimeout(ctx, time.Second)
	defer wcancel()
	if r, err := c.NextRecord(wctx); err == nil {
		t.Errorf("an extra record: partition %d offset %d: %s", r.Partition, r.Offset, mrt.AppendBGPDump(nil, &r.Update))
	}
}

// readTopic reads n records of partition 0 of topic with their Kafka
// timestamps.
func readTopic(t testing.TB, broker, topic string, n int) []kgo.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := kgo.NewReader(kgo.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: 0, MaxWait: 250 * time.Millisecond})
	defer r.Close()
	msgs := make([]kgo.Message, 0, n)
	for len(msgs) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s after %d of %d records: %v", topic, len(msgs), n, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// TestReplaySpeed: --speed N publishes no update before its archive time,
// scaled, from the start: every record's Kafka timestamp (set when it is
// written) is at least start + (update time - first update time)/N, and
// the run lasts at least the scaled span. Only lower bounds: a loaded
// machine makes it slower, never faster.
func TestReplaySpeed(t *testing.T) {
	broker := kafkaBroker(t)
	want := readMRT(t, rrc06)
	first, last := want[0].Time, want[0].Time
	for i := range want {
		if want[i].Time.Before(first) {
			first = want[i].Time
		}
		if want[i].Time.After(last) {
			last = want[i].Time
		}
	}
	const speed = 250.0 // the file's 4m55s in 1.18s
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) / speed) }
	topic := testTopic(t)
	start := time.Now()
	code, _, e := runCmd("replay", "--kafka.brokers", broker, "--kafka.topic.updates", topic, "--kafka.partitions", "1", "--speed", strconv.FormatFloat(speed, 'f', -1, 64), rrc06)
	el := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, e)
	}
	t.Log(strings.TrimSpace(e))
	if n := published(t, e); n != len(want) {
		t.Fatalf("%d published, want %d", n, len(want))
	}
	if span := scaled(last.Sub(first)); el < span {
		t.Errorf("replay took %v, less than the archive's span %v at speed %v (%v)", el, last.Sub(first), speed, span)
	}
	msgs := readTopic(t, broker, topic, len(want))
	early := 0
	for i, m := range msgs {
		u, err := bgpfeed.UnmarshalUpdate(m.Value, nil)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		// The schedule starts at the first update read (want[0]), not at
		// the earliest one.
		due := start.Add(scaled(u.Time.Sub(want[0].Time)))
		// Kafka timestamps are milliseconds, truncated.
		if m.Time.Add(time.Millisecond).Before(due) {
			if early++; early <= 5 {
				t.Errorf("record %d (%s, archive +%v) written at +%v, due at +%v", i, u.Time.Format(time.TimeOnly), u.Time.Sub(want[0].Time), m.Time.Sub(start), due.Sub(start))
			}
		}
	}
	if early > 0 {
		t.Errorf("%d of %d records written before they were due", early, len(msgs))
	}
	lastTS := msgs[len(msgs)-1].Time
	t.Logf("last record written at +%v, the scaled span is %v", lastTS.Sub(start), scaled(last.Sub(first)))
}

// TestReplayInterrupt: cancelling a real-time replay (Ctrl-C) publishes what
// was read, reports it in the summary and says it was interrupted; the
// topic holds exactly what the summary counts.
func TestReplayInterrupt(t *testing.T) {
	broker := kafkaBroker(t)
	topic := testTopic(t)
	ctx, cancel := context.WithCancel(context.Background())
	var o, e bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runReplay(ctx, []string{"--kafka.brokers", broker, "--kafka.topic.updates", topic, "--kafka.partitions", "1", "--speed", "1", rrc06}, &o, &e)
	}()
	// The first seconds of the file go out at once; the rest would take
	// almost 5 minutes. Cancel once the topic exists and has records.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if n := topicEnd(t, broker, topic); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("nothing published in 60s:\n%s", e.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("replay did not stop after the cancel")
	}
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("replay returned %v, want an 'interrupted' error", err)
	}
	n := published(t, e.String())
	t.Log(strings.TrimSpace(e.String()))
	if n == 0 || n >= 1561 {
		t.Fatalf("summary says %d published, want some but not all of 1561", n)
	}
	if end := topicEnd(t, broker, topic); end != int64(n) {
		t.Errorf("the topic holds %d records, the summary says %d published", end, n)
	}
}

// topicEnd is the end offset of partition 0 of topic (0 when the topic
// does not exist yet).
func topicEnd(t testing.TB, broker, topic string) int64 {
	t.Helper()
	conn, err := kgo.DialLeader(context.Background(), "tcp", broker, topic, 0)
	if err != nil {
		return 0
	}
	defer conn.Close()
	end, err := conn.ReadLastOffset()
	if err != nil {
		return 0
	}
	return end
}

// benchMRT is the RIS rrc01 update file of 2024-10-01 00:55 (185,198
// elements) from ../shared/data, or the bundled ET excerpt.
func benchMRT(b *testing.B) string {
	p := filepath.Join("..", "..", "..", "shared", "data", "mrt", "jwbensley-dnas", "rrc01.updates.20241001.0055.gz")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	b.Logf("../shared/data absent: benchmarking the bundled testdata/mrt/updates.et-header.2015.first3000.gz instead")
	return filepath.Join("..", "..", "testdata", "mrt", "updates.et-header.2015.first3000.gz")
}

var sinkReplayed int

// BenchmarkReplayKafka measures `bgpsentry replay --speed max` (the whole
// command: open, topic check, decode, publish with acks=all, close) into a
// real broker, in updates/s, against decoding the same file alone.
func BenchmarkReplayKafka(b *testing.B) {
	file := benchMRT(b)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			r, err := mrt.Open([]string{file}, mrt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			n = 0
			for {
				_, err := r.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			r.Close()
			sinkReplayed += n
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	})
	b.Run("kafka", func(b *testing.B) {
		broker := kafkaBroker(b)
		topic := testTopic(b)
		if _, err := kafka.EnsureTopic(context.Background(), kafka.Config{Brokers: []string{broker}}, kafka.Topic{Name: topic}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			code, _, e := runCmd("replay", "--kafka.brokers", broker, "--kafka.topic.updates", topic, file)
			if code != 0 {
				b.Fatalf("exit %d: %s", code, e)
			}
			n = published(b, e)
			sinkReplayed += n
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	})
}
