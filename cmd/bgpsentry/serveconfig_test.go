package main

import (
	"github.com/bgpsentry/bgpsentry/classifier"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const exampleConfig = "../../testdata/config/serve.example.yaml"

// TestServeConfigExample: the README's example parses, says the defaults
// where it says so (all but the baselines and neighbours, the only
// non-default keys), and names every key serve knows.
func TestServeConfigExample(t *testing.T) {
	t.Setenv("BGP_MD5_LAB2", "secret")
	c := defaultServeConfig()
	if err := loadServeConfig(exampleConfig, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.State.Baselines) != 1 || len(c.BGP.Neighbors) != 2 {
		t.Fatalf("baselines %v, neighbors %+v", c.State.Baselines, c.BGP.Neighbors)
	}
	n, err := c.BGP.Neighbors[1].neighbor()
	if err != nil || n.Password != "secret" || !n.AddPath || n.MaxPrefixes != 2000000 || n.Port != 1790 || n.MultihopTTL != 2 || !n.LocalAddr.Is6() {
		t.Errorf("second neighbour: %+v, %v", n, err)
	}
	c.State.Baselines, c.BGP.Neighbors = nil, nil
	if len(c.Replay.Paths) == 0 && len(c.Kafka.Brokers) == 0 {
		c.Replay.Paths, c.Kafka.Brokers = nil, nil // "[]" in the file
	}
	if len(c.Events.Thresholds) == 0 {
		c.Events.Thresholds = nil // "{}" in the file
	}
	if d := defaultServeConfig(); !reflect.DeepEqual(c, d) {
		t.Errorf("the example's values differ from the defaults:\n file    %+v\n default %+v", c, d)
	}
	// Every key of the struct is in the file.
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, typ reflect.Type, m map[string]any)
	walk = func(prefix string, typ reflect.Type, m map[string]any) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if key == "" || key == "-" {
				continue
			}
			v, ok := m[key]
			if !ok {
				t.Errorf("the example lacks %s%s", prefix, key)
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type.Name() != "duration" {
				sub, _ := v.(map[string]any)
				walk(prefix+key+".", f.Type, sub)
			}
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
				items, _ := v.([]any)
				union := map[string]any{}
				for _, it := range items {
					sub, _ := it.(map[string]any)
					for k, v := range sub {
						union[k] = v
					}
				}
				walk(prefix+key+"[].", f.Type.Elem(), union)
			}
		}
	}
	walk("", reflect.TypeOf(serveConfig{}), doc)
}

// TestServeConfigErrors: a bad file is refused with its line and the
// reason, never half-applied or ignored.
func TestServeConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "log:\n  level: info\n  colour: red\n", "cfg.yaml:3: field colour not found"},
		{"misspelled section", "bgp:\n  asn: 65000\ngprc:\n  listen: x\n", "cfg.yaml:3: field gprc not found"},
		{"bad duration", "state:\n  warmup: ten minutes\n", `cfg.yaml:2: "ten minutes" is not a duration`},
		{"negative duration", "events:\n  quiet: -5m\n", `cfg.yaml:2: "-5m" is not a duration`},
		{"wrong type", "bgp:\n  asn: sixty-four\n", "cfg.yaml:2: cannot unmarshal !!str `sixty-four` into uint32"},
		{"bad neighbour", "bgp:\n  neighbors:\n    - asn: 65001\n      address: 127.0.0.2\n    - address: 300.1.1.1\n      asn: 65002\n", `cfg.yaml:5: neighbor address "300.1.1.1": not an IP address`},
		{"neighbour without asn", "bgp:\n  neighbors:\n    - address: 127.0.0.2\n", "cfg.yaml:3: neighbor 127.0.0.2: asn is missing"},
		{"missing password env", "bgp:\n  neighbors:\n    - address: 127.0.0.2\n      asn: 1\n      password_env: BGPSENTRY_TEST_UNSET_VAR\n", "cfg.yaml:3: neighbor 127.0.0.2: password_env BGPSENTRY_TEST_UNSET_VAR is not set"},
		{"bad value", "log:\n  level: loud\n", `cfg.yaml: log.level (--log.level) "loud"`},
		{"bad listen", "bgp:\n  listen: localhost\n", `bgp.listen (--bgp.listen) "localhost": want ADDRESS:PORT`},
		{"syntax", "bgp:\n  asn: 1\n   listen: x\n", "cfg.yaml:3: mapping values are not allowed"},
		{"two documents", "bgp:\n  asn: 1\n---\nbgp:\n  asn: 2\n", "cfg.yaml:3: a second YAML document"},
		{"tls half", "grpc:\n  tls_cert: a.pem\n", "grpc.tls_cert and grpc.tls_key"},
		{"producer without kafka", "kafka:\n  classify: false\n", "needs kafka.brokers"},
		{"unknown threshold class", "events:\n  thresholds:\n    leak: 0.9\n", `events.thresholds: unknown class "leak"`},
		{"threshold out of range", "events:\n  thresholds:\n    route_leak: 1.5\n", `events.thresholds: route_leak: threshold "1.5" is not a probability`},
		{"bad speed", "replay:\n  speed: fast\n", `replay.speed (--replay.speed): want 'max' or a factor > 0 (1 = real time, 60 = 60x faster), not "fast"`},
	} {
		c := defaultServeConfig()
		err := parseServeConfig("cfg.yaml", []byte(tc.yaml), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	c := defaultServeConfig()
	if err := parseServeConfig("empty.yaml", nil, &c); err != nil || !reflect.DeepEqual(c, defaultServeConfig()) {
		t.Errorf("an empty file: %v", err)
	}
	c = defaultServeConfig()
	if err := parseServeConfig("th.yaml", []byte("events:\n  thresholds:\n    path_hijack: 0.999\n"), &c); err != nil {
		t.Fatal(err)
	}
	if th, err := c.Events.thresholds(); err != nil || len(th) != 1 || th[classifier.PathHijack] != 0.999 {
		t.Errorf("events.thresholds {path_hijack: 0.999}: %v, %v", th, err)
	}
}

// TestServeConfigFlags: flags override the file; a bad file stops serve
// before anything starts, with exit 1 and the line.
func TestServeConfigFlags(t *testing.T) {
	dir := t.TempDir()
	f := dir + "/serve.yaml"
	os.WriteFile(f, []byte("log:\n  level: warn\nevents:\n  min_peers: 7\n"), 0o644)
	var got serveConfig
	c := defaultServeConfig()
	if p, ok := configPath([]string{"--min-peers", "3", "--config=" + f}); !ok || p != f {
		t.Fatalf("configPath: %q %v", p, ok)
	}
	if err := loadServeConfig(f, &c); err != nil {
		t.Fatal(err)
	}
	fs := newFlagSet("serve", "", "", os.Stderr)
	bindServeFlags(fs, &c)
	if err := fs.Parse([]string{"--config", f, "--min-peers", "3", "--neighbor", "127.0.0.2,65001"}); err != nil {
		t.Fatal(err)
	}
	got = c
	if got.Log.Level != "warn" || got.Events.MinPeers != 3 || len(got.BGP.Neighbors) != 1 {
		t.Errorf("file+flags: level %q, min peers %d, neighbours %d", got.Log.Level, got.Events.MinPeers, len(got.BGP.Neighbors))
	}
	os.WriteFile(f, []byte("bgp:\n  asn: 1\n  routerid: 10.0.0.1\n"), 0o644)
	code, _, e := runCmd("serve", "--config", f)
	if code != 1 || !strings.Contains(e, "serve.yaml:3: field routerid not found") {
		t.Errorf("bad config: exit %d, %q", code, e)
	}
}

// FuzzServeConfig: any bytes give a configuration that passes its checks,
// or an error naming the file; never a panic.
func FuzzServeConfig(f *testing.F) {
	if data, err := os.ReadFile(exampleConfig); err == nil {
		f.Add(data)
	}
	for _, s := range []string{"", "log:\n  level: debug\n", "bgp:\n  neighbors:\n    - address: ::1\n      asn: 1\n",
		"state:\n  warmup: 1h\n---\n", "kafka: [1, 2]\n", "grpc:\n  history: -1\n", "{a: b}", "\t\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := defaultServeConfig()
		err := parseServeConfig("fuzz.yaml", data, &c)
		if err == nil {
			if err := c.check(); err != nil {
				t.Fatalf("accepted a configuration its checks refuse: %v", err)
			}
			return
		}
		if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error without the file name: %v", err)
		}
	})
}
