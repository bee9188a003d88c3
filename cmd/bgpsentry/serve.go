package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// neighborFlag is the repeatable --neighbor ADDR,ASN[,passive] flag; it
// adds to the neighbours of the config file.
type neighborFlag struct{ c *serveConfig }

func (l neighborFlag) String() string {
	if l.c == nil {
		return ""
	}
	return fmt.Sprint(len(l.c.BGP.Neighbors), " neighbors")
}

func (l neighborFlag) Set(v string) error {
	parts := strings.Split(v, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("want ADDR,ASN[,passive], got %q", v)
	}
	if _, err := netip.ParseAddr(parts[0]); err != nil {
		return fmt.Errorf("neighbor address: %w", err)
	}
	asn, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || asn == 0 {
		return fmt.Errorf("neighbor ASN %q: want 1 to 4294967295", parts[1])
	}
	n := neighborConfig{Address: parts[0], ASN: uint32(asn)}
	if len(parts) == 3 {
		if parts[2] != "passive" {
			return fmt.Errorf("neighbor option %q: only 'passive' is known (use the config file for more)", parts[2])
		}
		n.Passive = true
	}
	l.c.BGP.Neighbors = append(l.c.BGP.Neighbors, n)
	return nil
}

// commaList is a flag whose comma-separated value replaces a list.
type commaList struct{ l *[]string }

func (a commaList) String() string {
	if a.l == nil {
		return ""
	}
	return strings.Join(*a.l, ",")
}
func (a commaList) Set(v string) error {
	*a.l = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*a.l = append(*a.l, s)
		}
	}
	return nil
}

type durationFlag struct{ d *duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.D().String()
}
func (f durationFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 90s, 15m or 1h")
	}
	*f.d = duration(d)
	return nil
}

// configPath finds --config FILE in args before the flags are bound, so
// that the file gives the defaults the other flags override.
func configPath(args []string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"-config", "--config"} {
			if a == p && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

func bindServeFlags(fs *flag.FlagSet, c *serveConfig) {
	fs.String("config", "", "YAML configuration `FILE` (see the README for every key); flags override it")
	fs.StringVar(&c.Model, "model", c.Model, "model `DIR` (model.txt + model.json; default: the embedded model)")
	fs.StringVar(&c.Log.Level, "log.level", c.Log.Level, "log level: debug, info, warn or error")
	fs.StringVar(&c.Log.Format, "log.format", c.Log.Format, "log format on stderr: text or json")
	// State.
	fs.Var((*stringList)(&c.State.Baselines), "baseline", "baseline `FILE` bootstrapping the state: an MRT RIB dump or a prefix-to-origin table (pyasn/CAIDA); repeatable; ignored when --state restores a snapshot")
	fs.StringVar(&c.State.ASRel, "asrel", c.State.ASRel, "AS relationships `FILE`, CAIDA serial-1/serial-2 'a|b|rel' (default: inferred, see --infer-relations)")
	fs.StringVar(&c.State.ASOrg, "asorg", c.State.ASOrg, "CAIDA as-org2info JSONL `FILE`, for sibling ASes (optional)")
	fs.StringVar(&c.State.RPKI, "rpki", c.State.RPKI, "RPKI VRPs `FILE`, rpki-client or Routinator JSON (optional)")
	fs.Var(durationFlag{&c.State.Warmup}, "warmup", "learn without scoring for this long after the first live update (default "+c.State.Warmup.D().String()+")")
	fs.Var(durationFlag{&c.State.BurstWindow}, "burst-window", "time constant of the burst counters (default "+c.State.BurstWindow.D().String()+")")
	fs.StringVar(&c.State.InferRelations, "infer-relations", c.State.InferRelations, "without --asrel, infer AS relationships from the paths seen until the warm-up ends ('warmup') or from a first pass over the baselines and replay files ('inputs')")
	fs.StringVar(&c.State.TableCache, "table-cache", c.State.TableCache, "`DIR` of the parsed prefix-to-origin baselines, read instead of their text at the next start ('' = bgpsentry in the user cache directory; 'off' = none)")
	fs.StringVar(&c.State.Snapshot, "state", c.State.Snapshot, "state snapshot `FILE`: restored at start when it exists, written every --state.interval and at shutdown (SIGINT/SIGTERM)")
	fs.Var(durationFlag{&c.State.SnapshotInterval}, "state.interval", "interval of the periodic snapshots to --state, 0 = only at shutdown (default "+c.State.SnapshotInterval.D().String()+")")
	// BGP.
	fs.StringVar(&c.BGP.Listen, "bgp.listen", c.BGP.Listen, "`ADDR:PORT` the speaker accepts BGP sessions on ('' = no listener; port 179 needs root)")
	asn := uint64(c.BGP.ASN)
	fs.Func("bgp.asn", fmt.Sprintf("the speaker's own AS `NUMBER` (never advertised; use one that cannot appear in real paths) (default %d)", asn), func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("want 1 to 4294967295")
		}
		c.BGP.ASN = uint32(n)
		return nil
	})
	fs.StringVar(&c.BGP.RouterID, "bgp.router-id", c.BGP.RouterID, "the speaker's BGP identifier (an IPv4 `ADDRESS`)")
	fs.Var(neighborFlag{c}, "neighbor", "a BGP neighbour `ADDR,ASN[,passive]` (repeatable; the config file has MD5, max-prefix, add-path, ports)")
	// Replay.
	fs.Var((*stringList)(&c.Replay.Paths), "replay", "MRT `FILE` or directory to replay into the bus (repeatable)")
	fs.StringVar(&c.Replay.Speed, "replay.speed", c.Replay.Speed, "replay speed: 'max' (as fast as it decodes) or a factor of real time (1, 60, ...)")
	fs.BoolVar(&c.Replay.ExitAfter, "exit-after-replay", c.Replay.ExitAfter, "stop when the replay has been processed (batch runs and tests)")
	// Events.
	fs.IntVar(&c.Events.MinPeers, "min-peers", c.Events.MinPeers, "distinct peers that must carry an alert before it opens")
	fs.IntVar(&c.Events.MinWeakPeers, "min-weak-peers", c.Events.MinWeakPeers, "distinct peers with weak verdicts (most probable class, below its threshold) that open an alert without a strong one")
	fs.IntVar(&c.Events.MinLeakPrefixes, "min-leak-prefixes", c.Events.MinLeakPrefixes, "prefixes a route-leak alert needs before it opens")
	fs.Float64Var(&c.Events.MinWeakShare, "min-weak-share", c.Events.MinWeakShare, "share of the active peer sessions whose weak verdicts an alert needs to open without a strong one (0: none)")
	fs.Var(durationFlag{&c.Events.SharedSource}, "shared-source", "a route leak of an AS (smaller than its leaker) that another leaker also carried less than this long ago raises no alert (0: no such veto; default "+c.Events.SharedSource.D().String()+")")
	fs.Var(durationFlag{&c.Events.Quiet}, "quiet", "resolve an alert after this long without a new announcement (default "+c.Events.Quiet.D().String()+")")
	fs.IntVar(&c.Bus.Size, "bus.size", c.Bus.Size, "capacity of the in-process update bus")
	// Kafka.
	fs.Var(commaList{&c.Kafka.Brokers}, "kafka.brokers", "Kafka brokers `HOST:PORT[,...]`: the speaker and replay write to the updates topic and this process classifies as a member of the consumer group (none: the in-process bus)")
	fs.StringVar(&c.Kafka.UpdatesTopic, "kafka.topic.updates", c.Kafka.UpdatesTopic, "Kafka topic of BGP updates")
	fs.StringVar(&c.Kafka.AlertsTopic, "kafka.topic.alerts", c.Kafka.AlertsTopic, "Kafka topic of alert events (key = event id)")
	fs.StringVar(&c.Kafka.Group, "kafka.group", c.Kafka.Group, "Kafka consumer group of the classifiers")
	fs.IntVar(&c.Kafka.Partitions, "kafka.partitions", c.Kafka.Partitions, "partitions of a topic bgpsentry creates")
	fs.IntVar(&c.Kafka.Replication, "kafka.replication", c.Kafka.Replication, "replication factor of a topic bgpsentry creates")
	fs.StringVar(&c.Kafka.Compression, "kafka.compression", c.Kafka.Compression, "compression of written records: none, gzip, snappy, lz4 or zstd")
	fs.BoolVar(&c.Kafka.StartAtEnd, "kafka.start-at-end", c.Kafka.StartAtEnd, "a partition the group never committed is read from its end")
	fs.Var(durationFlag{&c.Kafka.SessionTimeout}, "kafka.session-timeout", "a classifier silent this long is dropped from the group (default "+c.Kafka.SessionTimeout.D().String()+")")
	fs.Var(durationFlag{&c.Kafka.CommitInterval}, "kafka.commit-interval", "commit consumed offsets this often (after the alert events they caused are written) (default "+c.Kafka.CommitInterval.D().String()+")")
	fs.StringVar(&c.Kafka.Audit, "kafka.audit", c.Kafka.Audit, "append the `FILE` a line 'partition offset' for every updates record this classifier processed, flushed before every offset commit (a testing and auditing aid: the files of a group's members together cover every offset)")
	fs.BoolVar(&c.Kafka.Classify, "kafka.classify", c.Kafka.Classify, "consume and classify (false: a producer only, feeding bgp.updates from the speaker and replay)")
	// gRPC.
	fs.StringVar(&c.GRPC.Listen, "grpc.listen", c.GRPC.Listen, "`ADDR:PORT` of the gRPC alert service ('' = none); plaintext is refused off loopback unless --grpc.allow-insecure")
	fs.StringVar(&c.GRPC.TLSCert, "grpc.tls-cert", c.GRPC.TLSCert, "PEM server certificate `FILE` (with --grpc.tls-key): serve TLS")
	fs.StringVar(&c.GRPC.TLSKey, "grpc.tls-key", c.GRPC.TLSKey, "PEM private key `FILE` of --grpc.tls-cert")
	fs.StringVar(&c.GRPC.ClientCA, "grpc.client-ca", c.GRPC.ClientCA, "PEM CA `FILE`: require client certificates signed by it (mTLS)")
	fs.StringVar(&c.GRPC.TokenFile, "grpc.token-file", c.GRPC.TokenFile, "`FILE` of accepted bearer tokens, one per line (default: $BGPSENTRY_TOKEN when set; none: no token needed)")
	fs.BoolVar(&c.GRPC.AllowInsecure, "grpc.allow-insecure", c.GRPC.AllowInsecure, "allow plaintext gRPC on a non-loopback address")
	fs.IntVar(&c.GRPC.History, "grpc.history", c.GRPC.History, "alert events kept for resume and ListAlerts")
	fs.Var(durationFlag{&c.GRPC.HistoryAge}, "grpc.history-age", "drop kept events older than this (default "+c.GRPC.HistoryAge.D().String()+")")
	fs.IntVar(&c.GRPC.QueueSize, "grpc.queue", c.GRPC.QueueSize, "events a subscriber may fall behind before it is ended with RESOURCE_EXHAUSTED")
	fs.BoolVar(&c.Output.Stdout, "stdout", c.Output.Stdout, "print alert events on stdout as JSON Lines")
	fs.StringVar(&c.Metrics.Listen, "metrics.listen", c.Metrics.Listen, "`ADDR:PORT` of the Prometheus /metrics endpoint ('' = none), e.g. 127.0.0.1:9179")
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := defaultServeConfig()
	path, hasConfig := configPath(args)
	if hasConfig {
		if err := loadServeConfig(path, &cfg); err != nil {
			return err
		}
	}
	fileNeighbors := len(cfg.BGP.Neighbors)
	fs := newFlagSet("serve", "[--config FILE] [flags]",
		`Runs bgpsentry as a service. On the embedded default (no config, no
flags) it is one process with no other services: an embedded, monitor-only
GoBGP speaker that peers with routers on 127.0.0.1:1179 (it never
advertises a route), an optional MRT replay, the feature state, the
classifier, and the alert events, printed on stdout as JSON Lines and
served over gRPC (bgpsentry.v1.AlertService on 127.0.0.1:50051;
'bgpsentry alerts' is a client). With --kafka.brokers the updates go
through Kafka's bgp.updates topic, classifiers share its partitions as one
consumer group, and alert events also go to bgp.alerts.

Settings come from the YAML file of --config (every key is in the
README), then from the flags; SIGHUP reads the file again and applies its
BGP neighbours (added, removed, changed) without a restart. Stop it with
Ctrl-C (SIGINT) or SIGTERM: the state is saved to --state when given, and
restored from it at start.`, stderr)
	bindServeFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bgpsentry serve: unexpected argument %q (replay files go after --replay)\n", fs.Arg(0))
		return errUsage
	}
	if err := cfg.check(); err != nil {
		return err
	}
	for _, n := range cfg.BGP.Neighbors {
		if _, err := n.neighbor(); err != nil {
			return err
		}
	}
	s := &service{cfg: cfg, log: newLogger(cfg.Log, stderr), stdout: stdout, stderr: stderr}
	if hasConfig {
		s.configPath = path
		s.flagNeighbors = append([]neighborConfig(nil), cfg.BGP.Neighbors[fileNeighbors:]...)
	}
	return s.run(ctx)
}
