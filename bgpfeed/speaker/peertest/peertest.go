// Package peertest runs real BGP daemons (BIRD 2, gobgpd, ExaBGP) as
// child processes of a test, on loopback only, with configurations
// rendered into t.TempDir() from the templates of testdata/peers/. It is
// shared by the speaker's tests and the end-to-end tests of `bgpsentry
// serve`.
//
// The daemons are installed by scripts/peers-deps.sh; a missing one fails
// the test unless BGPSENTRY_SKIP_PEERS=1, which skips it and says why.
// Every daemon is killed (its whole process group) when the test ends, and
// its log is printed when the test failed. Control commands (birdc,
// gobgp) run with a timeout.
package peertest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Loopback addresses the tests give their routers (Linux routes all of
// 127.0.0.0/8 to lo).
const (
	Lo1 = "127.0.0.1"
	Lo2 = "127.0.0.2"
	Lo3 = "127.0.0.3"
	Lo4 = "127.0.0.4"
	Lo5 = "127.0.0.5"
	Lo6 = "::1"
)

// CommandTimeout bounds every control command (birdc, gobgp).
const CommandTimeout = 15 * time.Second

// ErrNotYet is what an Eventually condition returns while it waits.
var ErrNotYet = errors.New("not yet")

// NeedTool returns the path of a daemon's executable, or fails the test
// (skips it with BGPSENTRY_SKIP_PEERS=1) when pkg is not installed.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		// Daemons live in /usr/sbin, not on every user's PATH.
		if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
			return "/usr/sbin/" + name
		}
		if os.Getenv("BGPSENTRY_SKIP_PEERS") == "1" {
			t.Skipf("%s not installed and BGPSENTRY_SKIP_PEERS=1: skipping this real-peer test", name)
		}
		t.Fatalf("%s is not installed (scripts/peers-deps.sh installs the Debian package %s); set BGPSENTRY_SKIP_PEERS=1 to skip the real-peer tests explicitly", name, pkg)
	}
	return p
}

// PeersDir is testdata/peers at the repository root.
func PeersDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "peers")
}

// Render writes the template testdata/peers/tmpl filled with data into
// dir/name and returns that path.
func Render(t testing.TB, tmpl, dir, name string, data any) string {
	t.Helper()
	tp, err := template.ParseFiles(filepath.Join(PeersDir(), tmpl))
	if err != nil {
		t.Fatalf("template %s: %v", tmpl, err)
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, data); err != nil {
		t.Fatalf("template %s: %v", tmpl, err)
	}
	out := filepath.Join(dir, name)
	if err := os.WriteFile(out, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// FreePort returns a TCP port that was free on addr a moment ago.
func FreePort(t testing.TB, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Daemon is a child process killed when the test ends; its output goes to
// a log file that is printed when the test fails.
type Daemon struct {
	t    testing.TB
	Name string
	Log  string // path of the daemon's stdout and stderr
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartDaemon starts argv in its own process group with env added to the
// test's environment.
func StartDaemon(t testing.TB, name string, env []string, argv ...string) *Daemon {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	d := &Daemon{t: t, Name: name, cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		lf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			d.PrintLog()
		}
	})
	return d
}

// Stop ends the daemon's process group: SIGTERM, then SIGKILL after 5 s.
func (d *Daemon) Stop() {
	if d.Exited() {
		return
	}
	pgid := d.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-d.done
	}
}

// Kill ends the daemon at once (a crash: no NOTIFICATION).
func (d *Daemon) Kill() {
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

// Exited reports whether the process has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Err is the process's exit error once Exited.
func (d *Daemon) Err() error {
	if !d.Exited() {
		return nil
	}
	return d.err
}

// PrintLog logs the end of the daemon's output to the test.
func (d *Daemon) PrintLog() {
	b, _ := os.ReadFile(d.Log)
	if len(b) > 16<<10 {
		b = append([]byte("...\n"), b[len(b)-16<<10:]...)
	}
	d.t.Logf("%s log (%s):\n%s", d.Name, d.Log, b)
}

// Run runs a control command with CommandTimeout and fails the test on
// error.
func Run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := RunErr(argv...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

// RunErr runs a control command with CommandTimeout.
func RunErr(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	return string(out), err
}

// Eventually retries f every 200 ms until it returns nil, and fails the
// test when d passes first.
func Eventually(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", d, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
