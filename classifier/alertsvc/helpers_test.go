package alertsvc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// testTimeout bounds every wait of the tests.
const testTimeout = 20 * time.Second

// serve starts a Server for b on 127.0.0.1:0 and stops it at the end of
// the test; it returns the address.
func serve(t testing.TB, b *Broker, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, lis.Addr().String()
}

// dial connects a client (plaintext unless opts say otherwise).
func dial(t testing.TB, addr string, opts ...grpc.DialOption) pb.AlertServiceClient {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewAlertServiceClient(cc)
}

// testCtx is a context bounded by testTimeout.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// subscribe opens a stream and waits for its header (the subscription is
// registered by then); it returns the stream and the start cursor.
func subscribe(t testing.TB, ctx context.Context, c pb.AlertServiceClient, req *pb.SubscribeRequest) (grpc.ServerStreamingClient[pb.AlertEvent], string) {
	t.Helper()
	st, err := c.Subscribe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	md, err := st.Header()
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	cur := ""
	if v := md.Get(CursorHeader); len(v) == 1 {
		cur = v[0]
	}
	return st, cur
}

// recvN receives n events.
func recvN(t testing.TB, st grpc.ServerStreamingClient[pb.AlertEvent], n int) []*pb.AlertEvent {
	t.Helper()
	var out []*pb.AlertEvent
	for len(out) < n {
		ev, err := st.Recv()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

// seqs lists the sequences of events.
func seqs(evs []*pb.AlertEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.GetSequence()
	}
	return out
}

// event makes a test event.
func event(seq uint64, typ pb.AlertType, prefix string, suspect, origin uint32, expected []uint32, conf float64) *pb.AlertEvent {
	return &pb.AlertEvent{
		Id:              "alert-" + prefix,
		Sequence:        seq,
		State:           pb.AlertState_OPEN,
		Type:            typ,
		Prefix:          prefix,
		ExpectedOrigins: expected,
		SuspectAsn:      suspect,
		OriginAsn:       origin,
		Confidence:      conf,
		FirstSeen:       timestamppb.New(time.Unix(1700000000, 0)),
		LastSeen:        timestamppb.New(time.Unix(1700000060, 0)),
		PeerCount:       3,
		SamplePaths:     []string{"3356 174 64500"},
		Prefixes:        []string{prefix},
		PrefixCount:     1,
		Announcements:   3,
	}
}

// plain makes n plain events from seq first on.
func plain(first uint64, n int) []*pb.AlertEvent {
	out := make([]*pb.AlertEvent, n)
	for i := range out {
		out[i] = event(first+uint64(i), pb.AlertType_ORIGIN_HIJACK, "203.0.113.0/24", 64500, 64500, []uint32{64496}, 0.9)
	}
	return out
}

// wantCode checks a gRPC status code and returns the CursorInfo detail
// (nil if none).
func wantCode(t testing.TB, err error, code codes.Code) *pb.CursorInfo {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("err = %v, want code %v", err, code)
	}
	for _, d := range st.Details() {
		if ci, ok := d.(*pb.CursorInfo); ok {
			return ci
		}
	}
	return nil
}

// withToken adds a bearer token to a context.
func withToken(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// pki is a throwaway certificate authority with a server and a client
// certificate, written as PEM files into a temporary directory.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	clientCert, clientKey     string
	pool                      *x509.CertPool
	client                    tls.Certificate
	caKey                     *ecdsa.PrivateKey
	ca                        *x509.Certificate
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	var err error
	p.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bgpsentry test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	p.certFile, p.keyFile, _ = p.issue(t, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey, p.client = p.issue(t, "client", x509.ExtKeyUsageClientAuth)
	return p
}

// issue signs a leaf certificate for 127.0.0.1 and localhost.
func (p *pki) issue(t testing.TB, name string, usage x509.ExtKeyUsage) (certFile, keyFile string, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = p.write(t, name+".pem", "CERTIFICATE", der)
	keyFile = p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pair
}

func (p *pki) write(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// fakeListener is a listener that claims an address without binding it.
type fakeListener struct {
	addr   net.Addr
	closed chan struct{}
}

func newFakeListener(addr string) *fakeListener {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		panic(err)
	}
	return &fakeListener{addr: a, closed: make(chan struct{})}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	<-l.closed
	return nil, net.ErrClosed
}

func (l *fakeListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *fakeListener) Addr() net.Addr { return l.addr }

type grpcStream = grpc.ServerStreamingClient[pb.AlertEvent]

// statusOf is the code of err and whether it is a status.
func statusOf(err error) (codes.Code, bool) {
	st, ok := status.FromError(err)
	return st.Code(), ok
}
