package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/bus"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker"
	"github.com/bgpsentry/bgpsentry/classifier"
	"github.com/bgpsentry/bgpsentry/classifier/alertsvc"
	"github.com/bgpsentry/bgpsentry/features"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// neighborList is the repeatable --neighbor ADDR,ASN[,passive] flag.
type neighborList []speaker.Neighbor

func (l *neighborList) String() string { return fmt.Sprint(len(*l), " neighbors") }

func (l *neighborList) Set(v string) error {
	parts := strings.Split(v, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("want ADDR,ASN[,passive], got %q", v)
	}
	addr, err := netip.ParseAddr(parts[0])
	if err != nil {
		return fmt.Errorf("neighbor address: %w", err)
	}
	asn, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return fmt.Errorf("neighbor ASN %q: %w", parts[1], err)
	}
	n := speaker.Neighbor{Addr: addr, ASN: uint32(asn)}
	if len(parts) == 3 {
		if parts[2] != "passive" {
			return fmt.Errorf("neighbor option %q: only 'passive' is known", parts[2])
		}
		n.Passive = true
	}
	*l = append(*l, n)
	return nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[flags]",
		`Runs bgpsentry as a service on the embedded default (one process, no other
services): an embedded, monitor-only GoBGP speaker that peers with routers
(it never advertises a route), an optional MRT replay, the feature state,
the classifier, and the alert events, written to stdout as JSON Lines and
served over gRPC (bgpsentry.v1.AlertService; 'bgpsentry alerts' is a
client). Stop it with Ctrl-C (SIGINT) or SIGTERM: the state is saved to
--state when given.`, stderr)
	var sf stateFlags
	sf.bind(fs)
	fs.Lookup("infer-relations").DefValue = "warmup"
	_ = fs.Set("infer-relations", "warmup")
	modelDir := fs.String("model", "", "model directory (default: the embedded model)")
	listen := fs.String("bgp.listen", "127.0.0.1:1179", "address:port the speaker accepts BGP sessions on ('' = no listener)")
	asn := fs.Uint("bgp.asn", 64512, "the speaker's own AS number (never advertised; paths containing it are accepted)")
	routerID := fs.String("bgp.router-id", "127.0.0.1", "the speaker's BGP identifier (an IPv4 address)")
	var neighbors neighborList
	fs.Var(&neighbors, "neighbor", "a BGP neighbour ADDR,ASN[,passive] (repeatable); without neighbours the speaker only accepts sessions it is told about")
	var replay stringList
	fs.Var(&replay, "replay", "MRT files or directories to replay into the bus as fast as they decode (repeatable)")
	exitAfterReplay := fs.Bool("exit-after-replay", false, "stop when the replay ends (for batch runs and tests)")
	grpcListen := fs.String("grpc.listen", "127.0.0.1:50051", "address:port of the gRPC alert service ('' = none); plaintext only on loopback")
	minPeers := fs.Int("min-peers", 2, "distinct peers that must carry an alert before it opens")
	busSize := fs.Int("bus.size", 65536, "capacity of the in-process update bus")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clf, err := loadClassifier(*modelDir)
	if err != nil {
		return err
	}
	st, err := sf.newState(ctx, nil, stderr)
	if err != nil {
		return err
	}
	in := bgpfeed.NewInterner(0)
	if n, err := loadBaselines(ctx, st, sf.baselines, in, stderr); err != nil {
		return err
	} else if n > 0 {
		log.Info("baseline loaded", "entries", n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := bus.New(*busSize)
	var wg sync.WaitGroup
	var stops []func() // run before waiting for the goroutines
	stopAll := sync.OnceFunc(func() {
		cancel()
		b.Close()
		for _, stop := range stops {
			stop()
		}
	})
	defer stopAll() // also on an early error return

	// Alert sinks: stdout JSON Lines and the gRPC service.
	broker := alertsvc.NewBroker(alertsvc.BrokerConfig{Logger: log})
	out := bufio.NewWriter(stdout)
	var outMu sync.Mutex
	ev := classifier.NewEventer(classifier.EventerConfig{MinPeers: *minPeers}, func(e *pb.AlertEvent) {
		broker.Publish(e)
		line, err := jsonOpts.Marshal(e)
		if err != nil {
			return
		}
		outMu.Lock()
		out.Write(append(line, '\n'))
		out.Flush()
		outMu.Unlock()
	})
	if *grpcListen != "" {
		srv, err := alertsvc.New(broker, alertsvc.Config{Logger: log, ModelInfo: alertsvc.ClassifierModelInfo(clf)})
		if err != nil {
			return err
		}
		lis, err := net.Listen("tcp", *grpcListen)
		if err != nil {
			return fmt.Errorf("grpc: %w", err)
		}
		log.Info("gRPC alert service", "addr", lis.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(lis); err != nil && ctx.Err() == nil {
				log.Error("grpc", "err", err)
				cancel()
			}
		}()
		stops = append(stops, func() {
			sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			srv.Shutdown(sctx)
		})
	}

	// Sources: the speaker and the replay write into the bus.
	if *listen != "" || len(neighbors) > 0 {
		cfg := speaker.Config{ASN: uint32(*asn), Neighbors: neighbors, Logger: log, Interner: in}
		rid, err := netip.ParseAddr(*routerID)
		if err != nil {
			return fmt.Errorf("--bgp.router-id: %w", err)
		}
		cfg.RouterID = rid
		if *listen != "" {
			ap, err := netip.ParseAddrPort(*listen)
			if err != nil {
				return fmt.Errorf("--bgp.listen: %w", err)
			}
			cfg.ListenAddrs, cfg.ListenPort = []netip.Addr{ap.Addr()}, int(ap.Port())
		} else {
			cfg.ListenPort = speaker.NoListen
		}
		sp, err := speaker.New(ctx, cfg)
		if err != nil {
			return err
		}
		stops = append(stops, func() { sp.Close() })
		log.Info("BGP speaker", "addr", sp.Addr().String(), "asn", *asn, "neighbors", len(neighbors))
		wg.Add(1)
		go func() {
			defer wg.Done()
			pump(ctx, sp, b, log, "speaker")
		}()
	}
	replayDone := make(chan struct{})
	if len(replay) > 0 {
		r, err := mrt.Open(replay, mrt.Options{Interner: in})
		if err != nil {
			return err
		}
		defer r.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(replayDone)
			n := pump(ctx, r, b, log, "replay")
			stt := r.Stats()
			log.Info("replay finished", "updates", n, "skipped", stt.TotalSkipped())
		}()
	} else {
		close(replayDone)
	}
	if *exitAfterReplay {
		go func() {
			<-replayDone
			// Let the consumer drain the bus, then stop.
			for b.Stats().Len > 0 && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			cancel()
		}()
	}

	// The consumer: features, classifier, events.
	vec := make([]float64, features.NumFeatures)
	var n int64
	for {
		u, err := b.Next(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		n++
		if c := st.Observe(&u, vec); c != nil {
			v, err := clf.Classify(vec)
			if err != nil {
				return err
			}
			if k := v.Flagged(); k != classifier.Benign {
				reasons, _ := clf.Reasons(vec, k, 5)
				ev.Add(c, v, reasons)
			}
		}
		ev.Route(&u)
	}
	stopAll()
	wg.Wait()
	obs, scored, learned := st.Counts()
	log.Info("stopped", "updates", n, "observed", obs, "scored", scored, "learned", learned, "alerts_opened", ev.Opened)
	return sf.saveState(st)
}

// pump copies a source into the bus until it ends or ctx is done, and
// returns how many updates it wrote.
func pump(ctx context.Context, src bgpfeed.Source, b *bus.Bus, log *slog.Logger, name string) int64 {
	var n int64
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
		n++
	}
}
