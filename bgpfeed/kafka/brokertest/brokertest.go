// Package brokertest runs a real Apache Kafka broker for tests: one KRaft
// node started and stopped by scripts/kafka.sh (the Kafka jars from Maven
// Central, the machine's Java), on free loopback ports, with a state
// directory of its own. It is shared by the test packages that need a
// broker; it holds no fake.
package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// RepoRoot is the directory of go.mod above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// FreePort returns a loopback TCP port nothing listens on (now).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Broker is a broker this process started.
type Broker struct {
	Addr  string // 127.0.0.1:PORT
	State string // its state directory (data, server.properties, kafka.log)

	name   string
	script string
	env    []string
	mu     sync.Mutex
	closed bool
}

// Start starts a broker; name prefixes what it prints on stderr. The
// broker stops by itself when this process exits (KAFKA_WATCH_PID), even
// when it is killed.
func Start(name string) (*Broker, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cport, err := FreePort()
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "bgpsentry-kafka-test-")
	if err != nil {
		return nil, err
	}
	b := &Broker{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), State: state, name: name,
		script: filepath.Join(root, "scripts", "kafka.sh"),
		env: append(os.Environ(),
			fmt.Sprintf("KAFKA_PORT=%d", port),
			fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", cport),
			"KAFKA_STATE="+state,
			fmt.Sprintf("KAFKA_WATCH_PID=%d", os.Getpid()),
		),
	}
	t0 := time.Now()
	// The first run fetches the jars with mvn: give it time.
	if out, err := b.Run(10*time.Minute, "start"); err != nil {
		_, _ = b.Run(time.Minute, "stop")
		os.RemoveAll(state) // the output has the end of the broker log
		return nil, fmt.Errorf("scripts/kafka.sh start: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "%s: Kafka broker %s ready in %v\n", name, b.Addr, time.Since(t0).Round(100*time.Millisecond))
	return b, nil
}

// Run runs scripts/kafka.sh ARG for this broker and returns its output.
func (b *Broker) Run(timeout time.Duration, arg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", b.script, arg)
	cmd.Env = b.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Restart stops the broker (SIGTERM) and starts it again on the same
// ports and state directory: its topics and offsets survive.
func (b *Broker) Restart() error {
	if out, err := b.Run(time.Minute, "stop"); err != nil {
		return fmt.Errorf("kafka.sh stop: %v\n%s", err, out)
	}
	if out, err := b.Run(2*time.Minute, "start"); err != nil {
		return fmt.Errorf("kafka.sh start: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the broker; it removes the state directory when the tests
// passed and keeps it (and says where the log is) otherwise. It is safe
// to call more than once.
func (b *Broker) Stop(passed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if out, err := b.Run(time.Minute, "stop"); err != nil {
		fmt.Fprintf(os.Stderr, "%s: stop Kafka: %v\n%s", b.name, err, out)
	}
	if passed {
		os.RemoveAll(b.State)
	} else {
		fmt.Fprintf(os.Stderr, "%s: Kafka broker log kept in %s\n", b.name, filepath.Join(b.State, "kafka.log"))
	}
}
