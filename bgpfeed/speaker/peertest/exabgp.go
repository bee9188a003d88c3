package peertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ExabgpConf is the data of an ExaBGP template (exabgp.conf.tmpl,
// exabgp-api.conf.tmpl).
type ExabgpConf struct {
	RouterID, Local, Speaker string
	SpeakerPort              int
	ASN, SpeakerASN          uint32
	Index                    int
	Script                   string // the API process's command line
}

// ExabgpEnv runs ExaBGP as root without dropping privileges, without the
// CLI pipes (it would create them under /run) and without listening.
var ExabgpEnv = []string{
	"exabgp.daemon.user=root",
	"exabgp.daemon.drop=false",
	"exabgp.daemon.daemonize=false",
	"exabgp.tcp.bind=",
	"exabgp.api.cli=false",
	"exabgp.log.destination=stdout",
	"exabgp.log.level=INFO",
}

// StartExabgp renders tmpl with c and starts ExaBGP.
func StartExabgp(t testing.TB, tmpl string, c ExabgpConf) *Daemon {
	t.Helper()
	exe := NeedTool(t, "exabgp", "exabgp")
	conf := Render(t, tmpl, t.TempDir(), "exabgp.conf", c)
	return StartDaemon(t, "exabgp", ExabgpEnv, exe, conf)
}

// Exabgp is an ExaBGP router driven at run time: its API process
// (testdata/peers/exabgp-control.sh) follows a command file, and Send
// appends API commands ("announce route ...", "withdraw route ...") to it.
type Exabgp struct {
	*Daemon
	mu   sync.Mutex
	cmds string
}

// StartExabgpControl starts ExaBGP with exabgp-api.conf.tmpl (no static
// routes) and the control process; c.Script is set here.
func StartExabgpControl(t testing.TB, c ExabgpConf) *Exabgp {
	t.Helper()
	cmds := filepath.Join(t.TempDir(), "commands")
	if err := os.WriteFile(cmds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Script = fmt.Sprintf("%s %s", filepath.Join(PeersDir(), "exabgp-control.sh"), cmds)
	return &Exabgp{Daemon: StartExabgp(t, "exabgp-api.conf.tmpl", c), cmds: cmds}
}

// Send hands API commands to ExaBGP, one per line, in order.
func (e *Exabgp) Send(t testing.TB, lines ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	f, err := os.OpenFile(e.cmds, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}
