package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/classifier/alertsvc"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// alertsServer serves b on addr ("127.0.0.1:0" for any port) until the
// returned stop is called (or the test ends).
func alertsServer(t *testing.T, b *alertsvc.Broker, cfg alertsvc.Config, addr string) (string, func()) {
	t.Helper()
	s, err := alertsvc.New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener
	for try := 0; ; try++ { // a restarted server reuses its port
		if lis, err = net.Listen("tcp", addr); err == nil || try == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s.Shutdown(ctx)
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

func alertEvent(seq uint64, typ pb.AlertType, prefix string, suspect uint32, conf float64) *pb.AlertEvent {
	return &pb.AlertEvent{
		Id: "a" + prefix, Sequence: seq, State: pb.AlertState_OPEN, Type: typ, Prefix: prefix,
		ExpectedOrigins: []uint32{64496}, SuspectAsn: suspect, OriginAsn: suspect, Confidence: conf,
		FirstSeen: timestamppb.New(time.Unix(1700000000, 0)), LastSeen: timestamppb.New(time.Unix(1700000060, 0)),
		PeerCount: 4, PrefixCount: 1,
	}
}

// testEvents: odd sequences are origin hijacks of 203.0.113.0/24 by
// AS64500, even ones route leaks of 198.51.100.0/24 by AS64511.
func testEvents(from, to uint64) []*pb.AlertEvent {
	var out []*pb.AlertEvent
	for s := from; s <= to; s++ {
		if s%2 == 1 {
			out = append(out, alertEvent(s, pb.AlertType_ORIGIN_HIJACK, "203.0.113.0/24", 64500, 0.9))
		} else {
			out = append(out, alertEvent(s, pb.AlertType_ROUTE_LEAK, "198.51.100.0/24", 64511, 0.6))
		}
	}
	return out
}

// jsonSeqs parses JSON Lines of AlertEvents into their sequences.
func jsonSeqs(t *testing.T, out string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev pb.AlertEvent
		if err := protojson.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seqs = append(seqs, ev.Sequence)
	}
	return seqs
}

func TestAlertsOnce(t *testing.T) {
	b := alertsvc.NewBroker(alertsvc.BrokerConfig{})
	for _, ev := range testEvents(1, 9) {
		b.Publish(ev)
	}
	addr, _ := alertsServer(t, b, alertsvc.Config{}, "127.0.0.1:0")
	cases := []struct {
		name string
		args []string
		want []uint64
	}{
		{"all, paged", []string{"--page-size", "2"}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"type", []string{"--type", "route-leak"}, []uint64{2, 4, 6, 8}},
		{"covering prefix", []string{"--prefix", "203.0.112.0/22^+"}, []uint64{1, 3, 5, 7, 9}},
		{"exact prefix", []string{"--prefix", "198.51.100.0/24", "--prefix", "192.0.2.0/24"}, []uint64{2, 4, 6, 8}},
		{"asn", []string{"--asn", "AS64500"}, []uint64{1, 3, 5, 7, 9}},
		{"expected asn", []string{"--asn", "64496"}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"min confidence", []string{"--min-confidence", "0.8"}, []uint64{1, 3, 5, 7, 9}},
		{"since", []string{"--since", "6"}, []uint64{7, 8, 9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"alerts", "--server", addr, "--once", "--json"}, tc.args...)
			code, out, errOut := runCmd(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := jsonSeqs(t, out); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if !strings.Contains(out, `"suspect_asn":`) && !strings.Contains(out, `"suspect_asn": `) {
				t.Errorf("JSON without proto field names: %s", out)
			}
		})
	}

	// The table.
	code, out, errOut := runCmd("alerts", "--server", addr, "--once", "--type", "ROUTE_LEAK", "--since", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SEQ") ||
		!strings.Contains(lines[1], "ROUTE_LEAK") || !strings.Contains(lines[1], "198.51.100.0/24") ||
		!strings.Contains(lines[1], "AS64511") || !strings.Contains(lines[1], "0.60") || !strings.Contains(lines[1], "2023-11-14T22:14:20Z") {
		t.Errorf("table:\n%s", out)
	}
}

func TestAlertsErrors(t *testing.T) {
	// A port nothing listens on.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	wrongFile := filepath.Join(dir, "wrong")
	os.WriteFile(wrongFile, []byte("guess\n"), 0o600)
	b := alertsvc.NewBroker(alertsvc.BrokerConfig{})
	b.Publish(testEvents(1, 1)[0])
	tokAddr, _ := alertsServer(t, b, alertsvc.Config{Tokens: []string{"s3cret"}}, "127.0.0.1:0")

	ca, certFile, keyFile := writeTestCerts(t, dir)
	tlsCfg, err := alertsvc.ServerTLS(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr, _ := alertsServer(t, b, alertsvc.Config{TLS: tlsCfg, Tokens: []string{"s3cret"}}, "127.0.0.1:0")

	t.Setenv(alertsvc.TokenEnv, "")
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr (error) or stdout (success)
	}{
		{"unreachable", []string{"--server", dead}, 1, "unreachable: connection refused"},
		{"no token", []string{"--server", tokAddr}, 1, "refused the credentials: missing bearer token"},
		{"wrong token", []string{"--server", tokAddr, "--token-file", wrongFile}, 1, "invalid bearer token"},
		{"token", []string{"--server", tokAddr, "--token-file", tokenFile}, 0, `"sequence":`},
		{"TLS and token", []string{"--server", tlsAddr, "--tls-ca", ca, "--token-file", tokenFile}, 0, `"sequence":`},
		{"plaintext to TLS", []string{"--server", tlsAddr, "--token-file", tokenFile}, 1, "if the server uses TLS, give --tls-ca"},
		{"token in plaintext beyond loopback", []string{"--server", "192.0.2.1:50051", "--token-file", tokenFile}, 1, "refusing to send the bearer token in plaintext"},
		{"bad prefix", []string{"--prefix", "203.0.113.0"}, 1, "--prefix \"203.0.113.0\""},
		{"bad type", []string{"--type", "hijack"}, 1, "--type \"hijack\""},
		{"bad asn", []string{"--asn", "ASX"}, 1, "--asn \"ASX\""},
		{"bad confidence", []string{"--min-confidence", "2"}, 1, "--min-confidence 2"},
		{"bad since", []string{"--since", "-1"}, 2, "not a cursor"},
		{"argument", []string{"extra"}, 2, "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"alerts", "--once", "--json", "--timeout", "5s"}, tc.args...)
			code, out, errOut := runCmd(args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errOut)
			}
			where := errOut
			if code == 0 {
				where = out
			}
			if !strings.Contains(where, tc.want) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", tc.want, out, errOut)
			}
		})
	}

	// --help explains every flag.
	code, _, errOut := runCmd("alerts", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, flag := range []string{"-server", "-type", "-prefix", "-asn", "-min-confidence", "-since", "-json", "-once", "-tls-ca", "-token-file", "-tls-cert", "^+"} {
		if !strings.Contains(errOut, flag) {
			t.Errorf("--help lacks %s", flag)
		}
	}
}

// syncBuffer is a bytes.Buffer for one writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLines waits until out holds n lines.
func waitLines(t *testing.T, out, errOut *syncBuffer, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), "\n") < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d lines, want %d:\n%s\nstderr:\n%s", strings.Count(out.String(), "\n"), n, out, errOut)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAlertsFollow: the stream with --json and a filter, across a server
// restart: the client reconnects and resumes from its cursor, so it
// prints every matching event once, in order.
func TestAlertsFollow(t *testing.T) {
	b := alertsvc.NewBroker(alertsvc.BrokerConfig{})
	addr, stop := alertsServer(t, b, alertsvc.Config{}, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runAlerts(ctx, []string{"--server", addr, "--json", "--type", "ORIGIN_HIJACK", "--retry-min", "50ms", "--retry-max", "200ms"}, &out, &errOut)
	}()
	// Wait until the subscription is registered, then publish.
	deadline := time.Now().Add(20 * time.Second)
	for b.Stats().Subscribers == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no subscription; stderr: %s", errOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, ev := range testEvents(1, 10) {
		b.Publish(ev)
	}
	waitLines(t, &out, &errOut, 5) // 1 3 5 7 9

	// The server goes away; events go on; a new server takes the port.
	stop()
	for _, ev := range testEvents(11, 20) {
		b.Publish(ev)
	}
	time.Sleep(100 * time.Millisecond) // let the client notice and retry
	alertsServer(t, b, alertsvc.Config{}, addr)
	waitLines(t, &out, &errOut, 10) // ... 11 13 15 17 19
	for _, ev := range testEvents(21, 24) {
		b.Publish(ev)
	}
	waitLines(t, &out, &errOut, 12) // 21 23
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runAlerts: %v", err)
	}
	want := []uint64{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}
	if got := jsonSeqs(t, out.String()); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !strings.Contains(errOut.String(), "reconnecting") || !strings.Contains(errOut.String(), "from cursor 9") {
		t.Errorf("stderr does not report the reconnection from cursor 9:\n%s", errOut.String())
	}
}

// TestAlertsFollowGap: resuming from a cursor the server no longer keeps
// prints a warning naming the gap, then the kept events.
func TestAlertsFollowGap(t *testing.T) {
	b := alertsvc.NewBroker(alertsvc.BrokerConfig{HistorySize: 5})
	for _, ev := range testEvents(1, 12) {
		b.Publish(ev)
	}
	addr, _ := alertsServer(t, b, alertsvc.Config{}, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runAlerts(ctx, []string{"--server", addr, "--json", "--since", "3"}, &out, &errOut)
	}()
	waitLines(t, &out, &errOut, 5)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := jsonSeqs(t, out.String()); !slices.Equal(got, []uint64{8, 9, 10, 11, 12}) {
		t.Errorf("got %v", got)
	}
	if !strings.Contains(errOut.String(), "events 4 to 7 are gone") {
		t.Errorf("no gap warning:\n%s", errOut.String())
	}
}

// writeTestCerts writes a throwaway CA and a server certificate for
// 127.0.0.1 into dir.
func writeTestCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", der), write("server-key.pem", "EC PRIVATE KEY", kder)
}
