package kafkatest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka/brokertest"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// The tests need the bgpsentry binary (built once by TestMain into a
// temporary directory) and a real Kafka broker: BGPSENTRY_KAFKA
// (host:port) when set, else one started with scripts/kafka.sh on free
// loopback ports the first time a test asks for it, and stopped at the end
// (scripts/kafka.sh also stops it when this process dies). Without Java or
// the Kafka jars they fail, unless BGPSENTRY_SKIP_KAFKA=1, which skips
// them and says why. The broker-restart test always starts a broker of its
// own (it must stop and start it); under BGPSENTRY_KAFKA it skips, saying
// why, when scripts/kafka.sh cannot start one. In -short mode they skip:
// they take about a minute.

const (
	partitions = 4
	rrc06      = "testdata/mrt/ris.rrc06.updates.1427846400.gz"
	jinx       = "testdata/mrt/routeviews.route-views.jinx.updates.1427846400.bz2"
	asrel      = "testdata/scenario/asrel_201806.rrc06-excerpt.txt"
)

var (
	root   string // the repository
	tmpDir string // TestMain's scratch directory: the binary, the scenario
	bin    string // the bgpsentry binary
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	var err error
	if root, err = repoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if tmpDir, err = os.MkdirTemp("", "bgpsentry-kafkatest-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmpDir)
	code := m.Run()
	sharedBroker.stop(code == 0)
	return code
}

func repoRoot() (string, error) { return brokertest.RepoRoot() }

// needs skips in -short mode and when Kafka is to be skipped, and
// returns the binary, building it the first time.
func needs(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: these tests build bgpsentry and run it as several processes against a real Kafka broker (about a minute)")
	}
	buildOnce.Do(func() {
		bin = filepath.Join(tmpDir, "bgpsentry")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/bgpsentry/bgpsentry/cmd/bgpsentry")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

var (
	buildOnce sync.Once
	buildErr  error
)

// broker is a Kafka broker for these tests: one started here
// (brokertest), or the one BGPSENTRY_KAFKA names.
type broker struct {
	addr string
	b    *brokertest.Broker // nil for BGPSENTRY_KAFKA's
	once sync.Once
	err  error
	skip string
}

var sharedBroker = &broker{}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func freeAddr(t testing.TB) string { return "127.0.0.1:" + strconv.Itoa(freePort(t)) }

// kafkaSkip is the reason to skip when no broker can be had and
// BGPSENTRY_SKIP_KAFKA=1.
func kafkaSkip(err error) string {
	if os.Getenv("BGPSENTRY_SKIP_KAFKA") == "1" {
		return fmt.Sprintf("no Kafka broker (BGPSENTRY_SKIP_KAFKA=1): %v", err)
	}
	return ""
}

// shared returns the address of the broker the tests share.
func shared(t testing.TB) string {
	t.Helper()
	b := sharedBroker
	b.once.Do(func() {
		if addr := os.Getenv("BGPSENTRY_KAFKA"); addr != "" {
			b.addr = addr
			return
		}
		if os.Getenv("BGPSENTRY_SKIP_KAFKA") == "1" {
			b.skip = "BGPSENTRY_SKIP_KAFKA=1: no Kafka broker is started"
			return
		}
		b.err = b.start(t)
		if b.err != nil {
			b.skip = kafkaSkip(b.err)
		}
	})
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatalf("no Kafka broker: %v\nSet BGPSENTRY_KAFKA=host:port to use a running broker, or BGPSENTRY_SKIP_KAFKA=1 to skip the Kafka tests.", b.err)
	}
	return b.addr
}

// ownBroker starts a broker for this test only, stopped at its end.
func ownBroker(t *testing.T) *broker {
	t.Helper()
	if os.Getenv("BGPSENTRY_SKIP_KAFKA") == "1" {
		t.Skip("BGPSENTRY_SKIP_KAFKA=1: no Kafka broker is started")
	}
	b := &broker{}
	if err := b.start(t); err != nil {
		if os.Getenv("BGPSENTRY_KAFKA") != "" {
			t.Skipf("this test stops and starts a broker of its own, and scripts/kafka.sh cannot start one here (BGPSENTRY_KAFKA names a running broker, which it cannot control): %v", err)
		}
		t.Fatalf("no Kafka broker: %v\nSet BGPSENTRY_SKIP_KAFKA=1 to skip the Kafka tests.", err)
	}
	t.Cleanup(func() { b.stop(!t.Failed()) })
	return b
}

func (b *broker) start(t testing.TB) error {
	br, err := brokertest.Start("kafkatest")
	if err != nil {
		return err
	}
	b.b, b.addr = br, br.Addr
	return nil
}

// restart stops the broker (SIGTERM) and starts it again on the same
// ports and state directory.
func (b *broker) restart(t *testing.T) {
	t.Helper()
	if err := b.b.Restart(); err != nil {
		t.Fatal(err)
	}
}

func (b *broker) stop(passed bool) {
	if b.b != nil {
		b.b.Stop(passed)
	}
}

// names are the topics and group of one test.
type names struct{ updates, alerts, group string }

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

func testNames(t testing.TB) names {
	var r [4]byte
	_, _ = rand.Read(r[:])
	base := unsafeChars.ReplaceAllString(t.Name(), "-") + "." + hex.EncodeToString(r[:])
	return names{updates: "test.updates." + base, alerts: "test.alerts." + base, group: "test.group." + base}
}

// createTopics creates both topics with `partitions` partitions: the
// classifiers' consumers need the updates topic to exist before the
// producer starts.
func createTopics(t testing.TB, brokerAddr string, n names) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := kafka.Config{Brokers: []string{brokerAddr}, Partitions: partitions}
	for _, topic := range []string{n.updates, n.alerts} {
		if _, err := kafka.EnsureTopic(ctx, cfg, kafka.Topic{Name: topic}); err != nil {
			t.Fatal(err)
		}
	}
}

// scenarioFiles is the committed rrc06 background with attacks injected
// (seed 7, as serve's end-to-end test): the injected file and the VRPs.
type scenarioFiles struct{ injected, vrps string }

var (
	scenarioOnce sync.Once
	scenarioVal  scenarioFiles
	scenarioErr  error
)

func scenario(t testing.TB) scenarioFiles {
	t.Helper()
	scenarioOnce.Do(func() {
		dir := filepath.Join(tmpDir, "rrc06")
		cmd := exec.Command(bin, "inject", "--background", rrc06, "--asrel", asrel, "--out", dir, "--per-class", "3", "--seed", "7")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			scenarioErr = fmt.Errorf("inject: %v\n%s", err, out)
			return
		}
		scenarioVal = scenarioFiles{injected: filepath.Join(dir, "injected.mrt"), vrps: filepath.Join(dir, "vrps.json")}
	})
	if scenarioErr != nil {
		t.Fatal(scenarioErr)
	}
	return scenarioVal
}

// proc is a bgpsentry subprocess; its output goes to files in the test's
// temporary directory (printed when the test fails).
type proc struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // set before done is closed
	stderr  string
	metrics string // metrics address ("" when none)
	audit   string // --kafka.audit file ("" when none)
}

func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	p := &proc{name: name, done: make(chan struct{}), stderr: filepath.Join(dir, name+".stderr")}
	errf, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	outf, err := os.Create(filepath.Join(dir, name+".stdout"))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = root
	p.cmd.Stdout, p.cmd.Stderr = outf, errf
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		errf.Close()
		outf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("---- %s stderr (last 40 lines) ----\n%s", name, tail(p.log(), 40))
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.stderr)
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// wait waits up to timeout for the process to exit and fails unless it
// exited with status 0.
func (p *proc) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", p.name, timeout)
	}
	if p.err != nil {
		t.Fatalf("%s: %v\n%s", p.name, p.err, tail(p.log(), 40))
	}
}

// stop sends SIGTERM (a clean stop: the classifier commits what it
// processed) and waits for a zero exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	p.wait(t, 30*time.Second)
}

// kill9 kills the process with SIGKILL: no cleanup, no commit, no flush.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// classifier starts `bgpsentry serve` as a classifier of group n.group,
// with an audit file and a metrics endpoint.
func classifier(t testing.TB, name, brokerAddr string, n names, sc scenarioFiles) *proc {
	t.Helper()
	audit := filepath.Join(t.TempDir(), name+".audit")
	p := startClassifier(t, name, brokerAddr, n, sc, "--kafka.audit", audit, "--kafka.commit-interval", "200ms")
	p.audit = audit
	return p
}

// startClassifier starts `bgpsentry serve` as a classifier of group
// n.group with a metrics endpoint.
func startClassifier(t testing.TB, name, brokerAddr string, n names, sc scenarioFiles, extra ...string) *proc {
	t.Helper()
	metrics := freeAddr(t)
	args := []string{"serve",
		"--kafka.brokers", brokerAddr, "--kafka.topic.updates", n.updates, "--kafka.topic.alerts", n.alerts,
		"--kafka.group", n.group, "--kafka.partitions", strconv.Itoa(partitions), "--kafka.session-timeout", "6s",
		"--bgp.listen", "", "--grpc.listen", "", "--metrics.listen", metrics, "--stdout=false",
		"--asrel", asrel, "--rpki", sc.vrps, "--warmup", "1m", "--min-peers", "1",
	}
	p := start(t, name, append(args, extra...)...)
	p.metrics = metrics
	return p
}

// replay publishes files to n.updates with `bgpsentry replay`.
func replay(t testing.TB, brokerAddr string, n names, speed string, files ...string) *proc {
	t.Helper()
	args := []string{"replay", "--kafka.brokers", brokerAddr, "--kafka.topic.updates", n.updates,
		"--kafka.partitions", strconv.Itoa(partitions), "--speed", speed, "--max-gap", "1s"}
	return start(t, "replay", append(args, files...)...)
}

var assignedRE = regexp.MustCompile(`msg="Kafka partitions assigned".* partitions="?\[([0-9 ]*)\]`)

// assigned returns the partitions of the last assignment p logged (nil
// before the first).
func (p *proc) assigned() []int {
	var last []int
	for _, m := range assignedRE.FindAllStringSubmatch(p.log(), -1) {
		last = []int{}
		for _, f := range strings.Fields(m[1]) {
			n, _ := strconv.Atoi(f)
			last = append(last, n)
		}
	}
	return last
}

// waitFor polls cond every 100ms until it holds, failing after timeout.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitGroupSplit waits until every classifier owns partitions/len(cs)
// partitions (the group has settled).
func waitGroupSplit(t testing.TB, cs ...*proc) {
	t.Helper()
	waitFor(t, "the group to split the partitions", 60*time.Second, func() bool {
		seen := map[int]bool{}
		for _, c := range cs {
			a := c.assigned()
			if len(a) != partitions/len(cs) {
				return false
			}
			for _, p := range a {
				seen[p] = true
			}
		}
		return len(seen) == partitions
	})
}

// metric scrapes p's endpoint and returns the sum of the samples of name
// (-1 when it cannot be scraped).
func (p *proc) metric(name string) float64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

// endOffsets returns the end offset (next offset to be written) of every
// partition of topic.
func endOffsets(t testing.TB, brokerAddr, topic string) map[int]int64 {
	t.Helper()
	ends := map[int]int64{}
	for p := range partitions {
		var err error
		for try := 0; try < 50; try++ {
			var conn *kgo.Conn
			conn, err = kgo.DialLeader(context.Background(), "tcp", brokerAddr, topic, p)
			if err == nil {
				ends[p], err = conn.ReadLastOffset()
				conn.Close()
			}
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, p, err)
		}
	}
	return ends
}

// audit is what the --kafka.audit files say: per partition, per offset,
// how many times it was processed (by any classifier).
type audit map[int]map[int64]int

func readAudits(t *testing.T, ps ...*proc) (audit, map[string]int) {
	t.Helper()
	a := audit{}
	per := map[string]int{}
	for _, p := range ps {
		data, err := os.ReadFile(p.audit)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue // a torn last line of a killed process
			}
			part, err1 := strconv.Atoi(f[0])
			off, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			if a[part] == nil {
				a[part] = map[int64]int{}
			}
			a[part][off]++
			per[p.name]++
		}
	}
	return a, per
}

// missing counts the offsets below ends that no classifier processed.
func (a audit) missing(ends map[int]int64) (n int, first string) {
	for p, end := range ends {
		for off := int64(0); off < end; off++ {
			if a[p][off] == 0 {
				if n == 0 {
					first = fmt.Sprintf("%d/%d", p, off)
				}
				n++
			}
		}
	}
	return n, first
}

// twice counts the offsets processed more than once.
func (a audit) twice() int {
	n := 0
	for _, offs := range a {
		for _, c := range offs {
			if c > 1 {
				n++
			}
		}
	}
	return n
}

func total(ends map[int]int64) int64 {
	var n int64
	for _, e := range ends {
		n += e
	}
	return n
}

// alertRecord is one record of the alerts topic.
type alertRecord struct {
	ev        *pb.AlertEvent
	partition int
	offset    int64
}

// readAlerts reads the whole alerts topic.
func readAlerts(t *testing.T, brokerAddr, topic string) []alertRecord {
	t.Helper()
	ends := endOffsets(t, brokerAddr, topic)
	var out []alertRecord
	for p, end := range ends {
		if end == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r := kgo.NewReader(kgo.ReaderConfig{Brokers: []string{brokerAddr}, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				cancel()
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			ev, err := kafka.UnmarshalAlert(m.Value)
			if err != nil {
				t.Fatalf("%s/%d/%d: %v", topic, p, m.Offset, err)
			}
			if string(m.Key) != ev.GetId() {
				t.Errorf("%s/%d/%d: key %q, event id %q", topic, p, m.Offset, m.Key, ev.GetId())
			}
			out = append(out, alertRecord{ev: ev, partition: p, offset: m.Offset})
			if m.Offset >= end-1 {
				break
			}
		}
		r.Close()
		cancel()
	}
	return out
}

// eventDups checks the alert events for duplicates. Events of one alert
// share its id (a deterministic hash of class, prefix, suspect and first
// update time): one OPEN, any number of UPDATEs, at most one RESOLVED.
//
// A duplicate event is a second OPEN of one id, a second RESOLVED of one
// id, or a second UPDATE of one id with the same content apart from the
// sequence number: an event the classifiers produced twice. retried
// counts records that are byte-for-byte one event (sequence included):
// one write retried by the producer after a lost acknowledgement, which a
// reader drops by (id, sequence), as kafka.AlertWriter documents; they
// are not duplicate events.
func eventDups(t *testing.T, recs []alertRecord) (dups []string, retried int) {
	t.Helper()
	exact := map[string]bool{}
	seen := map[string]string{}
	for _, r := range recs {
		raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.ev)
		if err != nil {
			t.Fatal(err)
		}
		if exact[string(raw)] {
			retried++
			continue
		}
		exact[string(raw)] = true
		key := r.ev.GetId() + "|" + r.ev.GetState().String()
		if r.ev.GetState() == pb.AlertState_UPDATE {
			c := proto.Clone(r.ev).(*pb.AlertEvent)
			c.Sequence = 0
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			key += "|" + string(b)
		}
		at := fmt.Sprintf("%d/%d", r.partition, r.offset)
		if prev, ok := seen[key]; ok {
			dups = append(dups, fmt.Sprintf("%s %s %s %s (suspect AS%d, first seen %v, %d prefixes, sequence %d) at %s and %s",
				r.ev.GetId(), r.ev.GetState(), r.ev.GetType(), r.ev.GetPrefix(), r.ev.GetSuspectAsn(), r.ev.GetFirstSeen().AsTime(),
				r.ev.GetPrefixCount(), r.ev.GetSequence(), prev, at))
			continue
		}
		seen[key] = at
	}
	return dups, retried
}
