package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bgpsentry/bgpsentry/classifier/alertsvc"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// alertsFlags are the flags of bgpsentry alerts.
type alertsFlags struct {
	server        string
	types         listFlag
	prefixes      listFlag
	asns          listFlag
	minConfidence float64
	since         optUint
	json          bool
	once          bool
	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	tokenFile     string
	timeout       time.Duration
	pageSize      int
	retryMin      time.Duration
	retryMax      time.Duration
}

func (f *alertsFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", "127.0.0.1:50051", "bgpsentry gRPC server address `ADDR` (HOST:PORT)")
	fs.Var(&f.types, "type", "only alerts of this `TYPE`: ORIGIN_HIJACK, SUBPREFIX_HIJACK, PATH_HIJACK, ROUTE_LEAK or BOGON_ORIGIN\n(any case, '-' for '_'); repeat for several")
	fs.Var(&f.prefixes, "prefix", "only alerts about this exact `PREFIX` (its prefix, expected prefix or one of its\nprefixes), e.g. 203.0.113.0/24; with a '^+' suffix, anything inside it (the prefix\nand its more-specifics, as in RPSL), e.g. 203.0.112.0/22^+; repeat for several")
	fs.Var(&f.asns, "asn", "only alerts where this AS (`N`: 64500 or AS64500) is the suspect, the origin or an\nexpected origin; repeat for several")
	fs.Float64Var(&f.minConfidence, "min-confidence", 0, "only alerts with at least this confidence `X` (0 to 1)")
	fs.Var(&f.since, "since", "start after this cursor `N` (the sequence of the last event seen; 0 = everything\nthe server keeps) instead of with new events only")
	fs.BoolVar(&f.json, "json", false, "print JSON Lines (protojson of bgpsentry.v1.AlertEvent, proto field names)\ninstead of a table")
	fs.BoolVar(&f.once, "once", false, "print the events the server keeps (ListAlerts, with the filters and --since)\nand exit, instead of following the stream")
	fs.BoolVar(&f.tls, "tls", false, "use TLS, verifying the server with the system's CAs (implied by the other --tls-*\nflags)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "PEM `FILE` of the CA(s) that sign the server's certificate; implies TLS")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM `FILE` of a client certificate, for a server that requires one (mTLS); with --tls-key")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM `FILE` of the private key of --tls-cert")
	fs.StringVar(&f.tlsServerName, "tls-server-name", "", "`NAME` to verify in the server's certificate (default: the host of --server)")
	fs.StringVar(&f.tokenFile, "token-file", "", "`FILE` whose first token line is the bearer token (default: $"+alertsvc.TokenEnv+", if set)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "deadline of each ListAlerts call (--once)")
	fs.IntVar(&f.pageSize, "page-size", 500, "events per ListAlerts call (--once; the server caps it at 1000)")
	fs.DurationVar(&f.retryMin, "retry-min", 250*time.Millisecond, "first delay before reconnecting a lost stream; it doubles up to --retry-max")
	fs.DurationVar(&f.retryMax, "retry-max", 30*time.Second, "longest delay between reconnection attempts")
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// optUint is a uint64 flag that knows whether it was given.
type optUint struct {
	v   uint64
	set bool
}

func (o *optUint) String() string {
	if !o.set {
		return ""
	}
	return strconv.FormatUint(o.v, 10)
}

func (o *optUint) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return errors.New("not a cursor (an unsigned integer)")
	}
	o.v, o.set = v, true
	return nil
}

// filter turns the flags into an AlertFilter.
func (f *alertsFlags) filter() (*pb.AlertFilter, error) {
	out := &pb.AlertFilter{MinConfidence: f.minConfidence}
	if !(f.minConfidence >= 0 && f.minConfidence <= 1) { // NaN too
		return nil, fmt.Errorf("--min-confidence %v is not between 0 and 1", f.minConfidence)
	}
	for _, t := range f.types {
		name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(t), "-", "_"))
		v, ok := pb.AlertType_value[name]
		if !ok || v == 0 {
			return nil, fmt.Errorf("--type %q: want ORIGIN_HIJACK, SUBPREFIX_HIJACK, PATH_HIJACK, ROUTE_LEAK or BOGON_ORIGIN", t)
		}
		out.Types = append(out.Types, pb.AlertType(v))
	}
	for _, p := range f.prefixes {
		s, covering := strings.CutSuffix(strings.TrimSpace(p), "^+")
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--prefix %q: want a prefix such as 203.0.113.0/24, or 203.0.112.0/22^+ for anything inside it", p)
		}
		if covering {
			out.CoveringPrefixes = append(out.CoveringPrefixes, pfx.Masked().String())
		} else {
			out.Prefixes = append(out.Prefixes, pfx.Masked().String())
		}
	}
	for _, a := range f.asns {
		s := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(a)), "AS")
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--asn %q: want an AS number such as 64500 or AS64500", a)
		}
		out.Asns = append(out.Asns, uint32(n))
	}
	return out, nil
}

// bearer sends the token with every call.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// isLoopbackHost reports whether HOST:PORT names this machine.
func isLoopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// dialOptions builds the connection options from the flags.
func (f *alertsFlags) dialOptions() ([]grpc.DialOption, bool, error) {
	useTLS := f.tls || f.tlsCA != "" || f.tlsCert != "" || f.tlsKey != "" || f.tlsServerName != ""
	opts := []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: f.retryMin, Multiplier: 1.6, Jitter: 0.2, MaxDelay: f.retryMax},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if useTLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.tlsServerName}
		if f.tlsCA != "" {
			pem, err := os.ReadFile(f.tlsCA)
			if err != nil {
				return nil, false, fmt.Errorf("--tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, false, fmt.Errorf("--tls-ca %s holds no PEM certificate", f.tlsCA)
			}
			cfg.RootCAs = pool
		}
		if (f.tlsCert == "") != (f.tlsKey == "") {
			return nil, false, errors.New("--tls-cert and --tls-key go together")
		}
		if f.tlsCert != "" {
			pair, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
			if err != nil {
				return nil, false, fmt.Errorf("--tls-cert/--tls-key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	tokens, err := alertsvc.LoadTokens(f.tokenFile, alertsvc.TokenEnv)
	if err != nil {
		return nil, false, fmt.Errorf("--token-file: %w", err)
	}
	if len(tokens) > 0 {
		if !useTLS && !isLoopbackHost(f.server) {
			return nil, false, fmt.Errorf("refusing to send the bearer token in plaintext to %s: give --tls-ca (or --tls)", f.server)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: tokens[0], secure: useTLS}))
	}
	return opts, useTLS, nil
}

func runAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("alerts", "[flags]",
		`Prints the alert events of a bgpsentry server (gRPC bgpsentry.v1.AlertService) as
they arrive: a table, or JSON Lines with --json. Filters (--type, --prefix, --asn,
--min-confidence) are applied by the server; repeated flags of one kind match any
of their values, different kinds must all match. A lost stream is reconnected with
exponential backoff (--retry-min to --retry-max) and resumed from the last event
received, so no event is missed or printed twice; if the server no longer keeps
the events since then, a warning on stderr names the gap. Interrupt to stop.
With --once, prints the events the server keeps and exits.

TLS is used when any --tls* flag is given; a bearer token is read from
--token-file or $`+alertsvc.TokenEnv+`.`, stderr)
	var f alertsFlags
	f.bind(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bgpsentry alerts: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	filter, err := f.filter()
	if err != nil {
		return err
	}
	opts, useTLS, err := f.dialOptions()
	if err != nil {
		return err
	}
	cc, err := grpc.NewClient(f.server, opts...)
	if err != nil {
		return fmt.Errorf("--server %s: %w", f.server, err)
	}
	defer cc.Close()
	a := &alertsClient{
		f:      &f,
		c:      pb.NewAlertServiceClient(cc),
		filter: filter,
		useTLS: useTLS,
		out:    &eventPrinter{w: stdout, json: f.json},
		stderr: stderr,
	}
	if f.since.set {
		s := f.since.v
		a.cursor = &s
	}
	if f.once {
		return a.list(ctx)
	}
	return a.follow(ctx)
}

// alertsClient runs the alerts command against one server.
type alertsClient struct {
	f      *alertsFlags
	c      pb.AlertServiceClient
	filter *pb.AlertFilter
	useTLS bool
	out    *eventPrinter
	stderr io.Writer
	cursor *uint64 // the last event received (or the stream's start)
}

// list prints what ListAlerts returns, page after page.
func (a *alertsClient) list(ctx context.Context) error {
	req := &pb.ListAlertsRequest{Filter: a.filter, PageSize: int32(a.f.pageSize), Since: a.cursor}
	n := 0
	for {
		cctx, cancel := context.WithTimeout(ctx, a.f.timeout)
		resp, err := a.c.ListAlerts(cctx, req)
		cancel()
		if err != nil {
			if ci := cursorInfo(err); status.Code(err) == codes.OutOfRange && ci != nil && req.PageToken == "" {
				a.warnf("events %d to %d are gone from the server's history; listing from %d on", req.GetSince()+1, ci.OldestCursor, ci.OldestCursor)
				req.Since = &ci.OldestCursor
				continue
			}
			return a.describe(err)
		}
		for _, ev := range resp.Events {
			if err := a.out.print(ev); err != nil {
				return err
			}
			n++
		}
		if resp.NextPageToken == "" {
			break
		}
		req.PageToken = resp.NextPageToken
	}
	if n == 0 && !a.f.json {
		fmt.Fprintln(a.stderr, "bgpsentry alerts: no matching events")
	}
	return nil
}

// follow prints the stream, reconnecting with backoff until ctx ends.
func (a *alertsClient) follow(ctx context.Context) error {
	delay := time.Duration(0)
	userSince := a.cursor != nil
	for {
		connected, err := a.subscribe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var werr *writeError
		if errors.As(err, &werr) {
			return werr.err
		}
		if connected {
			delay = 0
			userSince = false
		}
		st := status.Convert(err)
		ci := cursorInfo(err)
		switch st.Code() {
		case codes.Unauthenticated, codes.PermissionDenied, codes.Unimplemented:
			return a.describe(err)
		case codes.InvalidArgument:
			if userSince || ci == nil || a.cursor == nil || *a.cursor <= ci.LatestSequence {
				return a.describe(err)
			}
			// Our cursor is ahead of the server's newest event: the server
			// lost its history (restarted without it).
			a.warnf("the server's newest event is %d, older than our cursor %d (did it restart with a fresh history?); following new events", ci.LatestSequence, *a.cursor)
			a.cursor = nil
			continue
		case codes.OutOfRange:
			if ci == nil {
				return a.describe(err)
			}
			from := uint64(0)
			if a.cursor != nil {
				from = *a.cursor
			}
			a.warnf("events %d to %d are gone from the server's history (missed); resuming from %d", from+1, ci.OldestCursor, ci.OldestCursor)
			oldest := ci.OldestCursor
			a.cursor = &oldest
			userSince = false
			continue
		}
		if err == nil {
			err = errors.New("stream ended")
		}
		delay = nextDelay(delay, a.f.retryMin, a.f.retryMax)
		cur := "new events"
		if a.cursor != nil {
			cur = "cursor " + strconv.FormatUint(*a.cursor, 10)
		}
		a.warnf("%v; reconnecting in %v from %s", a.describe(err), delay.Round(time.Millisecond), cur)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// subscribe runs one stream until it breaks; connected says whether the
// server accepted it.
func (a *alertsClient) subscribe(ctx context.Context) (connected bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := a.c.Subscribe(ctx, &pb.SubscribeRequest{Filter: a.filter, Since: a.cursor})
	if err != nil {
		return false, err
	}
	md, err := st.Header()
	if err != nil {
		return false, err
	}
	if v := md.Get(alertsvc.CursorHeader); len(v) == 1 {
		connected = true
		if n, err := strconv.ParseUint(v[0], 10, 64); err == nil && a.cursor == nil {
			a.cursor = &n
		}
	}
	for {
		ev, err := st.Recv()
		if err != nil {
			return connected, err
		}
		if a.cursor != nil && ev.Sequence <= *a.cursor {
			continue // never print an event twice
		}
		if err := a.out.print(ev); err != nil {
			return connected, &writeError{err}
		}
		seq := ev.Sequence
		a.cursor = &seq
	}
}

// writeError is a failure to print: it ends the command.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// nextDelay doubles the reconnection delay within [lo, hi], with ±20%
// jitter.
func nextDelay(d, lo, hi time.Duration) time.Duration {
	d = min(max(2*d, lo), hi)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (a *alertsClient) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "bgpsentry alerts: "+format+"\n", args...)
}

// describe turns a call error into a message that says what to do.
func (a *alertsClient) describe(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unavailable:
		msg := st.Message()
		switch {
		case strings.Contains(msg, "connection refused"):
			return fmt.Errorf("server %s unreachable: connection refused (is bgpsentry serving there?)", a.f.server)
		case strings.Contains(msg, "no such host"):
			return fmt.Errorf("server %s unreachable: no such host", a.f.server)
		case !a.useTLS && strings.Contains(msg, "connection error"):
			// A plaintext client meeting a TLS server fails this way.
			return fmt.Errorf("server %s unreachable: %s (if the server uses TLS, give --tls-ca or --tls)", a.f.server, msg)
		}
		return fmt.Errorf("server %s unavailable: %s", a.f.server, msg)
	case codes.Unauthenticated:
		return fmt.Errorf("server %s refused the credentials: %s (give --token-file, or set $%s)", a.f.server, st.Message(), alertsvc.TokenEnv)
	case codes.DeadlineExceeded:
		return fmt.Errorf("server %s did not answer within --timeout %v", a.f.server, a.f.timeout)
	case codes.Unimplemented:
		return fmt.Errorf("server %s does not serve bgpsentry alerts: %s", a.f.server, st.Message())
	case codes.ResourceExhausted:
		return fmt.Errorf("server %s: %s", a.f.server, st.Message())
	}
	return fmt.Errorf("server %s: %s: %s", a.f.server, st.Code(), st.Message())
}

// cursorInfo is the CursorInfo detail of a status error, or nil.
func cursorInfo(err error) *pb.CursorInfo {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if ci, ok := d.(*pb.CursorInfo); ok {
			return ci
		}
	}
	return nil
}

// eventPrinter writes events as a table or JSON Lines.
type eventPrinter struct {
	mu     sync.Mutex
	w      io.Writer
	json   bool
	header bool
}

const alertsTableFormat = "%-8s %-18s %-16s %-22s %-10s %-10s %-16s %5s %5s  %s\n"

func (p *eventPrinter) print(ev *pb.AlertEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, err := marshalJSON(ev)
		if err != nil {
			return err
		}
		_, err = p.w.Write(append(b, '\n'))
		return err
	}
	if !p.header {
		p.header = true
		if _, err := fmt.Fprintf(p.w, alertsTableFormat, "SEQ", "STATE", "TYPE", "PREFIX", "SUSPECT", "ORIGIN", "EXPECTED", "CONF", "PEERS", "LAST SEEN"); err != nil {
			return err
		}
	}
	exp := make([]string, len(ev.ExpectedOrigins))
	for i, a := range ev.ExpectedOrigins {
		exp[i] = "AS" + strconv.FormatUint(uint64(a), 10)
	}
	expected := strings.Join(exp, ",")
	if expected == "" {
		expected = "-"
	}
	prefix := ev.Prefix
	if ev.PrefixCount > 1 {
		prefix += fmt.Sprintf(" +%d", ev.PrefixCount-1)
	}
	last := "-"
	if ev.LastSeen != nil {
		last = ev.LastSeen.AsTime().UTC().Format(time.RFC3339)
	}
	state := ev.State.String()
	if ev.State == pb.AlertState_RESOLVED && ev.Resolution != "" {
		state += "(" + ev.Resolution + ")"
	}
	_, err := fmt.Fprintf(p.w, alertsTableFormat,
		strconv.FormatUint(ev.Sequence, 10), state, ev.Type.String(), prefix,
		"AS"+strconv.FormatUint(uint64(ev.SuspectAsn), 10), "AS"+strconv.FormatUint(uint64(ev.OriginAsn), 10),
		expected, strconv.FormatFloat(ev.Confidence, 'f', 2, 64), strconv.FormatUint(uint64(ev.PeerCount), 10), last)
	return err
}
