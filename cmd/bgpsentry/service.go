package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/bus"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker"
	"github.com/bgpsentry/bgpsentry/classifier"
	"github.com/bgpsentry/bgpsentry/classifier/alertsvc"
	"github.com/bgpsentry/bgpsentry/features"
	"github.com/bgpsentry/bgpsentry/internal/atomicfile"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// service is `bgpsentry serve`: sources (speaker, replay) → bus (in
// process, or Kafka) → features → classifier → events → sinks (stdout,
// gRPC, Kafka alerts), with metrics and state snapshots.
type service struct {
	cfg    serveConfig
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer

	clf    *classifier.Classifier
	cache  *classifier.Cache // the consumer's, under stMu
	in     *bgpfeed.Interner
	stMu   sync.RWMutex // Observe under Lock, Classify's Featurize under RLock
	st     *features.State
	ev     *classifier.Eventer
	broker *alertsvc.Broker
	m      *metrics

	out      *bufio.Writer
	outMu    sync.Mutex
	alertsKW *kafka.AlertWriter
	// cur is the update being processed (the emit callback runs inside
	// Add and Route on the consumer goroutine).
	cur *bgpfeed.Update
	// curWritten is when cur was written to bgp.updates (its record's
	// timestamp; zero without Kafka).
	curWritten time.Time
	// datesChecked: the baselines' dates were compared with the first
	// update's (baselineDateWarning), once.
	datesChecked bool
	emitErr      error
	audit        *auditLog // --kafka.audit
	// restoredSeq is the last event sequence of the restored snapshot.
	restoredSeq uint64
	// configPath is --config (SIGHUP reloads its neighbours); flagNeighbors
	// are those of --neighbor, kept across reloads.
	configPath    string
	flagNeighbors []neighborConfig
}

// snapshotMeta is what a state snapshot needs beside the feature state:
// the event sequence (cursors stay increasing across restarts).
type snapshotMeta struct {
	Sequence uint64    `json:"sequence"`
	Saved    time.Time `json:"saved"`
	Updates  int64     `json:"updates"`
}

func metaPath(snapshot string) string { return snapshot + ".meta.json" }

// newLogger is the service's slog logger on stderr.
func newLogger(c logConfig, stderr io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func (c *serveConfig) stateFlags() stateFlags {
	return stateFlags{
		baselines: c.State.Baselines, asrel: c.State.ASRel, asorg: c.State.ASOrg, rpki: c.State.RPKI,
		warmup: c.State.Warmup.D(), burst: c.State.BurstWindow.D(), state: c.State.Snapshot, infer: c.State.InferRelations,
		cache: c.State.TableCache,
	}
}

func (c *serveConfig) kafkaFlags() kafka.Flags {
	return kafka.Flags{
		Config: kafka.Config{
			Brokers: c.Kafka.Brokers, Partitions: c.Kafka.Partitions, ReplicationFactor: c.Kafka.Replication,
			ClientID: "bgpsentry-serve",
		},
		UpdatesTopic: c.Kafka.UpdatesTopic, AlertsTopic: c.Kafka.AlertsTopic, Group: c.Kafka.Group,
		Compression: kafka.Compression(c.Kafka.Compression), StartAtEnd: c.Kafka.StartAtEnd,
		SessionTimeout: c.Kafka.SessionTimeout.D(),
	}
}

// run runs the service until ctx ends (or the replay, with exit_after).
func (s *service) run(ctx context.Context) (err error) {
	cfg := &s.cfg
	log := s.log
	s.m = newMetrics()
	if s.clf, err = loadClassifier(cfg.Model); err != nil {
		return err
	}
	th, err := cfg.Events.thresholds()
	if err != nil {
		return err
	}
	th.apply(s.clf)
	s.cache = classifier.NewCache(s.clf, 0)
	s.m.modelInfo(s.clf)
	sf := cfg.stateFlags()
	restored := false
	if sf.state != "" {
		if _, err := os.Stat(sf.state); err == nil {
			restored = true
		}
	}
	if s.st, err = sf.newState(ctx, nil, mrt.Options{}, s.stderr); err != nil {
		return err
	}
	s.in = bgpfeed.NewInterner(0)
	if restored {
		meta, err := readMeta(sf.state)
		if err != nil {
			return err
		}
		s.restoredSeq = meta.Sequence
		log.Info("state restored", "snapshot", sf.state, "prefixes", s.st.Prefixes(), "links", s.st.Links(), "sequence", meta.Sequence, "saved", meta.Saved)
		if len(sf.baselines) > 0 {
			log.Info("baselines not loaded: the restored snapshot already holds the state", "baselines", len(sf.baselines))
		}
	} else if len(sf.baselines) > 0 {
		t0 := time.Now()
		n, err := loadBaselines(ctx, s.st, sf.baselines, s.in, false, sf.cacheDir(), s.stderr, s.stderr)
		if err != nil {
			return err
		}
		log.Info("baseline loaded", "entries", n, "prefixes", s.st.Prefixes(), "took", time.Since(t0).Round(time.Millisecond))
	}
	if err := sf.finish(s.st); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var stops []func() // in order, before waiting for the goroutines
	stopAll := sync.OnceFunc(func() {
		cancel()
		for _, stop := range stops {
			stop()
		}
	})
	defer func() {
		stopAll()
		wg.Wait()
	}()
	fatal := make(chan error, 4)
	fail := func(err error) {
		select {
		case fatal <- err:
		default:
		}
		cancel()
	}

	// Metrics.
	if cfg.Metrics.Listen != "" {
		srv, addr, err := s.m.serve(cfg.Metrics.Listen, log)
		if err != nil {
			return err
		}
		log.Info("Prometheus metrics", "addr", "http://"+addr+"/metrics")
		stops = append(stops, func() {
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			srv.Shutdown(sctx)
		})
	}

	// Alert sinks.
	s.broker = alertsvc.NewBroker(alertsvc.BrokerConfig{
		HistorySize: cfg.GRPC.History, HistoryAge: cfg.GRPC.HistoryAge.D(), QueueSize: cfg.GRPC.QueueSize,
		StartSequence: s.restoredSeq, Logger: log,
	})
	s.out = bufio.NewWriter(s.stdout)
	kf := cfg.kafkaFlags()
	kf.Logger = log
	useKafka := kf.Enabled()
	if useKafka && cfg.Kafka.Classify {
		if s.alertsKW, err = kafka.NewAlertWriter(ctx, kf.AlertWriter()); err != nil {
			return err
		}
		log.Info("Kafka alerts topic", "topic", s.alertsKW.Topic(), "brokers", kf.Brokers)
		stops = append(stops, func() { s.alertsKW.Close() })
	}
	s.ev = classifier.NewEventer(classifier.EventerConfig{
		MinPeers: cfg.Events.MinPeers, MinWeakPeers: cfg.Events.MinWeakPeers, MinLeakPrefixes: cfg.Events.MinLeakPrefixes,
		MinWeakShare: weakShare(cfg.Events.MinWeakShare), Quiet: cfg.Events.Quiet.D(), Pending: cfg.Events.Pending.D(),
		Memory: cfg.Events.Memory.D(), SharedSource: sharedSource(cfg.Events.SharedSource.D()),
	}, func(e *pb.AlertEvent) { s.emit(ctx, e) })
	s.ev.SetSequence(s.restoredSeq)
	s.m.reg.MustRegister(eventerStats{s})
	if cfg.GRPC.Listen != "" {
		if err := s.startGRPC(ctx, &wg, &stops, fail); err != nil {
			return err
		}
	}

	// The bus: sources write into it; without Kafka the classifier reads
	// it, with Kafka a forwarder moves it into bgp.updates.
	b := bus.New(cfg.Bus.Size)
	stops = append(stops, func() { b.Close() })
	s.m.busLen = func() float64 { return float64(b.Stats().Len) }
	sources := 0
	var sp *speaker.Speaker
	if cfg.BGP.Listen != "" || len(cfg.BGP.Neighbors) > 0 {
		if sp, err = s.startSpeaker(ctx); err != nil {
			return err
		}
		sources++
		stops = append(stops, func() { sp.Close() })
		s.m.speaker = sp
		if s.configPath != "" {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			stops = append(stops, func() { signal.Stop(hup) })
			s.log.Info("SIGHUP reloads the neighbours of the config file", "config", s.configPath)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						s.reloadNeighbors(ctx, sp)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pump(ctx, sp, b, log, "speaker", s.m)
		}()
	}
	replayDone := make(chan struct{})
	if len(cfg.Replay.Paths) > 0 {
		sources++
		r, err := openUpdates(cfg.Replay.Paths, mrt.Options{Interner: s.in})
		if err != nil {
			return err
		}
		stops = append(stops, func() { r.Close() })
		speed, _ := speedFactor(cfg.Replay.Speed)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(replayDone)
			var src bgpfeed.Source = r
			if speed > 0 {
				src = newPacedSource(r, speed)
			}
			t0 := time.Now()
			n := pump(ctx, src, b, log, "replay", s.m)
			stt := r.Stats()
			log.Info("replay finished", "updates", n, "skipped", stt.TotalSkipped(), "took", time.Since(t0).Round(time.Millisecond))
		}()
	} else {
		close(replayDone)
	}
	var producer *kafka.Producer
	if useKafka && sources > 0 {
		if producer, err = kafka.NewProducer(ctx, kf.Producer()); err != nil {
			return err
		}
		stops = append(stops, func() { producer.Close() })
		log.Info("Kafka updates producer", "topic", producer.Topic(), "brokers", kf.Brokers)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := forward(ctx, b, producer, s.m); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("kafka producer: %w", err))
			}
		}()
	}

	var src bgpfeed.Source = b
	var consumer *kafka.Consumer
	if useKafka {
		if !cfg.Kafka.Classify {
			log.Info("producer only (kafka.classify false): not classifying")
			src = nil
		} else {
			ccfg := kf.Consumer()
			ccfg.Interner = s.in
			ccfg.OnAssign = func(a kafka.Assignment) {
				log.Info("Kafka partitions assigned", "generation", a.Generation, "partitions", a.Partitions, "added", a.Added, "revoked", a.Revoked)
			}
			if consumer, err = kafka.NewConsumer(ctx, ccfg); err != nil {
				return err
			}
			if cfg.Kafka.Audit != "" {
				if s.audit, err = openAudit(cfg.Kafka.Audit); err != nil {
					consumer.Close()
					return err
				}
				defer func() {
					if err := s.audit.close(); err != nil {
						log.Error("Kafka audit", "err", err)
					}
				}()
			}
			stops = append(stops, func() { consumer.Close() })
			log.Info("Kafka updates consumer", "topic", kf.UpdatesTopic, "group", kf.Group)
			src = consumer
		}
	}
	if cfg.Replay.ExitAfter {
		go func() {
			select {
			case <-replayDone:
			case <-ctx.Done():
				return
			}
			// Let the pipeline drain (the bus, and the Kafka round trip),
			// then stop.
			for ctx.Err() == nil {
				st := b.Stats()
				drained := st.Len == 0
				if producer != nil {
					// Read from the bus is not yet acknowledged by Kafka:
					// wait for the forwarder's last write.
					drained = drained && uint64(s.m.forwarded.Load()) >= st.Written
				}
				if producer != nil && consumer != nil {
					drained = drained && s.m.processed.Load() >= s.m.forwarded.Load()
				}
				if drained {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			cancel()
		}()
	}

	// Periodic snapshots.
	if sf.state != "" && cfg.State.SnapshotInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(cfg.State.SnapshotInterval.D())
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := s.snapshot(); err != nil {
						log.Error("snapshot", "err", err)
					}
				}
			}
		}()
	}

	if src == nil {
		<-ctx.Done()
	} else if err := s.consume(ctx, src, consumer); err != nil {
		fail(err)
	}
	stopAll()
	wg.Wait()
	if s.out != nil {
		s.outMu.Lock()
		s.out.Flush()
		s.outMu.Unlock()
	}
	obs, scored, learned := s.st.Counts()
	log.Info("stopped", "updates", s.m.processed.Load(), "observed", obs, "scored", scored, "learned", learned,
		"stale", s.st.Stale(), "alerts_opened", s.ev.Opened, "events", s.ev.Sequence()-s.restoredSeq)
	select {
	case err := <-fatal:
		return err
	default:
	}
	if sf.state != "" {
		if err := s.snapshot(); err != nil {
			return err
		}
		log.Info("state saved", "snapshot", sf.state)
	}
	return nil
}

// consume is the classifier loop: one goroutine, the only writer of the
// state and the eventer.
//
// With Kafka it commits the consumed offsets every commit interval, also
// when the stream pauses, and at a clean stop: emit writes the events an
// update causes to bgp.alerts synchronously, so every update returned
// before a commit has its events written. When the loop ends on an error
// (an event not written, a classifier failure) it does not commit: the
// update being processed, and what came after the last commit, are read
// again by whoever owns the partition next (at-least-once).
func (s *service) consume(ctx context.Context, src bgpfeed.Source, consumer *kafka.Consumer) (err error) {
	vec := make([]float64, features.NumFeatures)
	var lastCommit time.Time
	interval := s.cfg.Kafka.CommitInterval.D()
	dirty := false // records processed since the last commit
	// due ends when the next commit is due: Next waits no longer while
	// records are uncommitted. One per commit interval.
	var due struct {
		ctx    context.Context
		cancel context.CancelFunc
	}
	endDue := func() {
		if due.cancel != nil {
			due.cancel()
		}
		due.ctx, due.cancel = nil, nil
	}
	defer endDue()
	commit := func() {
		lastCommit = time.Now()
		endDue()
		if consumer == nil || !dirty {
			return
		}
		// The audit lines go out before the offsets they cover are
		// committed (no commit when they cannot).
		if s.audit != nil {
			if err := s.audit.flush(); err != nil {
				s.log.Error("Kafka audit: not committing", "err", err)
				return
			}
		}
		// Every update returned so far has its effects in the state and
		// its events written (emit writes to Kafka synchronously).
		cctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		if err := consumer.Commit(cctx); err != nil {
			s.log.Warn("Kafka commit", "err", err)
			return
		}
		dirty = false
	}
	defer func() {
		if err == nil {
			commit()
		}
	}()
	for {
		var u bgpfeed.Update
		var rec kafka.Record
		if consumer != nil {
			// Wait for a record at most until the next commit is due, so
			// that a pause in the stream does not leave offsets uncommitted.
			nctx := ctx
			if dirty {
				if due.ctx == nil {
					due.ctx, due.cancel = context.WithDeadline(ctx, lastCommit.Add(interval))
				}
				nctx = due.ctx
			}
			rec, err = consumer.NextRecord(nctx)
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				commit()
				continue
			}
			u = rec.Update
		} else {
			u, err = src.Next(ctx)
		}
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) || errors.Is(err, kafka.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.stMu.Lock()
		s.cur, s.curWritten = &u, rec.Time
		if consumer != nil {
			s.ev.SetShard(rec.Partition)
		}
		c := s.st.Observe(&u, vec)
		if !s.datesChecked {
			if _, ok := s.st.FirstLive(); ok {
				s.datesChecked = true
				if w := baselineDateWarning(s.st); w != "" {
					s.log.Warn(w)
				}
			}
		}
		if c != nil {
			s.m.scored.Inc()
			v, err := s.cache.Classify(vec)
			if err != nil {
				s.stMu.Unlock()
				return err
			}
			k, err := judge(s.clf, s.ev, c, v, vec)
			if err != nil {
				s.stMu.Unlock()
				return err
			}
			if k != classifier.Benign {
				s.m.flagged.WithLabelValues(k.String()).Inc()
			}
		}
		s.ev.Route(&u)
		s.cur, s.curWritten = nil, time.Time{}
		s.stMu.Unlock()
		if s.emitErr != nil {
			return s.emitErr
		}
		s.m.processed.Add(1)
		s.m.processedKind(u.Kind).Inc()
		if consumer != nil {
			dirty = true
			if !rec.Time.IsZero() {
				s.m.kafkaLatency.Observe(time.Since(rec.Time).Seconds())
			}
			if s.audit != nil {
				s.audit.record(rec.Partition, rec.Offset)
			}
			if time.Since(lastCommit) >= interval {
				commit()
			}
		}
	}
}

// auditLog is --kafka.audit: one line "partition offset" per record the
// classifier processed, appended; flushed (and synced) before every offset
// commit, so that the file holds at least every committed record this
// process processed. A testing and auditing aid: the union of the files of
// a group's members must cover every offset of the topic.
type auditLog struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

func openAudit(path string) (*auditLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kafka.audit: %w", err)
	}
	return &auditLog{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (a *auditLog) record(partition int, offset int64) {
	a.buf = strconv.AppendInt(a.buf[:0], int64(partition), 10)
	a.buf = append(a.buf, ' ')
	a.buf = strconv.AppendInt(a.buf, offset, 10)
	a.buf = append(a.buf, '\n')
	a.w.Write(a.buf)
}

func (a *auditLog) flush() error {
	if err := a.w.Flush(); err != nil {
		return err
	}
	return a.f.Sync()
}

func (a *auditLog) close() error {
	err := a.flush()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// emit sends one event to every sink; it runs on the consumer goroutine.
func (s *service) emit(ctx context.Context, e *pb.AlertEvent) {
	s.m.events.WithLabelValues(e.GetType().String(), e.GetState().String()).Inc()
	if u := s.cur; u != nil && e.GetState() == pb.AlertState_OPEN && u.Format == bgpfeed.FormatSession {
		s.m.latency.Observe(time.Since(u.Time).Seconds())
	}
	if s.alertsKW != nil {
		defer func() {
			if w := s.curWritten; !w.IsZero() && s.emitErr == nil {
				s.m.kafkaEventLatency.Observe(time.Since(w).Seconds())
			}
		}()
		// At-least-once: the offsets of the updates behind this event are
		// committed only after it is written, so keep trying.
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := s.alertsKW.Write(ctx, e)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				s.emitErr = fmt.Errorf("alert %s not written to Kafka before shutdown: %w", e.GetId(), err)
				return
			}
			s.log.Warn("Kafka alerts write failed; retrying", "id", e.GetId(), "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
		}
	}
	s.broker.Publish(e)
	if s.cfg.Output.Stdout {
		line, err := marshalJSON(e)
		if err != nil {
			return
		}
		s.outMu.Lock()
		s.out.Write(append(line, '\n'))
		s.out.Flush()
		s.outMu.Unlock()
	}
}

// classifyScorer answers the gRPC Classify call against the live state.
func (s *service) featurize(u *bgpfeed.Update, vec []float64) (*features.Candidate, error) {
	s.stMu.RLock()
	defer s.stMu.RUnlock()
	c, err := s.st.Featurize(u, vec)
	if errors.Is(err, features.ErrNotScorable) {
		return nil, fmt.Errorf("%w: %v", alertsvc.ErrInvalidUpdate, err)
	}
	return c, err
}

func (s *service) startGRPC(ctx context.Context, wg *sync.WaitGroup, stops *[]func(), fail func(error)) error {
	g := s.cfg.GRPC
	acfg := alertsvc.Config{
		Logger: s.log, ModelInfo: alertsvc.ClassifierModelInfo(s.clf),
		Scorer:                   alertsvc.ClassifierScorer(s.clf, s.featurize),
		AllowInsecureNonLoopback: g.AllowInsecure,
	}
	if g.TLSCert != "" {
		tc, err := alertsvc.ServerTLS(g.TLSCert, g.TLSKey, g.ClientCA)
		if err != nil {
			return fmt.Errorf("grpc: %w", err)
		}
		acfg.TLS = tc
	}
	if g.TokenFile != "" || os.Getenv(alertsvc.TokenEnv) != "" {
		toks, err := alertsvc.LoadTokens(g.TokenFile, alertsvc.TokenEnv)
		if err != nil {
			return fmt.Errorf("grpc: %w", err)
		}
		acfg.Tokens = toks
	}
	srv, err := alertsvc.New(s.broker, acfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", g.Listen)
	if err != nil {
		return fmt.Errorf("grpc: %w", err)
	}
	s.log.Info("gRPC alert service", "addr", lis.Addr().String(), "tls", acfg.TLS != nil, "tokens", len(acfg.Tokens))
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(lis); err != nil && ctx.Err() == nil {
			fail(fmt.Errorf("grpc: %w", err))
		}
	}()
	*stops = append(*stops, func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(sctx)
	})
	return nil
}

func (s *service) startSpeaker(ctx context.Context) (*speaker.Speaker, error) {
	c := s.cfg.BGP
	cfg := speaker.Config{ASN: c.ASN, Logger: s.log, Interner: s.in}
	var err error
	if cfg.RouterID, err = netip.ParseAddr(c.RouterID); err != nil {
		return nil, fmt.Errorf("bgp.router_id: %w", err)
	}
	for _, n := range c.Neighbors {
		nb, err := n.neighbor()
		if err != nil {
			return nil, err
		}
		cfg.Neighbors = append(cfg.Neighbors, nb)
	}
	if c.Listen != "" {
		ap, err := netip.ParseAddrPort(c.Listen)
		if err != nil {
			return nil, fmt.Errorf("bgp.listen: %w", err)
		}
		cfg.ListenAddrs, cfg.ListenPort = []netip.Addr{ap.Addr()}, int(ap.Port())
	} else {
		cfg.ListenPort = speaker.NoListen
	}
	sp, err := speaker.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.log.Info("BGP speaker", "addr", sp.Addr().String(), "asn", c.ASN, "neighbors", len(cfg.Neighbors))
	return sp, nil
}

// reloadNeighbors applies the neighbours of the config file, read again,
// to the running speaker: removed ones are removed, new ones added,
// changed ones replaced; the --neighbor ones stay. A file that does not
// load changes nothing.
func (s *service) reloadNeighbors(ctx context.Context, sp *speaker.Speaker) {
	c := defaultServeConfig()
	if err := loadServeConfig(s.configPath, &c); err != nil {
		s.log.Error("reload refused; the neighbours are unchanged", "err", err)
		return
	}
	want := map[netip.Addr]speaker.Neighbor{}
	for _, nc := range append(c.BGP.Neighbors, s.flagNeighbors...) {
		n, err := nc.neighbor()
		if err != nil {
			s.log.Error("reload refused; the neighbours are unchanged", "err", err)
			return
		}
		want[n.Addr] = n
	}
	have := map[netip.Addr]speaker.Neighbor{}
	for _, nc := range s.cfg.BGP.Neighbors {
		if n, err := nc.neighbor(); err == nil {
			have[n.Addr] = n
		}
	}
	added, removed, changed := 0, 0, 0
	for a, n := range have {
		if w, ok := want[a]; !ok || !reflect.DeepEqual(w, n) {
			if err := sp.RemoveNeighbor(ctx, a); err != nil {
				s.log.Error("reload: remove neighbour", "peer", a, "err", err)
				continue
			}
			if ok {
				changed++
			} else {
				removed++
			}
		}
	}
	for a, n := range want {
		if h, ok := have[a]; ok && reflect.DeepEqual(h, n) {
			continue
		}
		if err := sp.AddNeighbor(ctx, n); err != nil {
			s.log.Error("reload: add neighbour", "peer", a, "err", err)
			continue
		}
		if _, ok := have[a]; !ok {
			added++
		}
	}
	s.cfg.BGP.Neighbors = append(c.BGP.Neighbors, s.flagNeighbors...)
	s.log.Info("neighbours reloaded", "config", s.configPath, "added", added, "removed", removed, "changed", changed, "neighbors", len(want))
}

// snapshot writes the state and its metadata, each atomically (temporary
// file, then rename), under the state's read lock.
func (s *service) snapshot() error {
	path := s.cfg.State.Snapshot
	s.stMu.RLock()
	err := s.st.SaveFile(path)
	meta := snapshotMeta{Sequence: s.ev.Sequence(), Saved: time.Now().UTC(), Updates: s.m.processed.Load()}
	s.stMu.RUnlock()
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	s.m.snapshots.Inc()
	return atomicfile.Write(metaPath(path), true, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(meta)
	})
}

func readMeta(snapshot string) (snapshotMeta, error) {
	var m snapshotMeta
	data, err := os.ReadFile(metaPath(snapshot))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil // a snapshot written by score: no events yet
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", metaPath(snapshot), err)
	}
	return m, nil
}

// pump copies a source into the bus until it ends or ctx is done, and
// returns how many updates it wrote.
func pump(ctx context.Context, src bgpfeed.Source, b *bus.Bus, log *slog.Logger, name string, m *metrics) int64 {
	var n int64
	c := m.received.WithLabelValues(name)
	for {
		u, err := src.Next(ctx)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				log.Error(name, "err", err)
			}
			return n
		}
		if err := b.Write(ctx, u); err != nil {
			return n
		}
		c.Inc()
		n++
	}
}

// forward moves the bus into Kafka in batches (a Producer.Write costs a
// round trip whatever its size).
func forward(ctx context.Context, b *bus.Bus, p *kafka.Producer, m *metrics) error {
	batch := make([]bgpfeed.Update, 0, 4096)
	for {
		u, err := b.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		batch = append(batch[:0], u)
		for n := min(b.Stats().Len, cap(batch)-1); n > 0; n-- {
			u, err := b.Next(ctx)
			if err != nil {
				break
			}
			batch = append(batch, u)
		}
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := p.Write(ctx, batch...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return err
			}
			m.kafkaErrors.Inc()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
		}
		m.forwarded.Add(int64(len(batch)))
	}
}

// pacedSource replays a source at a multiple of real time, following the
// updates' timestamps (replay's pacer).
type pacedSource struct {
	src bgpfeed.Source
	p   pacer
}

func newPacedSource(src bgpfeed.Source, speed float64) *pacedSource {
	return &pacedSource{src: src, p: pacer{speed: speed, now: time.Now}}
}

func (ps *pacedSource) Next(ctx context.Context) (bgpfeed.Update, error) {
	u, err := ps.src.Next(ctx)
	if err != nil {
		return u, err
	}
	if d, _ := ps.p.wait(u.Time); d > 0 {
		if err := sleepCtx(ctx, d); err != nil {
			return u, err
		}
	}
	return u, nil
}
