package peertest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BirdConf is the data of a BIRD template (bird.conf.tmpl,
// bird-routes.conf.tmpl).
type BirdConf struct {
	RouterID, Local, Speaker string
	LocalPort, SpeakerPort   int // LocalPort 0: a free port on Local
	ASN, SpeakerASN          uint32
	Index                    int // distinguishes IPv6 next hops (2001:db8::Index)
	Password                 string
	// Routes and LiveRoutes are the static routes of bird-routes.conf.tmpl:
	// Routes are announced at session start (the table transfer),
	// LiveRoutes only once `birdc enable live4` / `enable live6` runs.
	Routes, LiveRoutes []BirdRoute
}

// BirdRoute is a static route announced with an AS path: BIRD prepends
// its own AS, so Path is what follows it.
type BirdRoute struct {
	Prefix string
	Path   []uint32
}

// IPv6 reports whether the route is an IPv6 one.
func (r BirdRoute) IPv6() bool { return strings.Contains(r.Prefix, ":") }

// Prepends lists Path backwards, the order of bgp_path.prepend calls.
func (r BirdRoute) Prepends() []uint32 {
	out := make([]uint32, len(r.Path))
	for i, a := range r.Path {
		out[len(r.Path)-1-i] = a
	}
	return out
}

// Bird is a BIRD 2 router controlled with birdc on its own socket.
type Bird struct {
	*Daemon
	birdc string
	sock  string
	Conf  string // path of the rendered configuration
}

// StartBird renders tmpl with c and starts BIRD in the foreground; it
// returns once birdc answers.
func StartBird(t testing.TB, tmpl string, c BirdConf) *Bird {
	t.Helper()
	exe := NeedTool(t, "bird", "bird2")
	birdc := NeedTool(t, "birdc", "bird2")
	dir := t.TempDir()
	if c.LocalPort == 0 {
		c.LocalPort = FreePort(t, c.Local)
	}
	conf := Render(t, tmpl, dir, "bird.conf", c)
	sock := filepath.Join(dir, "bird.ctl")
	d := StartDaemon(t, "bird", nil, exe, "-c", conf, "-s", sock, "-P", filepath.Join(dir, "bird.pid"), "-f")
	b := &Bird{Daemon: d, birdc: birdc, sock: sock, Conf: conf}
	Eventually(t, 10*time.Second, "BIRD control socket", func() error {
		if d.Exited() {
			t.Fatalf("bird exited: %v", d.Err())
		}
		_, err := b.Ctl("show status")
		return err
	})
	return b
}

// Ctl runs one birdc command.
func (b *Bird) Ctl(cmd string) (string, error) {
	out, err := RunErr(append([]string{b.birdc, "-s", b.sock}, strings.Fields(cmd)...)...)
	if err == nil && strings.Contains(out, "syntax error") {
		err = fmt.Errorf("birdc %s: %s", cmd, out)
	}
	return out, err
}

// MustCtl runs one birdc command and fails the test on error.
func (b *Bird) MustCtl(t testing.TB, cmd string) string {
	t.Helper()
	out, err := b.Ctl(cmd)
	if err != nil {
		t.Fatalf("birdc %s: %v\n%s", cmd, err, out)
	}
	return out
}
