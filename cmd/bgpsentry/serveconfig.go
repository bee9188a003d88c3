package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker"
)

// serveConfig is everything `serve` is told: the YAML file of --config
// first, then the flags, which override it. The README documents every
// key; testdata/serve.example.yaml is a complete example.
type serveConfig struct {
	Model   string            `yaml:"model"` // model directory; "" = the embedded model
	Log     logConfig         `yaml:"log"`
	State   stateConfig       `yaml:"state"`
	BGP     bgpConfig         `yaml:"bgp"`
	Replay  serveReplayConfig `yaml:"replay"`
	Events  eventsConfig      `yaml:"events"`
	Bus     busConfig         `yaml:"bus"`
	Kafka   kafkaConfig       `yaml:"kafka"`
	GRPC    grpcConfig        `yaml:"grpc"`
	Output  outputConfig      `yaml:"output"`
	Metrics struct {
		Listen string `yaml:"listen"`
	} `yaml:"metrics"`
}

type logConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

type stateConfig struct {
	Baselines        []string `yaml:"baselines"`
	ASRel            string   `yaml:"asrel"`
	ASOrg            string   `yaml:"asorg"`
	RPKI             string   `yaml:"rpki"`
	Warmup           duration `yaml:"warmup"`
	BurstWindow      duration `yaml:"burst_window"`
	InferRelations   string   `yaml:"infer_relations"`
	TableCache       string   `yaml:"table_cache"`
	Snapshot         string   `yaml:"snapshot"`
	SnapshotInterval duration `yaml:"snapshot_interval"`
}

type bgpConfig struct {
	Listen    string           `yaml:"listen"`
	ASN       uint32           `yaml:"asn"`
	RouterID  string           `yaml:"router_id"`
	Neighbors []neighborConfig `yaml:"neighbors"`
}

type neighborConfig struct {
	Address      string `yaml:"address"`
	ASN          uint32 `yaml:"asn"`
	Passive      bool   `yaml:"passive"`
	Port         uint16 `yaml:"port"`
	LocalAddress string `yaml:"local_address"`
	// PasswordEnv names the environment variable that holds the TCP MD5
	// password (never the password itself in a file that gets shared).
	PasswordEnv string `yaml:"password_env"`
	MaxPrefixes uint32 `yaml:"max_prefixes"`
	AddPath     bool   `yaml:"add_path"`
	MultihopTTL uint8  `yaml:"multihop_ttl"`
	Description string `yaml:"description"`
	line        int
}

type serveReplayConfig struct {
	Paths     []string `yaml:"paths"`
	Speed     string   `yaml:"speed"` // "max" or a factor of real time
	ExitAfter bool     `yaml:"exit_after"`
}

type eventsConfig struct {
	MinPeers        int      `yaml:"min_peers"`
	MinWeakPeers    int      `yaml:"min_weak_peers"`
	MinLeakPrefixes int      `yaml:"min_leak_prefixes"`
	MinWeakShare    float64  `yaml:"min_weak_share"`
	Quiet           duration `yaml:"quiet"`
	Pending         duration `yaml:"pending"`
	Memory          duration `yaml:"memory"`
	SharedSource    duration `yaml:"shared_source"`
	// Thresholds: class name -> alert threshold instead of the model's
	// (score --threshold).
	Thresholds map[string]float64 `yaml:"thresholds"`
}

// thresholds parses Thresholds.
func (e *eventsConfig) thresholds() (thresholdFlags, error) {
	th := thresholdFlags{}
	for k, v := range e.Thresholds {
		if err := th.add(k, v); err != nil {
			return nil, fmt.Errorf("events.thresholds: %v", err)
		}
	}
	return th, nil
}

type busConfig struct {
	Size int `yaml:"size"`
}

type kafkaConfig struct {
	Brokers        []string `yaml:"brokers"`
	Partitions     int      `yaml:"partitions"`
	Replication    int      `yaml:"replication"`
	UpdatesTopic   string   `yaml:"updates_topic"`
	AlertsTopic    string   `yaml:"alerts_topic"`
	Group          string   `yaml:"group"`
	Compression    string   `yaml:"compression"`
	StartAtEnd     bool     `yaml:"start_at_end"`
	SessionTimeout duration `yaml:"session_timeout"`
	CommitInterval duration `yaml:"commit_interval"`
	// Audit appends "partition offset" of every processed record to this
	// file (testing and auditing; see --kafka.audit).
	Audit string `yaml:"audit"`
	// Classify false makes this process a producer only (its speaker and
	// replay feed bgp.updates; other processes classify).
	Classify bool `yaml:"classify"`
}

type grpcConfig struct {
	Listen        string   `yaml:"listen"`
	TLSCert       string   `yaml:"tls_cert"`
	TLSKey        string   `yaml:"tls_key"`
	ClientCA      string   `yaml:"client_ca"`
	TokenFile     string   `yaml:"token_file"`
	AllowInsecure bool     `yaml:"allow_insecure"`
	History       int      `yaml:"history"`
	HistoryAge    duration `yaml:"history_age"`
	QueueSize     int      `yaml:"queue_size"`
}

type outputConfig struct {
	Stdout bool `yaml:"stdout"` // alert events as JSON Lines on stdout
}

// defaultServeConfig is the embedded default: one process, no services.
func defaultServeConfig() serveConfig {
	c := serveConfig{
		Log: logConfig{Level: "info", Format: "text"},
		State: stateConfig{
			Warmup: duration(15 * time.Minute), BurstWindow: duration(5 * time.Minute),
			InferRelations: "warmup", SnapshotInterval: duration(10 * time.Minute),
		},
		BGP:    bgpConfig{Listen: "127.0.0.1:1179", ASN: 64512, RouterID: "127.0.0.1"},
		Replay: serveReplayConfig{Speed: "max"},
		Events: eventsConfig{MinPeers: 2, MinWeakPeers: 5, MinLeakPrefixes: 10, MinWeakShare: 0.5, Quiet: duration(time.Hour), Pending: duration(10 * time.Minute), Memory: duration(time.Minute), SharedSource: duration(10 * time.Minute)},
		Bus:    busConfig{Size: 65536},
		Kafka: kafkaConfig{
			Partitions: kafka.DefaultPartitions, Replication: kafka.DefaultReplicationFactor,
			UpdatesTopic: kafka.DefaultUpdatesTopic, AlertsTopic: kafka.DefaultAlertsTopic, Group: kafka.DefaultGroup,
			Compression: string(kafka.CompressionNone), SessionTimeout: duration(10 * time.Second),
			CommitInterval: duration(time.Second), Classify: true,
		},
		GRPC:   grpcConfig{Listen: "127.0.0.1:50051", History: 10000, HistoryAge: duration(24 * time.Hour), QueueSize: 1000},
		Output: outputConfig{Stdout: true},
	}
	return c
}

// configError is a refused configuration: the file, the line and why.
type configError struct {
	file string
	line int
	msg  string
}

func (e *configError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.file, e.msg)
}

// loadServeConfig reads a YAML configuration over the defaults. Unknown
// keys, wrong types and bad values are refused with their line.
func loadServeConfig(path string, c *serveConfig) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	return parseServeConfig(path, data, c)
}

func parseServeConfig(name string, data []byte, c *serveConfig) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil // an empty file is the defaults
	}
	if err != nil {
		return yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &configError{file: name, line: extra.Line, msg: "a second YAML document; put everything in one"}
	}
	return c.validate(name)
}

// yamlError turns yaml.v3's messages ("yaml: line 3: ...", or a
// TypeError listing "line 3: field x not found in type main.y") into
// "FILE:LINE: reason".
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		line, msg := splitLine(te.Errors[0])
		msg = strings.ReplaceAll(msg, "main.", "")
		if n := len(te.Errors) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
		return &configError{file: name, line: line, msg: msg}
	}
	var ce *configError
	if errors.As(err, &ce) {
		ce.file = name
		return ce
	}
	line, msg := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
	return &configError{file: name, line: line, msg: msg}
}

func splitLine(s string) (int, string) {
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return 0, s
}

// duration is a time.Duration written as "90s", "15m", "1h30m".
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return &configError{line: n.Line, msg: "want a duration such as 90s, 15m or 1h"}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return &configError{line: n.Line, msg: fmt.Sprintf("%q is not a duration (such as 90s, 15m or 1h)", s)}
	}
	*d = duration(v)
	return nil
}

func (d duration) D() time.Duration { return time.Duration(d) }

func (n *neighborConfig) UnmarshalYAML(v *yaml.Node) error {
	type plain neighborConfig
	p := (*plain)(n)
	if err := v.Decode(p); err != nil {
		return err
	}
	n.line = v.Line
	return nil
}

// validate checks the values the types cannot; line numbers come from the
// neighbours (the only list of structures), the rest names the key.
func (c *serveConfig) validate(file string) error {
	bad := func(line int, format string, args ...any) error {
		return &configError{file: file, line: line, msg: fmt.Sprintf(format, args...)}
	}
	for _, n := range c.BGP.Neighbors {
		if _, err := n.neighbor(); err != nil {
			return bad(n.line, "%v", err)
		}
	}
	if err := c.check(); err != nil {
		return bad(0, "%v", err)
	}
	return nil
}

// check validates what flags and file share (the flags are checked after
// they are applied, so the message names the key or flag).
func (c *serveConfig) check() error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level (--log.level) %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format (--log.format) %q: want text or json", c.Log.Format)
	}
	switch c.State.InferRelations {
	case "warmup", "inputs":
	default:
		return fmt.Errorf("state.infer_relations (--infer-relations) %q: want warmup or inputs", c.State.InferRelations)
	}
	if c.BGP.Listen != "" {
		if _, err := netip.ParseAddrPort(c.BGP.Listen); err != nil {
			return fmt.Errorf("bgp.listen (--bgp.listen) %q: want ADDRESS:PORT, e.g. 127.0.0.1:1179 or [::1]:1179", c.BGP.Listen)
		}
	}
	if a, err := netip.ParseAddr(c.BGP.RouterID); err != nil || !a.Is4() {
		return fmt.Errorf("bgp.router_id (--bgp.router-id) %q: want an IPv4 address", c.BGP.RouterID)
	}
	if c.BGP.ASN == 0 {
		return fmt.Errorf("bgp.asn (--bgp.asn) must not be 0")
	}
	if _, err := speedFactor(c.Replay.Speed); err != nil {
		return fmt.Errorf("replay.speed (--replay.speed): %v", err)
	}
	if c.Events.MinPeers < 1 || c.Events.MinWeakPeers < 1 || c.Events.MinLeakPrefixes < 1 {
		return fmt.Errorf("events.min_peers, min_weak_peers and min_leak_prefixes must be at least 1")
	}
	if _, err := c.Events.thresholds(); err != nil {
		return err
	}
	if c.Events.MinWeakShare < 0 || c.Events.MinWeakShare > 1 {
		return fmt.Errorf("events.min_weak_share (--min-weak-share) %v: want a share between 0 and 1", c.Events.MinWeakShare)
	}
	if c.Bus.Size < 1 {
		return fmt.Errorf("bus.size (--bus.size) must be at least 1")
	}
	if c.GRPC.History < 1 || c.GRPC.QueueSize < 1 {
		return fmt.Errorf("grpc.history and grpc.queue_size must be at least 1")
	}
	if (c.GRPC.TLSCert == "") != (c.GRPC.TLSKey == "") {
		return fmt.Errorf("grpc.tls_cert and grpc.tls_key (--grpc.tls-cert, --grpc.tls-key) go together")
	}
	if c.GRPC.ClientCA != "" && c.GRPC.TLSCert == "" {
		return fmt.Errorf("grpc.client_ca (--grpc.client-ca) needs grpc.tls_cert and grpc.tls_key")
	}
	if c.Metrics.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen (--metrics.listen) %q: %v", c.Metrics.Listen, err)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("metrics.listen (--metrics.listen) %q: bad port %q", c.Metrics.Listen, port)
		}
	}
	if err := kafka.Compression(c.Kafka.Compression).Validate(); err != nil {
		return fmt.Errorf("kafka.compression (--kafka.compression): %v", err)
	}
	if len(c.Kafka.Brokers) == 0 && !c.Kafka.Classify {
		return fmt.Errorf("kafka.classify false (a producer only) needs kafka.brokers")
	}
	return nil
}

// neighbor is the speaker's form of a configured neighbour.
func (n neighborConfig) neighbor() (speaker.Neighbor, error) {
	a, err := netip.ParseAddr(n.Address)
	if err != nil {
		return speaker.Neighbor{}, fmt.Errorf("neighbor address %q: not an IP address", n.Address)
	}
	if n.ASN == 0 {
		return speaker.Neighbor{}, fmt.Errorf("neighbor %s: asn is missing", a)
	}
	out := speaker.Neighbor{
		Addr: a.Unmap(), ASN: n.ASN, Passive: n.Passive, Port: n.Port, MaxPrefixes: n.MaxPrefixes,
		AddPath: n.AddPath, MultihopTTL: n.MultihopTTL, Description: n.Description,
	}
	if n.LocalAddress != "" {
		if out.LocalAddr, err = netip.ParseAddr(n.LocalAddress); err != nil {
			return speaker.Neighbor{}, fmt.Errorf("neighbor %s: local_address %q: not an IP address", a, n.LocalAddress)
		}
	}
	if n.PasswordEnv != "" {
		pw, ok := os.LookupEnv(n.PasswordEnv)
		if !ok || pw == "" {
			return speaker.Neighbor{}, fmt.Errorf("neighbor %s: password_env %s is not set in the environment", a, n.PasswordEnv)
		}
		out.Password = pw
	}
	return out, nil
}

// speedFactor reads a replay speed as replay's --speed does ("max" = 0),
// with "" for max.
func speedFactor(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	return parseSpeed(s)
}
