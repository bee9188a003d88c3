package speaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// Sentinel errors of the neighbour operations.
var (
	// ErrClosed is returned by AddNeighbor and RemoveNeighbor after Close.
	ErrClosed = errors.New("speaker: closed")
	// ErrUnknownPeer is returned by RemoveNeighbor for an address that is
	// not configured.
	ErrUnknownPeer = errors.New("speaker: no such neighbour")
)

// Session states (RFC 6396 numbering, as in bgpfeed.SessionState).
const (
	stateIdle        bgpfeed.SessionState = 1
	stateEstablished                      = bgpfeed.StateEstablished
)

// grRestartTime is the restart time of the Graceful Restart capability the
// speaker advertises (helper only) so that peers send End-of-RIB.
const grRestartTime = 120

// Speaker is an embedded GoBGP server that peers with routers, never
// advertises anything, and turns what each peer says into bgpfeed.Updates.
// It implements bgpfeed.Source. All methods are safe for concurrent use.
type Speaker struct {
	cfg    Config
	log    *slog.Logger
	srv    *server.BgpServer
	q      *queue
	cancel context.CancelFunc // stops the watcher

	mu      sync.Mutex // guards peers, dec, last*, closed and stopped; held by the watcher callback
	peers   map[netip.Addr]*peer
	dec     decoder
	closed  bool // Close began: no neighbour changes
	stopped bool // Close ended: events still in flight are ignored
	// lastIP/lastPeer cache the peer lookup by the text address GoBGP
	// gives in every path.
	lastIP   string
	lastPeer *peer

	announced, withdrawn, states atomic.Uint64
	unknownWithdraw, skipped     atomic.Uint64
	strayEvents                  atomic.Uint64
	lastDropLog                  atomic.Int64 // unix nanoseconds of the last drop warning
	loggedDrops                  atomic.Uint64
	closeOnce                    sync.Once
}

// peer is the speaker's view of one neighbour.
type peer struct {
	cfg    Neighbor
	asn    uint32 // as seen in the session (cfg.ASN unless it changed)
	state  bgpfeed.SessionState
	routes routeSet
	upAt   time.Time // when the session last became Established
	last   time.Time // time of the last route of the table transfer
	table  Family    // families whose table transfer is still running
	eor    Family    // families whose End-of-RIB arrived this session
}

// New validates cfg, starts the embedded BGP server with a reject-all
// export (and import) policy, starts watching, and adds cfg.Neighbors.
func New(ctx context.Context, cfg Config) (*Speaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Speaker{
		cfg:   cfg,
		log:   cfg.Logger.With("stage", "speaker", "source", cfg.Name),
		q:     newQueue(cfg.QueueSize),
		peers: make(map[netip.Addr]*peer),
		dec:   decoder{interner: cfg.Interner},
	}
	plainTCPListeners(s.log)
	s.srv = server.NewBgpServer(server.LoggerOption(newGoBGPLogger(cfg.Logger)))
	go s.srv.Serve()
	if err := s.start(ctx); err != nil {
		s.srv.Stop()
		return nil, err
	}
	for _, n := range cfg.Neighbors {
		if err := s.AddNeighbor(ctx, n); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Speaker) start(ctx context.Context) error {
	listen := make([]string, len(s.cfg.ListenAddrs))
	for i, a := range s.cfg.ListenAddrs {
		listen[i] = a.String()
	}
	err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:             s.cfg.ASN,
		RouterId:        s.cfg.RouterID.String(),
		ListenPort:      int32(s.cfg.ListenPort),
		ListenAddresses: listen,
	}})
	if err != nil {
		return fmt.Errorf("speaker: start bgp on %v port %d: %w", listen, s.cfg.ListenPort, err)
	}
	// Monitor only. GoBGP's default export policy is accept: without this a
	// collector re-advertises every peer's routes to every other peer.
	// Rejecting on import too keeps the global RIB (and best-path work)
	// empty; the pre-policy adj-RIB-in, which is what we watch, is kept.
	for _, dir := range []api.PolicyDirection{api.PolicyDirection_EXPORT, api.PolicyDirection_IMPORT} {
		err := s.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: dir, DefaultAction: api.RouteAction_REJECT,
		}})
		if err != nil {
			return fmt.Errorf("speaker: set global %s policy to reject: %w", dir, err)
		}
	}
	// Watch before any peer exists: GoBGP runs each watcher in its own
	// goroutine, and one watcher keeps peer-state and route events of a
	// peer in the order GoBGP handled them.
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	err = s.srv.WatchEvent(wctx, &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_ADJIN, Init: true},
			{Type: api.WatchEventRequest_Table_Filter_EOR, Init: true},
		}},
	}, s.onEvent)
	if err != nil {
		cancel()
		return fmt.Errorf("speaker: watch: %w", err)
	}
	return nil
}

// plainTCPListeners turns off Multipath TCP for listeners in this process
// unless GODEBUG already decides. Since Go 1.24 a zero net.ListenConfig,
// which GoBGP uses for its listener, makes an MPTCP socket where the
// kernel supports it, and Linux refuses TCP_MD5SIG (ENOPROTOOPT) and
// IP_TTL on MPTCP sockets: passive sessions with a password would never
// come up. A GODEBUG change made with os.Setenv applies at once.
func plainTCPListeners(log *slog.Logger) {
	var lc net.ListenConfig
	if !lc.MultipathTCP() {
		return
	}
	gd := os.Getenv("GODEBUG")
	if strings.Contains(gd, "multipathtcp=") {
		log.Warn("GODEBUG keeps Multipath TCP on for listeners: TCP-MD5 passwords and TTL settings fail on passive sessions", "GODEBUG", gd)
		return
	}
	if gd != "" {
		gd += ","
	}
	if err := os.Setenv("GODEBUG", gd+"multipathtcp=0"); err != nil {
		log.Warn("cannot turn Multipath TCP off for listeners", keyErr, err)
		return
	}
	log.Debug("Multipath TCP turned off for listeners (GODEBUG multipathtcp=0): TCP-MD5 needs plain TCP sockets")
}

// apiPeer is the GoBGP configuration of a neighbour.
func (s *Speaker) apiPeer(n Neighbor) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Addr.String(),
			PeerAsn:         n.ASN,
			AuthPassword:    n.Password,
			Description:     n.Description,
			// A monitor must see paths containing its own AS too (they are
			// evidence, and nothing is ever re-advertised): the most GoBGP
			// allows is 255 occurrences.
			AllowOwnAsn: 255,
		},
		Transport: &api.Transport{
			PassiveMode: n.Passive,
			RemotePort:  uint32(n.Port),
		},
		// Helper-only Graceful Restart: peers that send End-of-RIB only
		// to GR-capable neighbours (GoBGP, BIRD) then mark the end of
		// their table transfer.
		GracefulRestart: &api.GracefulRestart{Enabled: true, HelperOnly: true, RestartTime: grRestartTime},
	}
	if n.LocalAddr.IsValid() {
		p.Transport.LocalAddress = n.LocalAddr.String()
	}
	if n.MultihopTTL > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.MultihopTTL)}
	}
	for _, f := range []struct {
		fam Family
		afi api.Family_Afi
	}{{IPv4Unicast, api.Family_AFI_IP}, {IPv6Unicast, api.Family_AFI_IP6}} {
		if n.Families&f.fam == 0 {
			continue
		}
		fam := &api.Family{Afi: f.afi, Safi: api.Family_SAFI_UNICAST}
		as := &api.AfiSafi{
			Config:            &api.AfiSafiConfig{Family: fam, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}},
		}
		if n.MaxPrefixes > 0 {
			as.PrefixLimits = &api.PrefixLimit{Family: fam, MaxPrefixes: n.MaxPrefixes}
		}
		if n.AddPath {
			as.AddPaths = &api.AddPaths{Config: &api.AddPathsConfig{Receive: true}}
		}
		p.AfiSafis = append(p.AfiSafis, as)
	}
	return p
}

// AddNeighbor configures a new peer; the session starts at once.
func (s *Speaker) AddNeighbor(ctx context.Context, n Neighbor) error {
	if err := n.validate("Neighbor"); err != nil {
		return err
	}
	n = n.normalized()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, dup := s.peers[n.Addr]; dup {
		s.mu.Unlock()
		return &ConfigError{Field: "Neighbor.Addr", Value: n.Addr.String(), Err: fmt.Errorf("%w: already configured", ErrDuplicate)}
	}
	s.peers[n.Addr] = &peer{cfg: n, asn: n.ASN, state: stateIdle, routes: make(routeSet)}
	s.lastIP, s.lastPeer = "", nil
	s.mu.Unlock()
	if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.apiPeer(n)}); err != nil {
		s.mu.Lock()
		delete(s.peers, n.Addr)
		s.lastIP, s.lastPeer = "", nil
		s.mu.Unlock()
		return fmt.Errorf("speaker: add neighbour %s: %w", n.Addr, err)
	}
	s.log.Info("neighbour added", keyPeer, n.Addr, keyPeerAS, n.ASN, "passive", n.Passive, "families", n.Families.String(), "add_path", n.AddPath, "md5", n.Password != "")
	return nil
}

// RemoveNeighbor ends the session with addr (NOTIFICATION Cease) and
// forgets the peer. When the session was up, a KindState down Update and
// the withdrawal of all its routes follow.
func (s *Speaker) RemoveNeighbor(ctx context.Context, addr netip.Addr) error {
	addr = addr.Unmap()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, ok := s.peers[addr]; !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownPeer, addr)
	}
	s.mu.Unlock()
	err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()})
	s.mu.Lock()
	if p, ok := s.peers[addr]; ok {
		if p.state == stateEstablished {
			s.down(p, stateIdle, time.Now())
		}
		delete(s.peers, addr)
		s.lastIP, s.lastPeer = "", nil
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("speaker: remove neighbour %s: %w", addr, err)
	}
	s.log.Info("neighbour removed", keyPeer, addr)
	return nil
}

// Next returns the next Update: an announcement, a withdrawal, or a
// session state change. It waits for one until ctx is done, and returns
// io.EOF after Close once everything queued has been read.
func (s *Speaker) Next(ctx context.Context) (bgpfeed.Update, error) {
	return s.q.next(ctx)
}

// Close ends every session (NOTIFICATION Cease), stops the server and the
// watcher, and queues a KindState down Update and the withdrawals for each
// peer that was up, so that a consumer draining Next to io.EOF ends with
// an empty table. It is safe to call twice.
//
// GoBGP v3's Serve loop cannot be stopped: one idle goroutine per Speaker
// remains after Close.
func (s *Speaker) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.srv.Stop()
		s.cancel()
		s.mu.Lock()
		now := time.Now()
		for _, p := range s.peers {
			if p.state == stateEstablished {
				s.down(p, stateIdle, now)
			}
			p.state = stateIdle
		}
		s.stopped = true
		s.mu.Unlock()
		s.q.close()
	})
	return nil
}

// Discard drops every Update still queued (after Close, when the consumer
// will not read them).
func (s *Speaker) Discard() { s.q.discard() }

// onEvent is the watcher callback: GoBGP calls it from one goroutine, in
// the order it handled the events.
func (s *Speaker) onEvent(r *api.WatchEventResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	switch ev := r.GetEvent().(type) {
	case *api.WatchEventResponse_Peer:
		s.onPeer(ev.Peer)
	case *api.WatchEventResponse_Table:
		for _, p := range ev.Table.GetPaths() {
			s.onPath(p)
		}
	}
}

// lookup finds the peer a path or event belongs to; s.mu held.
func (s *Speaker) lookup(ip string) *peer {
	if ip == s.lastIP && s.lastPeer != nil {
		return s.lastPeer
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	p := s.peers[a.Unmap()]
	if p != nil {
		s.lastIP, s.lastPeer = ip, p
	}
	return p
}

// onPeer handles a session state change; s.mu held. Only changes into and
// out of Established are emitted: the Idle/Connect/Active cycling of a
// session that is down carries no routing information.
func (s *Speaker) onPeer(ev *api.WatchEventResponse_PeerEvent) {
	if ev.GetType() == api.WatchEventResponse_PeerEvent_END_OF_INIT {
		return
	}
	st := ev.GetPeer().GetState()
	p := s.lookup(st.GetNeighborAddress())
	if p == nil {
		s.strayEvents.Add(1)
		return
	}
	next := bgpfeed.SessionState(st.GetSessionState()) // GoBGP's API numbers states as RFC 6396 does
	if next == 0 || next == p.state {
		return
	}
	old := p.state
	p.state = next
	if a := st.GetPeerAsn(); a != 0 {
		p.asn = a
	}
	now := time.Now()
	switch {
	case old == stateEstablished:
		s.down(p, next, now)
	case next == stateEstablished:
		p.upAt, p.last = now, time.Time{}
		p.table, p.eor = p.cfg.Families, 0
		s.emitState(p, old, next, now)
		s.log.Info("session established", keyPeer, p.cfg.Addr, keyPeerAS, p.asn)
	}
}

// down emits the end of a session: the state change, then lazily the
// withdrawal of every route the peer had; s.mu held.
func (s *Speaker) down(p *peer, next bgpfeed.SessionState, now time.Time) {
	p.state = next
	p.table, p.eor = 0, 0
	s.emitState(p, stateEstablished, next, now)
	n := len(p.routes)
	if n > 0 {
		fl := &flush{
			tmpl: bgpfeed.Update{
				Time: now, Source: s.cfg.Name, Format: bgpfeed.FormatSession, Kind: bgpfeed.KindWithdraw,
				PeerAddr: p.cfg.Addr, PeerASN: p.asn,
			},
			routes: p.routes,
		}
		if s.q.pushControl(item{fl: fl}) {
			s.withdrawn.Add(uint64(n))
		} else {
			s.noteDrop()
		}
		p.routes = make(routeSet)
	}
	s.log.Info("session down", keyPeer, p.cfg.Addr, keyPeerAS, p.asn, keyState, int(next), keyRoutes, n)
}

func (s *Speaker) emitState(p *peer, old, next bgpfeed.SessionState, now time.Time) {
	u := bgpfeed.Update{
		Time: now, Source: s.cfg.Name, Format: bgpfeed.FormatSession, Kind: bgpfeed.KindState,
		PeerAddr: p.cfg.Addr, PeerASN: p.asn, OldState: old, NewState: next,
	}
	if s.q.pushControl(item{u: u}) {
		s.states.Add(1)
	} else {
		s.noteDrop()
	}
}

// onPath handles one path of the pre-policy adj-RIB-in; s.mu held.
func (s *Speaker) onPath(ap *api.Path) {
	p := s.lookup(ap.GetNeighborIp())
	if p == nil || p.state != stateEstablished {
		// A removed peer, or an event of an earlier session handled after
		// the peer was removed and added again: GoBGP reports paths of
		// established sessions only, after their state change.
		s.strayEvents.Add(1)
		return
	}
	fam := familyOf(ap.GetFamily())
	if ap.GetNlri() == nil { // End-of-RIB
		if fam != 0 && p.eor&fam == 0 {
			p.eor |= fam
			p.table &^= fam
			s.log.Debug("end of RIB", keyPeer, p.cfg.Addr, keyFamily, fam.String(), keyRoutes, len(p.routes))
		}
		return
	}
	pfx, err := decodePrefix(ap.GetNlri())
	if err != nil || fam == 0 {
		s.skipped.Add(1)
		return
	}
	t := receiveTime(ap, time.Now())
	k := keyOf(pfx, ap.GetIdentifier())
	u := bgpfeed.Update{
		Time: t, Source: s.cfg.Name, Format: bgpfeed.FormatSession,
		PeerAddr: p.cfg.Addr, PeerASN: p.asn, Prefix: pfx, PathID: ap.GetIdentifier(),
	}
	if ap.GetIsWithdraw() {
		if _, ok := p.routes[k]; !ok {
			s.unknownWithdraw.Add(1)
			return
		}
		delete(p.routes, k)
		u.Kind = bgpfeed.KindWithdraw
		if s.q.push(u) {
			s.withdrawn.Add(1)
		} else {
			s.noteDrop()
		}
		return
	}
	at, err := s.dec.attrs(ap.GetPattrs())
	if err != nil {
		s.skipped.Add(1)
		s.log.Warn("path skipped", keyPeer, p.cfg.Addr, "prefix", pfx, keyErr, err)
		return
	}
	p.routes[k] = struct{}{}
	u.Kind = bgpfeed.KindAnnounce
	u.Attrs = at
	u.Table = p.inTable(fam, t, s.cfg.QuietPeriod, s.cfg.MaxTableTransfer)
	if s.q.push(u) {
		s.announced.Add(1)
	} else {
		s.noteDrop()
	}
}

// receiveTime is when GoBGP received a path. GoBGP keeps whole seconds
// only, so the current time is used unless it is later than that second
// (a backlog, or the initial dump of routes received before).
func receiveTime(ap *api.Path, now time.Time) time.Time {
	age := ap.GetAge()
	if age == nil {
		return now
	}
	t := age.AsTime()
	if now.Sub(t) < time.Second && !now.Before(t) {
		return now
	}
	return t
}

// inTable reports whether an announcement at t in family fam belongs to
// the table transfer that follows the session coming up: until the
// family's End-of-RIB, a gap of quiet between two routes, or max after
// the session came up, whichever is first. The wait for the first route
// is not a gap: routers may take a while to start (gobgpd builds its
// whole ADD-PATH table first; Cisco's update-delay).
func (p *peer) inTable(fam Family, t time.Time, quiet, max time.Duration) bool {
	if p.table&fam == 0 {
		return false
	}
	if (!p.last.IsZero() && t.Sub(p.last) > quiet) || t.Sub(p.upAt) > max {
		p.table = 0
		return false
	}
	if t.After(p.last) {
		p.last = t
	}
	return true
}

// noteDrop logs dropped Updates, at most every 10 seconds.
func (s *Speaker) noteDrop() {
	now := time.Now().UnixNano()
	last := s.lastDropLog.Load()
	if now-last < int64(10*time.Second) || !s.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	d, dc := s.q.dropped.Load(), s.q.droppedControl.Load()
	s.log.Warn("queue full: updates dropped (consumer too slow)", keyCount, d, "control_dropped", dc,
		"since_last_warning", d+dc-s.loggedDrops.Swap(d+dc), "queue_size", s.cfg.QueueSize)
}

// PeerStats describe one neighbour.
type PeerStats struct {
	Addr          netip.Addr
	ASN           uint32
	Description   string
	State         bgpfeed.SessionState
	Routes        int    // routes the peer currently announces
	TableTransfer Family // families still in their initial table transfer
	EndOfRIB      Family // families whose End-of-RIB arrived this session
}

// Stats count what the speaker emitted and refused. Announced, Withdrawn
// and StateChanges count Updates queued (a session-down flush counts its
// withdrawals when it is queued).
type Stats struct {
	Announced, Withdrawn, StateChanges uint64
	// Dropped counts route Updates refused because the queue was full;
	// DroppedControl counts state changes and session-down flushes refused
	// because even the reserve above the bound was full.
	Dropped, DroppedControl uint64
	// UnknownWithdrawals are withdrawals of routes the peer had not
	// announced in this session: not emitted.
	UnknownWithdrawals uint64
	// Skipped are paths that could not be decoded or are not unicast.
	Skipped uint64
	// Stray are events for peers no longer configured.
	Stray    uint64
	QueueLen int // items waiting (a pending flush counts one)
	QueueCap int // route bound; control items may use 1024 more
	Peers    []PeerStats
}

// Stats returns the counters and each neighbour's state, sorted by address.
func (s *Speaker) Stats() Stats {
	st := Stats{
		Announced:          s.announced.Load(),
		Withdrawn:          s.withdrawn.Load(),
		StateChanges:       s.states.Load(),
		Dropped:            s.q.dropped.Load(),
		DroppedControl:     s.q.droppedControl.Load(),
		UnknownWithdrawals: s.unknownWithdraw.Load(),
		Skipped:            s.skipped.Load(),
		Stray:              s.strayEvents.Load(),
		QueueLen:           s.q.len(),
		QueueCap:           s.cfg.QueueSize,
	}
	s.mu.Lock()
	for _, p := range s.peers {
		st.Peers = append(st.Peers, PeerStats{
			Addr: p.cfg.Addr, ASN: p.asn, Description: p.cfg.Description, State: p.state,
			Routes: len(p.routes), TableTransfer: p.table, EndOfRIB: p.eor,
		})
	}
	s.mu.Unlock()
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].Addr.Less(st.Peers[j].Addr) })
	return st
}

// Peer returns the state of one neighbour.
func (s *Speaker) Peer(addr netip.Addr) (PeerStats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.peers[addr.Unmap()]
	if !ok {
		return PeerStats{}, false
	}
	return PeerStats{Addr: p.cfg.Addr, ASN: p.asn, Description: p.cfg.Description, State: p.state,
		Routes: len(p.routes), TableTransfer: p.table, EndOfRIB: p.eor}, true
}

// Addr is where the speaker accepts sessions (the first listen address).
func (s *Speaker) Addr() netip.AddrPort {
	if s.cfg.ListenPort == NoListen {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(s.cfg.ListenAddrs[0], uint16(s.cfg.ListenPort))
}

var _ bgpfeed.Source = (*Speaker)(nil)
