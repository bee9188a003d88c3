package speaker

import (
	"bytes"
	"context"
	"errors"
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

// Real BGP daemons (BIRD 2, gobgpd, ExaBGP) run as child processes of the
// test, on loopback only, with configurations written into t.TempDir()
// from testdata/peers/. They are installed by scripts/peers-deps.sh; a
// missing one fails the test unless BGPSENTRY_SKIP_PEERS=1.

// needTool returns the path of a daemon's executable.
func needTool(t testing.TB, name, pkg string) string {
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

// peersDir is testdata/peers at the repository root.
func peersDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "peers")
}

// render writes testdata/peers/tmpl filled with data into dir/name.
func render(t testing.TB, tmpl, dir, name string, data any) string {
	t.Helper()
	tp, err := template.ParseFiles(filepath.Join(peersDir(t), tmpl))
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

// daemon is a child process killed when the test ends; its output goes to
// a log file that is printed when the test fails.
type daemon struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startDaemon(t testing.TB, name string, env []string, argv ...string) *daemon {
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
	d := &daemon{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		lf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			d.printLog()
		}
	})
	return d
}

// stop ends the daemon's process group: SIGTERM, then SIGKILL after 5 s.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
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

// kill ends the daemon at once (a crash: no NOTIFICATION).
func (d *daemon) kill() {
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *daemon) printLog() {
	b, _ := os.ReadFile(d.log)
	if len(b) > 16<<10 {
		b = append([]byte("...\n"), b[len(b)-16<<10:]...)
	}
	d.t.Logf("%s log (%s):\n%s", d.name, d.log, b)
}

// run runs a control command (birdc, gobgp) with a timeout.
func run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := runErr(argv...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

func runErr(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	return string(out), err
}

// eventually retries f until it returns nil or d passes.
func eventually(t testing.TB, d time.Duration, what string, f func() error) {
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

var errNotYet = errors.New("not yet")
