package alertsvc

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// CursorHeader is the Subscribe response header that carries the cursor
// the stream starts after.
const CursorHeader = "bgpsentry-cursor"

// ListAlerts page sizes.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Server defaults.
const (
	DefaultMaxConnections = 1024
	// endGrace is how long an ended subscription's handler waits for its
	// sender to stop before it returns the status (a sender blocked on a
	// client that does not read is released by the return).
	endGrace = 100 * time.Millisecond
)

// Sentinel errors.
var (
	// ErrInsecureListen: a plaintext server asked to listen beyond loopback.
	ErrInsecureListen = errors.New("alertsvc: refusing to serve without TLS on a non-loopback address (configure TLS, or set AllowInsecureNonLoopback)")
	// ErrInvalidUpdate: a Scorer cannot score the update (InvalidArgument).
	ErrInvalidUpdate = errors.New("alertsvc: invalid update")
	// ErrConfig: a Config that cannot work.
	ErrConfig = errors.New("alertsvc: bad configuration")
)

// errEnded: the broker ended the subscription.
var errEnded = errors.New("alertsvc: subscription ended")

// Config configures a Server. The zero value serves plaintext on loopback,
// without tokens, Classify or GetModelInfo.
type Config struct {
	// TLS, when set, is the server's TLS configuration (see ServerTLS);
	// with ClientCAs and ClientAuth it requires client certificates.
	TLS *tls.Config
	// Tokens, when set, are the accepted bearer tokens (see LoadTokens):
	// every call but health must carry "authorization: Bearer TOKEN".
	Tokens []string
	// AllowInsecureNonLoopback lets a server without TLS listen on an
	// address other than loopback; otherwise Serve refuses.
	AllowInsecureNonLoopback bool
	// Keepalive and KeepalivePolicy; zero fields take the defaults (ping
	// an idle connection every minute, drop it 20s after an unanswered
	// ping; accept client pings at most every 15s, also without streams).
	Keepalive       keepalive.ServerParameters
	KeepalivePolicy keepalive.EnforcementPolicy
	// MaxConnections bounds the open connections (default 1024); further
	// clients wait in the listen backlog.
	MaxConnections int
	// Scorer serves Classify; nil answers UNIMPLEMENTED.
	Scorer Scorer
	// ModelInfo serves GetModelInfo; nil answers UNIMPLEMENTED.
	ModelInfo ModelInfoProvider
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server is the gRPC front of a Broker.
type Server struct {
	pb.UnimplementedAlertServiceServer

	cfg    Config
	broker *Broker
	log    *slog.Logger
	gs     *grpc.Server
	health *health.Server

	mu      sync.Mutex // guards subs and closing
	subs    map[*subscription]struct{}
	closing bool
}

// New makes a Server for b; call Serve, then Shutdown.
func New(b *Broker, cfg Config) (*Server, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: no broker", ErrConfig)
	}
	for _, t := range cfg.Tokens {
		if strings.TrimSpace(t) == "" || strings.ContainsAny(t, " \t\r\n") {
			return nil, fmt.Errorf("%w: a bearer token is empty or contains white space", ErrConfig)
		}
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	kp := cfg.Keepalive
	if kp.Time <= 0 {
		kp.Time = time.Minute
	}
	if kp.Timeout <= 0 {
		kp.Timeout = 20 * time.Second
	}
	ep := cfg.KeepalivePolicy
	if ep.MinTime <= 0 {
		ep.MinTime = 15 * time.Second
		ep.PermitWithoutStream = true
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		cfg:    cfg,
		broker: b,
		log:    log.With("stage", "alertsvc"),
		health: health.NewServer(),
		subs:   map[*subscription]struct{}{},
	}
	a := newAuthenticator(cfg.Tokens)
	opts := []grpc.ServerOption{
		grpc.KeepaliveParams(kp),
		grpc.KeepaliveEnforcementPolicy(ep),
		grpc.MaxRecvMsgSize(1 << 20),
		grpc.ChainUnaryInterceptor(s.recoverUnary, a.unary),
		grpc.ChainStreamInterceptor(s.recoverStream, a.stream),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.gs = grpc.NewServer(opts...)
	pb.RegisterAlertServiceServer(s.gs, s)
	healthpb.RegisterHealthServer(s.gs, s.health)
	reflection.Register(s.gs)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.AlertService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s, nil
}

// Broker is the Broker the Server serves.
func (s *Server) Broker() *Broker { return s.broker }

// Publish publishes an event (Broker.Publish).
func (s *Server) Publish(ev *pb.AlertEvent) { s.broker.Publish(ev) }

// Serve serves on lis until Shutdown or Stop (then it returns nil). Without
// TLS it refuses an address other than loopback (or a Unix socket) unless
// AllowInsecureNonLoopback is set.
func (s *Server) Serve(lis net.Listener) error {
	if s.cfg.TLS == nil && !s.cfg.AllowInsecureNonLoopback && !isLocal(lis.Addr()) {
		lis.Close()
		return fmt.Errorf("%w: %s", ErrInsecureListen, lis.Addr())
	}
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		lis.Close()
		return nil
	}
	return s.gs.Serve(newLimitListener(lis, s.cfg.MaxConnections))
}

// Shutdown stops the Server gracefully: health turns NOT_SERVING, the
// subscriptions end with UNAVAILABLE and their cursor, and the calls in
// flight finish; when ctx ends first, the connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.endAll()
	done := make(chan struct{})
	go func() {
		s.gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.gs.Stop()
		<-done
		return fmt.Errorf("alertsvc: shutdown: %w", ctx.Err())
	}
}

// Stop closes every connection at once.
func (s *Server) Stop() {
	s.endAll()
	s.gs.Stop()
}

func (s *Server) endAll() {
	s.mu.Lock()
	s.closing = true
	subs := make([]*subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	s.health.Shutdown()
	for _, sub := range subs {
		s.broker.endSubscription(sub, codes.Unavailable, "server shutting down")
	}
}

// cursorError is a status error with a CursorInfo detail.
func cursorError(code codes.Code, info *pb.CursorInfo, format string, args ...any) error {
	st := status.Newf(code, format, args...)
	if d, err := st.WithDetails(info); err == nil {
		st = d
	}
	return st.Err()
}

// Subscribe implements AlertService.Subscribe.
func (s *Server) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.AlertEvent]) error {
	f, err := compileFilter(req.GetFilter())
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "filter: %v", err)
	}
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return status.Error(codes.Unavailable, "server shutting down")
	}
	sub, start, err := s.broker.subscribe(f, req.Since)
	if err != nil {
		return err
	}
	defer s.broker.unsubscribe(sub)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return status.Error(codes.Unavailable, "server shutting down")
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()

	if err := stream.SendHeader(metadata.Pairs(CursorHeader, strconv.FormatUint(start, 10))); err != nil {
		return err
	}
	// The sender runs apart so that an ended subscription returns its
	// status even while the sender is blocked on a client that does not
	// read: returning cancels the stream, which releases the sender.
	errc := make(chan error, 1)
	go func() { errc <- s.pump(stream, sub) }()
	select {
	case err := <-errc:
		if errors.Is(err, errEnded) {
			return s.endStatus(sub)
		}
		return err
	case <-sub.done:
		select {
		case <-errc:
		case <-time.After(endGrace):
		}
		return s.endStatus(sub)
	}
}

// pump sends the events of sub until it ends or the stream breaks.
func (s *Server) pump(stream grpc.ServerStreamingServer[pb.AlertEvent], sub *subscription) error {
	ctx := stream.Context()
	buf := make([]*pb.AlertEvent, 0, fetchBatch)
	for {
		batch, more, ok := s.broker.fetch(sub, buf[:0])
		if !ok {
			return errEnded
		}
		if len(batch) == 0 && !more {
			select {
			case <-sub.wake:
			case <-sub.done:
				return errEnded
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
			continue
		}
		for _, ev := range batch {
			select {
			case <-sub.done:
				return errEnded
			default:
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
			sub.markSent(ev.GetSequence())
		}
		clear(batch)
	}
}

// endStatus is the status of a subscription the broker ended.
func (s *Server) endStatus(sub *subscription) error {
	code, msg := s.broker.endOf(sub)
	if code == codes.OK {
		code, msg = codes.Unavailable, "subscription ended"
	}
	last := sub.lastSent.Load()
	s.broker.mu.Lock()
	info := s.broker.cursorInfo(last)
	s.broker.mu.Unlock()
	return cursorError(code, info, "%s; resume with since=%d", msg, last)
}

// pageToken is the position of a ListAlerts page: after this sequence,
// for this filter.
func pageToken(after uint64, filterSum uint64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "v1:%d:%x", after, filterSum))
}

func parsePageToken(tok string) (after, filterSum uint64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, 0, errors.New("malformed page_token")
	}
	if _, err := fmt.Sscanf(string(b), "v1:%d:%x", &after, &filterSum); err != nil {
		return 0, 0, errors.New("malformed page_token")
	}
	return after, filterSum, nil
}

func filterSum(f *pb.AlertFilter) uint64 {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(f)
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// ListAlerts implements AlertService.ListAlerts.
func (s *Server) ListAlerts(_ context.Context, req *pb.ListAlertsRequest) (*pb.ListAlertsResponse, error) {
	f, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "filter: %v", err)
	}
	n := int(req.GetPageSize())
	switch {
	case n < 0:
		return nil, status.Errorf(codes.InvalidArgument, "page_size %d is negative", n)
	case n == 0:
		n = DefaultPageSize
	case n > MaxPageSize:
		n = MaxPageSize
	}
	sum := filterSum(req.GetFilter())
	var after uint64
	strict := false
	switch {
	case req.GetPageToken() != "":
		var tokSum uint64
		after, tokSum, err = parsePageToken(req.GetPageToken())
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		if tokSum != sum {
			return nil, status.Error(codes.InvalidArgument, "page_token belongs to a request with another filter")
		}
		strict = true
	case req.Since != nil:
		after, strict = req.GetSince(), true
	}
	evs, more, latest, oldest, err := s.broker.list(f, after, strict, n)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListAlertsResponse{Events: evs, LatestSequence: latest, OldestSequence: oldest}
	if more {
		resp.NextPageToken = pageToken(evs[len(evs)-1].GetSequence(), sum)
	}
	return resp, nil
}

// Classify implements AlertService.Classify.
func (s *Server) Classify(_ context.Context, req *pb.ClassifyRequest) (*pb.Verdict, error) {
	if s.cfg.Scorer == nil {
		return nil, status.Error(codes.Unimplemented, "this server does not classify (no model loaded)")
	}
	if req.GetUpdate() == nil {
		return nil, status.Error(codes.InvalidArgument, "update is missing")
	}
	b, err := proto.Marshal(req.GetUpdate())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "update: %v", err)
	}
	u, err := bgpfeed.UnmarshalUpdate(b, nil)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "update: %v", err)
	}
	if u.Kind != bgpfeed.KindAnnounce || u.Attrs == nil {
		return nil, status.Errorf(codes.InvalidArgument, "update: only an announcement with attributes can be scored, not a %v", u.Kind)
	}
	v, err := s.cfg.Scorer.Score(&u)
	switch {
	case errors.Is(err, ErrInvalidUpdate):
		return nil, status.Errorf(codes.InvalidArgument, "classify: %v", err)
	case err != nil:
		s.log.Error("alertsvc: classify", keyErr, err)
		return nil, status.Errorf(codes.Internal, "classify: %v", err)
	case v == nil:
		return nil, status.Error(codes.Internal, "classify: the scorer returned no verdict")
	}
	return v, nil
}

// GetModelInfo implements AlertService.GetModelInfo.
func (s *Server) GetModelInfo(context.Context, *pb.GetModelInfoRequest) (*pb.GetModelInfoResponse, error) {
	if s.cfg.ModelInfo == nil {
		return nil, status.Error(codes.Unimplemented, "this server has no model")
	}
	mi, err := s.cfg.ModelInfo.ModelInfo()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "model info: %v", err)
	}
	return &pb.GetModelInfoResponse{Model: mi}, nil
}

// recoverUnary and recoverStream turn a panic in a handler into INTERNAL.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("alertsvc: panic", keyMethod, info.FullMethod, keyErr, r)
			err = status.Errorf(codes.Internal, "internal error")
		}
	}()
	return h(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("alertsvc: panic", keyMethod, info.FullMethod, keyErr, r)
			err = status.Errorf(codes.Internal, "internal error")
		}
	}()
	return h(srv, ss)
}
