package main

import (
	"strings"
	"testing"
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
