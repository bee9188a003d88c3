package kafka_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka/brokertest"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// The tests run against a real broker: BGPSENTRY_KAFKA (host:port) when
// set, else one that TestMain starts with scripts/kafka.sh on free
// loopback ports and stops at the end (a watcher stops it too if this
// process is killed). Without Java or the Kafka jars the tests fail,
// unless BGPSENTRY_SKIP_KAFKA=1, which skips them and says so.

var (
	brokerAddr string
	skipReason string
)

const testMRT = "testdata/mrt/ris.rrc06.updates.1427846400.gz"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if addr := os.Getenv("BGPSENTRY_KAFKA"); addr != "" {
		brokerAddr = addr
		return m.Run()
	}
	addr, stop, err := startBroker()
	if err != nil {
		if os.Getenv("BGPSENTRY_SKIP_KAFKA") == "1" {
			skipReason = fmt.Sprintf("no Kafka broker (BGPSENTRY_SKIP_KAFKA=1): %v", err)
			fmt.Fprintln(os.Stderr, "kafka tests SKIPPED: "+skipReason)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "kafka tests: no broker: %v\n"+
			"Set BGPSENTRY_KAFKA=host:port to use a running broker, or BGPSENTRY_SKIP_KAFKA=1 to skip these tests.\n", err)
		return 1
	}
	brokerAddr = addr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		stop(false)
		os.Exit(2)
	}()
	code := m.Run()
	stop(code == 0)
	return code
}

func repoRoot() (string, error) { return brokertest.RepoRoot() }

func freePort() (int, error) { return brokertest.FreePort() }

// startBroker starts a broker for the package's tests (brokertest).
func startBroker() (addr string, stop func(passed bool), err error) {
	b, err := brokertest.Start("kafka tests")
	if err != nil {
		return "", nil, err
	}
	return b.Addr, b.Stop, nil
}

// brokers returns the broker list, or skips the test when told to.
func brokers(t testing.TB) []string {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	return []string{brokerAddr}
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// uniqueTopic names a topic of this test run.
func uniqueTopic(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 100 {
		name = name[:100]
	}
	return "test." + name + "." + hex.EncodeToString(b[:])
}

var (
	updatesOnce sync.Once
	updatesAll  []bgpfeed.Update
	updatesErr  error
)

// testUpdates are the Updates of a real RIS update file (1561: 1435
// announcements, 122 withdrawals, 4 state changes).
func testUpdates(t testing.TB) []bgpfeed.Update {
	t.Helper()
	updatesOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			updatesErr = err
			return
		}
		r, err := mrt.Open([]string{filepath.Join(root, testMRT)}, mrt.Options{})
		if err != nil {
			updatesErr = err
			return
		}
		for {
			u, err := r.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				updatesErr = err
				return
			}
			updatesAll = append(updatesAll, u)
		}
	})
	if updatesErr != nil {
		t.Fatalf("reading %s: %v", testMRT, updatesErr)
	}
	if len(updatesAll) == 0 {
		t.Fatalf("%s has no updates", testMRT)
	}
	return updatesAll
}

func countStates(us []bgpfeed.Update) int {
	n := 0
	for i := range us {
		if us[i].Kind == bgpfeed.KindState {
			n++
		}
	}
	return n
}

func wire(t testing.TB, u *bgpfeed.Update) string {
	t.Helper()
	b, err := bgpfeed.MarshalUpdate(u, nil)
	if err != nil {
		t.Fatalf("MarshalUpdate(%+v): %v", u, err)
	}
	return string(b)
}

func describe(u *bgpfeed.Update) string {
	return string(mrt.AppendBGPDump(nil, u))
}

func newProducer(t testing.TB, ctx context.Context, topic string, partitions int) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(ctx, kafka.ProducerConfig{
		Config: kafka.Config{Brokers: brokers(t), Partitions: partitions},
		Topic:  topic,
	})
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// produce writes us in chunks.
func produce(t testing.TB, ctx context.Context, p *kafka.Producer, us []bgpfeed.Update, chunk int) {
	t.Helper()
	for i := 0; i < len(us); i += chunk {
		end := min(i+chunk, len(us))
		if err := p.Write(ctx, us[i:end]...); err != nil {
			t.Fatalf("Write updates %d..%d: %v", i, end, err)
		}
	}
}

type consumerOpt func(*kafka.ConsumerConfig)

func newConsumer(t testing.TB, ctx context.Context, topic, group string, opts ...consumerOpt) *kafka.Consumer {
	t.Helper()
	cfg := kafka.ConsumerConfig{
		Config:            kafka.Config{Brokers: brokers(t)},
		Topic:             topic,
		GroupID:           group,
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: 500 * time.Millisecond,
		RebalanceTimeout:  10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := kafka.NewConsumer(ctx, cfg)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// collect reads n records from c, failing the test when ctx ends first.
func collect(t testing.TB, ctx context.Context, c *kafka.Consumer, n int) []kafka.Record {
	t.Helper()
	out := make([]kafka.Record, 0, n)
	for len(out) < n {
		r, err := c.NextRecord(ctx)
		if err != nil {
			t.Fatalf("NextRecord after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, r)
	}
	return out
}

// expectNothing fails when c returns a record within d.
func expectNothing(t testing.TB, c *kafka.Consumer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r, err := c.NextRecord(ctx)
	if err == nil {
		t.Fatalf("unexpected record: partition %d offset %d: %s", r.Partition, r.Offset, describe(&r.Update))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("NextRecord: %v, want a timeout", err)
	}
}

// waitAssigned waits until every consumer owns partitions in one and the
// same generation and together they own want partitions, disjointly.
func waitAssigned(t testing.TB, ctx context.Context, want int, cs ...*kafka.Consumer) []kafka.Assignment {
	t.Helper()
	for {
		as := make([]kafka.Assignment, len(cs))
		seen := map[int]bool{}
		ok := true
		for i, c := range cs {
			as[i] = c.Assignment()
			if as[i].Generation != as[0].Generation || len(as[i].Partitions) == 0 {
				ok = false
			}
			for _, p := range as[i].Partitions {
				if seen[p] {
					ok = false
				}
				seen[p] = true
			}
		}
		if ok && len(seen) == want {
			return as
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumers not assigned %d partitions in one generation: %+v", want, as)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
