package peertest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GobgpdConf is the data of gobgpd.toml.tmpl.
type GobgpdConf struct {
	ASN, SpeakerASN            uint32
	RouterID, Local, Speaker   string
	Port, SpeakerPort, APIPort int // Port, APIPort 0: free ports
	Passive                    bool
	Password                   string
	AddPathSend                int
}

// Gobgpd is a gobgpd router controlled through the gobgp CLI on a
// loopback API port.
type Gobgpd struct {
	*Daemon
	API     int
	Port    int    // its BGP port
	Speaker string // the speaker's address as gobgpd names the neighbour
}

// StartGobgpd renders gobgpd.toml.tmpl with c and starts gobgpd; it
// returns once its API answers.
func StartGobgpd(t testing.TB, c GobgpdConf) *Gobgpd {
	t.Helper()
	exe := NeedTool(t, "gobgpd", "gobgpd")
	NeedTool(t, "gobgp", "gobgpd")
	if c.APIPort == 0 {
		c.APIPort = FreePort(t, Lo1)
	}
	if c.Port == 0 {
		c.Port = FreePort(t, c.Local)
	}
	conf := Render(t, "gobgpd.toml.tmpl", t.TempDir(), "gobgpd.toml", c)
	// Debian's gobgpd serves its gRPC API on all interfaces by default.
	d := StartDaemon(t, "gobgpd", nil, exe, "-f", conf, "-t", "toml", "-p", "-l", "info",
		"--api-hosts", fmt.Sprintf("%s:%d", Lo1, c.APIPort), "--pprof-disable")
	g := &Gobgpd{Daemon: d, API: c.APIPort, Port: c.Port, Speaker: c.Speaker}
	Eventually(t, 15*time.Second, "gobgpd API", func() error {
		if d.Exited() {
			t.Fatalf("gobgpd exited: %v", d.Err())
		}
		_, err := RunErr(g.CLI("global")...)
		return err
	})
	return g
}

// CLI is the argv of a gobgp command against this gobgpd.
func (g *Gobgpd) CLI(args ...string) []string {
	return append([]string{"gobgp", "-u", Lo1, "-p", strconv.Itoa(g.API)}, args...)
}

// Do runs a gobgp command (space-separated arguments) and fails the test
// on error.
func (g *Gobgpd) Do(t testing.TB, args string) string {
	t.Helper()
	return Run(t, g.CLI(strings.Fields(args)...)...)
}
