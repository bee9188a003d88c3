package alertsvc

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// shortCtx bounds a call expected to fail at the handshake.
func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// listOK calls ListAlerts and returns its error.
func listOK(ctx context.Context, t *testing.T, addr string, opts ...grpc.DialOption) error {
	t.Helper()
	c := dial(t, addr, opts...)
	_, err := c.ListAlerts(ctx, &pb.ListAlertsRequest{})
	return err
}

func TestAlertsTLS(t *testing.T) {
	p := newPKI(t)
	tlsCfg, err := ServerTLS(p.certFile, p.keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := serve(t, NewBroker(BrokerConfig{}), Config{TLS: tlsCfg})
	other := newPKI(t)
	cases := []struct {
		name string
		opt  grpc.DialOption
		code codes.Code
	}{
		{"trusted CA", grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: p.pool})), codes.OK},
		{"plaintext", grpc.WithTransportCredentials(insecure.NewCredentials()), codes.Unavailable},
		{"unknown CA", grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: other.pool})), codes.Unavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := listOK(shortCtx(t), t, addr, tc.opt)
			if tc.code == codes.OK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

func TestAlertsMutualTLS(t *testing.T) {
	p := newPKI(t)
	tlsCfg, err := ServerTLS(p.certFile, p.keyFile, p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := serve(t, NewBroker(BrokerConfig{}), Config{TLS: tlsCfg})
	other := newPKI(t)
	creds := func(certs ...tls.Certificate) grpc.DialOption {
		return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: p.pool, Certificates: certs}))
	}
	cases := []struct {
		name string
		opt  grpc.DialOption
		ok   bool
	}{
		{"client certificate", creds(p.client), true},
		{"no client certificate", creds(), false},
		{"certificate of another CA", creds(other.client), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := listOK(shortCtx(t), t, addr, tc.opt)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				wantCode(t, err, codes.Unavailable)
			}
		})
	}
}

func TestAlertsTokens(t *testing.T) {
	s, addr := serve(t, NewBroker(BrokerConfig{}), Config{Tokens: []string{"old-secret", "s3cret-token"}})
	s.Publish(plain(1, 1)[0])
	c := dial(t, addr)
	since := uint64(0)
	cases := []struct {
		name string
		ctx  func(context.Context) context.Context
		code codes.Code
	}{
		{"token", func(ctx context.Context) context.Context { return withToken(ctx, "s3cret-token") }, codes.OK},
		{"rotated token", func(ctx context.Context) context.Context { return withToken(ctx, "old-secret") }, codes.OK},
		{"missing", func(ctx context.Context) context.Context { return ctx }, codes.Unauthenticated},
		{"wrong", func(ctx context.Context) context.Context { return withToken(ctx, "s3cret-tokem") }, codes.Unauthenticated},
		{"prefix of a token", func(ctx context.Context) context.Context { return withToken(ctx, "s3cret") }, codes.Unauthenticated},
		{"empty", func(ctx context.Context) context.Context { return withToken(ctx, "") }, codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx(testCtx(t))
			_, err := c.ListAlerts(ctx, &pb.ListAlertsRequest{})
			if tc.code == codes.OK && err != nil {
				t.Fatalf("ListAlerts: %v", err)
			}
			if tc.code != codes.OK {
				wantCode(t, err, tc.code)
			}
			st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Since: &since})
			if err == nil {
				_, err = st.Recv()
			}
			if tc.code == codes.OK && err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			if tc.code != codes.OK {
				wantCode(t, err, tc.code)
			}
		})
	}
	// Health stays open without a token; the alert service does not.
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	h, err := healthpb.NewHealthClient(cc).Check(testCtx(t), &healthpb.HealthCheckRequest{Service: pb.AlertService_ServiceDesc.ServiceName})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without token: %v %v", h, err)
	}
	_, err = c.GetModelInfo(testCtx(t), &pb.GetModelInfoRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

func TestAlertsTokensAndTLS(t *testing.T) {
	p := newPKI(t)
	tlsCfg, err := ServerTLS(p.certFile, p.keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := serve(t, NewBroker(BrokerConfig{}), Config{TLS: tlsCfg, Tokens: []string{"tok"}})
	c := dial(t, addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: p.pool})))
	if _, err := c.ListAlerts(withToken(testCtx(t), "tok"), &pb.ListAlertsRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListAlerts(withToken(testCtx(t), "bad"), &pb.ListAlertsRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

func TestAlertsLoadTokens(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tokens")
	if err := os.WriteFile(f, []byte("# tokens\n\n  first  \nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTokens(f, "UNUSED")
	if err != nil || !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("file: %v %v", got, err)
	}
	t.Setenv("BGPSENTRY_TEST_TOKEN", " envtok\n")
	if got, err := LoadTokens("", "BGPSENTRY_TEST_TOKEN"); err != nil || !slices.Equal(got, []string{"envtok"}) {
		t.Errorf("env: %v %v", got, err)
	}
	if got, err := LoadTokens("", "BGPSENTRY_TEST_UNSET_TOKEN"); err != nil || got != nil {
		t.Errorf("unset: %v %v", got, err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing\n"), 0o600)
	if _, err := LoadTokens(empty, ""); err == nil {
		t.Error("a file without tokens is accepted")
	}
	if _, err := LoadTokens(filepath.Join(dir, "missing"), ""); err == nil {
		t.Error("a missing file is accepted")
	}
	if _, err := New(NewBroker(BrokerConfig{}), Config{Tokens: []string{"has space"}}); !errors.Is(err, ErrConfig) {
		t.Errorf("token with a space: %v", err)
	}
}

// TestAlertsInsecureListen: without TLS the server refuses any address
// but loopback unless explicitly allowed. (A fake listener claims the
// addresses: nothing binds beyond loopback.)
func TestAlertsInsecureListen(t *testing.T) {
	p := newPKI(t)
	tlsCfg, err := ServerTLS(p.certFile, p.keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		addr string
		cfg  Config
		ok   bool
	}{
		{"plaintext wildcard", "0.0.0.0:50051", Config{}, false},
		{"plaintext v6 wildcard", "[::]:50051", Config{}, false},
		{"plaintext public", "192.0.2.1:50051", Config{}, false},
		{"plaintext loopback", "127.0.0.1:50051", Config{}, true},
		{"plaintext v6 loopback", "[::1]:50051", Config{}, true},
		{"plaintext allowed", "192.0.2.1:50051", Config{AllowInsecureNonLoopback: true}, true},
		{"TLS", "0.0.0.0:50051", Config{TLS: tlsCfg}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(NewBroker(BrokerConfig{}), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Serve(newFakeListener(tc.addr)) }()
			if !tc.ok {
				select {
				case err := <-done:
					if !errors.Is(err, ErrInsecureListen) {
						t.Fatalf("Serve: %v, want ErrInsecureListen", err)
					}
				case <-time.After(testTimeout):
					t.Fatal("Serve did not refuse")
				}
				return
			}
			select {
			case err := <-done:
				t.Fatalf("Serve returned %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			s.Stop()
			if err := <-done; err != nil {
				t.Fatalf("Serve after Stop: %v", err)
			}
		})
	}
}
