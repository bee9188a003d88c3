package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/speaker"
	"github.com/bgpsentry/bgpsentry/classifier"
	"github.com/bgpsentry/bgpsentry/features"
)

// metrics are serve's Prometheus metrics, on their own registry (no
// global state: tests run several services in one process).
type metrics struct {
	reg *prometheus.Registry

	received    *prometheus.CounterVec // by source: speaker, replay
	updates     *prometheus.CounterVec // processed by the classifier, by kind
	scored      prometheus.Counter
	flagged     *prometheus.CounterVec // verdicts above a class threshold
	events      *prometheus.CounterVec // alert events, by type and state
	latency     prometheus.Histogram
	snapshots   prometheus.Counter
	kafkaErrors prometheus.Counter
	// Kafka path: from the updates record's timestamp (written by the
	// producer) to its processing, and to the alert event it caused being
	// acknowledged by bgp.alerts.
	kafkaLatency, kafkaEventLatency prometheus.Histogram

	byKind    [4]prometheus.Counter // updates, per bgpfeed.Kind (not looked up per update)
	processed atomic.Int64          // updates through the classifier
	forwarded atomic.Int64          // updates written to Kafka

	busLen  func() float64
	speaker *speaker.Speaker
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := promauto{m.reg}
	m.received = f.counterVec("bgpsentry_updates_received_total", "Updates read from a source into the bus.", "source")
	m.updates = f.counterVec("bgpsentry_updates_processed_total", "Updates applied to the feature state by the classifier loop.", "kind")
	for k := bgpfeed.KindAnnounce; int(k) < len(m.byKind); k++ {
		m.byKind[k] = m.updates.WithLabelValues(k.String())
	}
	m.scored = f.counter("bgpsentry_updates_scored_total", "Announcements that passed the gate and were classified.")
	m.flagged = f.counterVec("bgpsentry_verdicts_flagged_total", "Classifications above a class threshold (before event grouping).", "class")
	m.events = f.counterVec("bgpsentry_alert_events_total", "Alert events emitted.", "type", "state")
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "bgpsentry_alert_latency_seconds",
		Help:    "From an update's receipt on a BGP session to the OPEN event it triggered.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
	})
	m.reg.MustRegister(m.latency)
	m.kafkaLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "bgpsentry_kafka_update_latency_seconds",
		Help:    "From an update's write to bgp.updates (the record timestamp) to its processing by this classifier.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 1.5, 30),
	})
	m.kafkaEventLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "bgpsentry_kafka_event_latency_seconds",
		Help:    "From the write to bgp.updates of the update that caused an alert event to the event's acknowledgement by bgp.alerts.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 1.5, 30),
	})
	m.reg.MustRegister(m.kafkaLatency, m.kafkaEventLatency)
	m.snapshots = f.counter("bgpsentry_state_snapshots_total", "State snapshots written.")
	m.kafkaErrors = f.counter("bgpsentry_kafka_write_errors_total", "Failed writes of updates to Kafka (retried).")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bgpsentry_bus_queued", Help: "Updates waiting in the in-process bus."},
		func() float64 {
			if m.busLen == nil {
				return 0
			}
			return m.busLen()
		}))
	m.reg.MustRegister(&speakerCollector{m: m})
	return m
}

// processedKind is the processed-updates counter of kind k.
func (m *metrics) processedKind(k bgpfeed.Kind) prometheus.Counter {
	if int(k) < len(m.byKind) && m.byKind[k] != nil {
		return m.byKind[k]
	}
	return m.updates.WithLabelValues(k.String())
}

// modelInfo exports the model's identity as labels of a constant gauge.
func (m *metrics) modelInfo(c *classifier.Classifier) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bgpsentry_model_info", Help: "The model in use (value 1)."}, []string{"source", "schema_version"})
	g.WithLabelValues(c.Source(), strconv.Itoa(features.SchemaVersion)).Set(1)
	m.reg.MustRegister(g)
	th := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bgpsentry_alert_threshold", Help: "The probability a class needs to raise an alert (the model's, or events.thresholds)."}, []string{"class"})
	for k := classifier.OriginHijack; k < classifier.NumClasses; k++ {
		th.WithLabelValues(k.String()).Set(c.Threshold(k))
	}
	m.reg.MustRegister(th)
}

// serve starts the /metrics endpoint.
func (m *metrics) serve(addr string, log *slog.Logger) (*http.Server, string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("bgpsentry: metrics at /metrics\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics", "err", err)
		}
	}()
	return srv, lis.Addr().String(), nil
}

// speakerCollector reads the speaker's counters at scrape time.
type speakerCollector struct{ m *metrics }

var (
	descPeers  = prometheus.NewDesc("bgpsentry_bgp_sessions", "BGP neighbours by session state (6 = Established).", []string{"state"}, nil)
	descRoutes = prometheus.NewDesc("bgpsentry_bgp_routes", "Routes a neighbour currently announces.", []string{"peer", "asn"}, nil)
	descDrops  = prometheus.NewDesc("bgpsentry_bgp_dropped_total", "Updates the speaker dropped because its queue was full.", nil, nil)
)

func (c *speakerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPeers
	ch <- descRoutes
	ch <- descDrops
}

func (c *speakerCollector) Collect(ch chan<- prometheus.Metric) {
	sp := c.m.speaker
	if sp == nil {
		return
	}
	st := sp.Stats()
	byState := map[int]int{}
	for _, p := range st.Peers {
		byState[int(p.State)]++
		ch <- prometheus.MustNewConstMetric(descRoutes, prometheus.GaugeValue, float64(p.Routes), p.Addr.String(), strconv.FormatUint(uint64(p.ASN), 10))
	}
	for s, n := range byState {
		ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(n), strconv.Itoa(s))
	}
	ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(st.Dropped+st.DroppedControl))
}

type promauto struct{ reg *prometheus.Registry }

func (p promauto) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	p.reg.MustRegister(c)
	return c
}

func (p promauto) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	p.reg.MustRegister(c)
	return c
}

var (
	descVetoed = prometheus.NewDesc("bgpsentry_verdicts_vetoed_total",
		"Flagged verdicts the event layer refused, by reason (what the routing data says overrules the model).", []string{"reason"}, nil)
	descAlerts = prometheus.NewDesc("bgpsentry_alerts_total",
		"Alerts by outcome: opened (new), reopened (back within the quiet time, under their id), resolved, "+
			"dropped (never reached the opening conditions), transient (withdrawn before Confirm; also in dropped).", []string{"outcome"}, nil)
)

// eventerStats exports the Eventer's counters, read under the state lock
// at scrape time (the Eventer runs on the classifier goroutine).
type eventerStats struct{ s *service }

func (eventerStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- descVetoed
	ch <- descAlerts
}

func (c eventerStats) Collect(ch chan<- prometheus.Metric) {
	c.s.stMu.RLock()
	e := c.s.ev
	vetoed := e.Vetoed
	out := map[string]int64{"opened": e.Opened, "reopened": e.Reopened, "resolved": e.Resolved, "dropped": e.Dropped, "transient": e.Transient}
	c.s.stMu.RUnlock()
	for i, n := range vetoed {
		ch <- prometheus.MustNewConstMetric(descVetoed, prometheus.CounterValue, float64(n), classifier.VetoNames[i])
	}
	for k, n := range out {
		ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.CounterValue, float64(n), k)
	}
}
