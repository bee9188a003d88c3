package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// TestServeReplay runs the service on the embedded default without a BGP
// listener: a bundled RIS file is replayed through the bus, the state and
// the classifier, and the service stops when the replay ends.
func TestServeReplay(t *testing.T) {
	code, _, errOut := runCmd("serve", "--bgp.listen", "", "--grpc.listen", "127.0.0.1:0", "--warmup", "1m",
		"--replay", rrc06, "--exit-after-replay")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"gRPC alert service", "replay finished", "updates=1561", "stopped"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("log lacks %q:\n%s", want, errOut)
		}
	}
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--neighbor", "not-an-address,65000"},
		{"serve", "--neighbor", "127.0.0.2,notanasn"},
		{"serve", "--neighbor", "127.0.0.2,65000,sometimes"},
	} {
		if code, _, e := runCmd(args...); code != 2 || e == "" {
			t.Errorf("%v: exit %d, %q", args, code, e)
		}
	}
	if code, _, e := runCmd("serve", "--bgp.listen", "", "--grpc.listen", "", "--bgp.router-id", "nonsense", "--neighbor", "127.0.0.2,65000"); code != 1 || !strings.Contains(e, "router-id") {
		t.Errorf("bad router id: exit %d, %q", code, e)
	}
}

// TestServeDemo is `make run` without the pacing and the wait for Ctrl-C:
// the bundled baseline and RouteViews sample give the 2008 YouTube hijack
// on stdout.
func TestServeDemo(t *testing.T) {
	code, out, errOut := runCmd("serve", "--bgp.listen", "", "--grpc.listen", "",
		"--baseline", "../../testdata/demo/ipasn_20080501_v12.dat.gz",
		"--replay", "../../testdata/demo/updates.20080224.1824.bz2", "--replay", "../../testdata/demo/updates.20080224.1839.bz2",
		"--exit-after-replay")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "a baseline is dated 2008-05-01, 66 days after the data's first update") {
		t.Errorf("no warning that the baseline postdates the data:\n%s", errOut)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			State, Type, Prefix, FirstSeen string
			SuspectASN                     uint32 `json:"suspect_asn"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		if e.State == "OPEN" && e.Type == "ORIGIN_HIJACK" && e.Prefix == "208.65.153.0/24" && e.SuspectASN == 17557 {
			found = true
		}
	}
	if !found {
		t.Errorf("no OPEN ORIGIN_HIJACK of 208.65.153.0/24 by AS17557 on stdout:\n%s", out)
	}
}

// listSource yields fixed updates, then EOF.
type listSource []bgpfeed.Update

func (l *listSource) Next(ctx context.Context) (bgpfeed.Update, error) {
	if len(*l) == 0 {
		return bgpfeed.Update{}, io.EOF
	}
	u := (*l)[0]
	*l = (*l)[1:]
	return u, nil
}

// TestPacedSource: at speed 20, two seconds of stream take at least 100ms
// (a lower bound only: a loaded machine may take longer), and a cancelled
// context ends a wait at once.
func TestPacedSource(t *testing.T) {
	t0 := time.Date(2008, 2, 24, 18, 0, 0, 0, time.UTC)
	src := listSource{{Time: t0}, {Time: t0.Add(time.Second)}, {Time: t0.Add(2 * time.Second)}}
	p := newPacedSource(&src, 20)
	start := time.Now()
	n := 0
	for {
		_, err := p.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if el := time.Since(start); n != 3 || el < 100*time.Millisecond {
		t.Errorf("%d updates in %v, want 3 in at least 100ms", n, el)
	}
	src = listSource{{Time: t0}, {Time: t0.Add(time.Hour)}}
	p = newPacedSource(&src, 1)
	ctx, cancel := context.WithCancel(context.Background())
	p.Next(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := p.Next(ctx); err == nil {
		t.Error("an hour's wait was not cut by the cancelled context")
	}
}
