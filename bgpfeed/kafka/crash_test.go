package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
)

// A consumer that dies (SIGKILL: no goodbye to the group) without
// committing what it read last: once the group notices (session timeout),
// its partition goes to the other member, which reads it again from the
// dead one's last commit. Nothing is lost; only the read-but-uncommitted
// records are delivered twice.
func TestCrashedConsumerPartitionMoves(t *testing.T) {
	const partitions = 2
	ctx := testContext(t, 120*time.Second)
	topic := uniqueTopic(t)
	group := "g." + topic
	us := testUpdates(t)
	p := newProducer(t, ctx, topic, partitions)

	b := newConsumer(t, ctx, topic, group)
	waitAssigned(t, ctx, partitions, b)

	// The other member runs in a child process (this test binary), so it
	// can be killed for real.
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashingConsumerHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"BGPSENTRY_KAFKA="+brokerAddr,
		"BGPSENTRY_KAFKA_HELPER=1",
		"HELPER_TOPIC="+topic,
		"HELPER_GROUP="+group,
	)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
		}
		cmd.Wait()
	})
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "HELPER "); ok {
				lines <- l
			}
		}
	}()
	next := func(what string) string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("helper exited while waiting for %s", what)
			}
			return l
		case <-ctx.Done():
			t.Fatalf("no %s from the helper", what)
		}
		return ""
	}

	// Wait for one generation in which the helper and b own one partition each.
	var helperGen int32 = -1
	var x int // the helper's partition
	for {
		if helperGen >= 0 && b.Assignment().Generation == helperGen && len(b.Assignment().Partitions) == 1 {
			break
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("helper exited before its assignment")
			}
			var parts string
			if _, err := fmt.Sscanf(l, "ASSIGNED %d %s", &helperGen, &parts); err != nil {
				t.Fatalf("helper said %q", l)
			}
			x, _ = strconv.Atoi(parts)
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("no common generation: helper %d, b %+v", helperGen, b.Assignment())
		}
	}
	y := b.Assignment().Partitions[0]
	t.Logf("generation %d: helper owns partition %d, b owns %d", helperGen, x, y)

	produce(t, ctx, p, us, 500)
	ends := lastOffsets(t, ctx, topic, partitions)

	// b reads and commits as it goes, all along.
	var mu sync.Mutex
	var got []kafka.Record
	bctx, stopB := context.WithCancel(ctx)
	bdone := make(chan error, 1)
	go func() {
		for {
			r, err := b.NextRecord(bctx)
			if err != nil {
				if bctx.Err() != nil {
					err = nil
				}
				bdone <- err
				return
			}
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
			if err := b.Commit(bctx); err != nil && bctx.Err() == nil {
				bdone <- err
				return
			}
		}
	}()

	committed := parseOffsets(t, next("COMMITTED"), "COMMITTED")
	read := parseOffsets(t, next("READ"), "READ")
	if l := next("WAITING"); l != "WAITING" {
		t.Fatalf("helper said %q, want WAITING", l)
	}
	if committed[x] <= 0 || read[x] <= committed[x] {
		t.Fatalf("helper committed %v and read %v: want some committed and some not", committed, read)
	}
	cmd.Process.Kill()
	killed = true
	t0 := time.Now()
	t.Logf("helper killed after committing partition %d up to %d, reading up to %d (of %d)", x, committed[x], read[x], ends[x])

	for len(b.Assignment().Partitions) != partitions {
		select {
		case <-ctx.Done():
			t.Fatalf("b never got the dead member's partition: %+v", b.Assignment())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("b owns both partitions %v after the kill", time.Since(t0).Round(100*time.Millisecond))

	for {
		mu.Lock()
		n := 0
		for _, r := range got {
			if r.Partition == x {
				n++
			}
		}
		mu.Unlock()
		if int64(n) >= ends[x]-committed[x] {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("b read %d records of partition %d, want %d", n, x, ends[x]-committed[x])
		case err := <-bdone:
			t.Fatalf("b stopped: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond)
	stopB()
	if err := <-bdone; err != nil {
		t.Fatalf("b: %v", err)
	}

	offs := map[int][]int64{}
	for _, r := range got {
		offs[r.Partition] = append(offs[r.Partition], r.Offset)
	}
	want := func(from, to int64) []int64 {
		var o []int64
		for i := from; i < to; i++ {
			o = append(o, i)
		}
		return o
	}
	// The dead member's partition: from its last commit to the end, once.
	if !slices.Equal(offs[x], want(committed[x], ends[x])) {
		t.Errorf("b read partition %d at offsets %v..., want %d..%d once each", x, head(offs[x]), committed[x], ends[x]-1)
	}
	// b's own partition: everything, once.
	if !slices.Equal(offs[y], want(0, ends[y])) {
		t.Errorf("b read partition %d at %d offsets, want 0..%d once each", y, len(offs[y]), ends[y]-1)
	}
	t.Logf("redelivered %d records (read, not committed, by the dead member), lost none", read[x]-committed[x])
}

func head(o []int64) []int64 { return o[:min(len(o), 10)] }

// TestCrashingConsumerHelper is the member that TestCrashedConsumerPartitionMoves
// kills: it reads 100 records, commits, reads up to 100 more without
// committing, reports, and waits to die.
func TestCrashingConsumerHelper(t *testing.T) {
	if os.Getenv("BGPSENTRY_KAFKA_HELPER") != "1" {
		t.Skip("run by TestCrashedConsumerPartitionMoves")
	}
	ctx := testContext(t, 100*time.Second)
	say := func(format string, args ...any) { fmt.Printf("HELPER "+format+"\n", args...) }
	c := newConsumer(t, ctx, os.Getenv("HELPER_TOPIC"), os.Getenv("HELPER_GROUP"), func(cfg *kafka.ConsumerConfig) {
		cfg.OnAssign = func(a kafka.Assignment) {
			if len(a.Partitions) > 0 {
				say("ASSIGNED %d %s", a.Generation, joinInts(a.Partitions))
			}
		}
	})
	nextOff := map[int]int64{}
	for range 100 {
		r, err := c.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nextOff[r.Partition] = r.Offset + 1
	}
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	say("COMMITTED %s", formatOffsets(nextOff))
	for range 100 {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		r, err := c.NextRecord(rctx)
		cancel()
		if err != nil {
			break
		}
		nextOff[r.Partition] = r.Offset + 1
	}
	say("READ %s", formatOffsets(nextOff))
	say("WAITING")
	<-ctx.Done()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func formatOffsets(m map[int]int64) string {
	var s []string
	for _, p := range slices.Sorted(maps.Keys(m)) {
		s = append(s, fmt.Sprintf("%d=%d", p, m[p]))
	}
	return strings.Join(s, ",")
}

func parseOffsets(t testing.TB, line, word string) map[int]int64 {
	t.Helper()
	rest, ok := strings.CutPrefix(line, word+" ")
	if !ok {
		t.Fatalf("helper said %q, want %s", line, word)
	}
	m := map[int]int64{}
	for _, f := range strings.Split(rest, ",") {
		ps, offs, ok := strings.Cut(f, "=")
		p, err1 := strconv.Atoi(ps)
		o, err2 := strconv.ParseInt(offs, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("helper said %q", line)
		}
		m[p] = o
	}
	return m
}

// lastOffsets returns the end offset of each partition.
func lastOffsets(t testing.TB, ctx context.Context, topic string, partitions int) map[int]int64 {
	t.Helper()
	tr := &kgo.Transport{} // fresh metadata: the default transport caches it
	defer tr.CloseIdleConnections()
	client := &kgo.Client{Addr: kgo.TCP(brokers(t)...), Transport: tr}
	var reqs []kgo.OffsetRequest
	for p := range partitions {
		reqs = append(reqs, kgo.LastOffsetOf(p))
	}
	res, err := client.ListOffsets(ctx, &kgo.ListOffsetsRequest{Topics: map[string][]kgo.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("ListOffsets: %v", err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("ListOffsets partition %d: %v", po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out
}
