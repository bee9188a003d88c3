package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/bus"
	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// replayProducerFlags are the kafka.* flags of kafka.Flags that a producer
// uses, with the usage text replay shows for them ("" keeps BindFlags').
// The consumer-side ones (group, start-at-end, session timeout, alerts
// topic) mean nothing to replay and are left out of its --help.
var replayProducerFlags = []struct{ name, usage string }{
	{"kafka.brokers", "Kafka brokers to publish to, host:port, comma separated (required)"},
	{"kafka.topic.updates", "Kafka topic the updates are published to; created when missing"},
	{"kafka.partitions", "partitions of the updates topic when replay creates it (an existing topic is used as it is)"},
	{"kafka.replication", "replication factor of the updates topic when replay creates it"},
	{"kafka.dial-timeout", "timeout of a connection to a Kafka broker; an unreachable broker is reported after it. Also how long Ctrl-C waits for the brokers to acknowledge what was already read"},
	{"kafka.compression", ""},
	{"kafka.write-retry", ""},
}

const replaySynopsis = "[flags] --kafka.brokers HOST:PORT[,...] FILE|DIR|GLOB..."

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", replaySynopsis,
		`Reads MRT archives (RIPE RIS, RouteViews, BIRD/OpenBGPD/Quagga dumps; gzip,
bzip2 or plain; several files are merged in timestamp order, directories are
read recursively) and publishes every update to the Kafka updates topic, as
the classifiers of 'bgpsentry serve' consume it: one record per update, value
the protobuf bgpsentry.v1.Update, key the covering aggregate of the prefix (a
session state change goes to every partition). The topic is created when
missing (--kafka.partitions, --kafka.replication). A write returns once every
broker acknowledged it (acks=all).

--speed max (the default) publishes as fast as the brokers take it.
--speed N follows the archive's timestamps N times faster than real time
(1 = real time, 60 = an hour of updates in a minute, 0.5 = half speed),
measured from the first update and the wall clock at the start. A gap in the
archive is waited in full, scaled: a collector outage of 2 hours, or the
hours between two files given together, waits 2 hours at --speed 1 (Ctrl-C
still stops it); --max-gap caps any single wait.

A progress bar is drawn on stderr when it is a terminal; a summary line
(updates published, skipped records by kind, elapsed time, rate) ends every
run. Ctrl-C stops reading, publishes what was already read (waiting up to
--kafka.dial-timeout for the brokers), prints the summary and exits with
status 1. Exit status 2 is a usage error (a missing --kafka.brokers, a bad
flag value).`, stderr)
	var kf kafka.Flags
	bindReplayKafkaFlags(fs, &kf)
	speedFlag := fs.String("speed", "max", "'max' to publish as fast as possible, or a factor N > 0 (fractional allowed) to follow the archive's timestamps N times faster than real time: 1 = real time, 60 = 60x faster")
	maxGap := fs.Duration("max-gap", 0, "with --speed N: the longest single wait between two updates (e.g. 10s); a longer gap in the archive is shortened to this and the rest of the schedule moves up by the difference. 0 = no cap: gaps are waited in full")
	batch := fs.Int("batch", 5000, "updates per Kafka write (each write waits for the acknowledgement of all its records); with --speed N a write also goes out whenever replay waits for the archive's clock")
	collector := fs.String("collector", "", "collector name (Update.Source) for every input (default: guessed per file from its path, e.g. rrc01, route-views2)")
	workers := fs.Int("workers", 0, "MRT decoding goroutines (0 = one per CPU)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "bgpsentry replay: %s\nUsage: bgpsentry replay %s (--help for every flag)\n", fmt.Sprintf(format, a...), replaySynopsis)
		return errUsage
	}
	if fs.NArg() == 0 {
		return usageErr("no input: give MRT files, directories or globs")
	}
	if !kf.Enabled() {
		return usageErr("--kafka.brokers is required (host:port of a Kafka broker, comma separated for several)")
	}
	speed, err := parseSpeed(*speedFlag)
	if err != nil {
		return usageErr("--speed: %v", err)
	}
	if *maxGap < 0 {
		return usageErr("--max-gap must not be negative, not %v", *maxGap)
	}
	if *batch <= 0 {
		return usageErr("--batch must be positive, not %d", *batch)
	}

	// The inputs first: an unreadable or non-MRT input is reported without
	// waiting for a broker. The first Next opens every file and decodes its
	// first batch.
	r, err := openUpdates(fs.Args(), mrt.Options{Workers: *workers, Source: *collector})
	if err != nil {
		return err
	}
	defer r.Close()
	first, ferr := r.Next(ctx)
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		return ferr
	}

	start := time.Now()
	p, err := kafka.NewProducer(ctx, kf.Producer())
	if err != nil {
		return err
	}
	defer p.Close()

	rp := &replayer{cfg: replayerConfig{Speed: speed, MaxGap: *maxGap, Batch: *batch, FlushTimeout: kf.DialTimeout}}
	bar := startProgress(stderr, func() (int64, int64, string) {
		d, t := r.Progress()
		status := fmt.Sprintf("%d updates published", rp.published.Load())
		if at := rp.at.Load(); at != 0 {
			status += ", at " + time.Unix(0, at).UTC().Format(time.RFC3339)
		}
		return d, t, status
	})
	defer bar.Stop()
	runErr := rp.run(ctx, &primedSource{first: first, err: ferr, src: r}, p)
	bar.Stop()
	if cerr := p.Close(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	st := r.Stats()
	rp.summary(stderr, p.Topic(), *speedFlag, &st, time.Since(start), runErr)
	for _, f := range st.SkippedFiles {
		fmt.Fprintf(stderr, "bgpsentry: skipped %s: not an MRT file\n", f)
	}
	for _, s := range st.Samples {
		fmt.Fprintf(stderr, "  %s\n", s.Error())
	}
	if runErr != nil && ctx.Err() != nil && errors.Is(runErr, ctx.Err()) {
		if runErr == ctx.Err() {
			return fmt.Errorf("interrupted: %d updates published, all that was read", rp.published.Load())
		}
		return fmt.Errorf("interrupted: %w", runErr)
	}
	return runErr
}

// bindReplayKafkaFlags binds the producer's kafka.* flags (bound by
// kafka.Flags.BindFlags, so defaults and parsing are the same as serve's)
// to fs.
func bindReplayKafkaFlags(fs *flag.FlagSet, kf *kafka.Flags) {
	all := flag.NewFlagSet("kafka", flag.ContinueOnError)
	kf.BindFlags(all)
	for _, pf := range replayProducerFlags {
		f := all.Lookup(pf.name)
		if f == nil {
			panic("replay: kafka.Flags has no flag " + pf.name)
		}
		usage := pf.usage
		if usage == "" {
			usage = f.Usage
		}
		fs.Var(f.Value, f.Name, usage)
	}
}

// parseSpeed parses --speed: "max" is 0 (no pacing), else a factor > 0.
func parseSpeed(s string) (float64, error) {
	if strings.EqualFold(s, "max") {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, fmt.Errorf("want 'max' or a factor > 0 (1 = real time, 60 = 60x faster), not %q", s)
	}
	return v, nil
}

// replayerConfig configures a replayer (serve's replay section is replayConfig).
type replayerConfig struct {
	Speed  float64       // 0: as fast as possible; N: N times real time
	MaxGap time.Duration // with Speed: longest single wait (0 = no cap)
	Batch  int           // updates per Write
	// FlushTimeout is how long, once ctx is done, the Write in flight and
	// the Write of what was already read may still take.
	FlushTimeout time.Duration

	now   func() time.Time                                 // default time.Now
	sleep func(ctx context.Context, d time.Duration) error // default sleepCtx
}

// replayer moves Updates from a Source to a Sink, paced or not. Its
// counters may be read while it runs.
type replayer struct {
	cfg replayerConfig

	read, published     atomic.Int64
	ann, wd, states     atomic.Int64 // published, by kind
	at                  atomic.Int64 // archive time of the last update read, UnixNano
	waits, capped       atomic.Int64 // pacing waits, of which shortened by MaxGap
	waited              atomic.Int64 // time spent waiting, ns
	firstTime, lastTime time.Time    // archive time range read (set by run)
}

// run reads src to its end (or ctx's) and writes everything it read to
// sink, in order, Batch updates per Write, with at most one Write in
// flight while it reads on. It returns the first error of src (io.EOF is
// the end, not an error) or of sink; what was read before ctx ended is
// still written, within FlushTimeout.
func (rp *replayer) run(ctx context.Context, src bgpfeed.Source, sink bus.Sink) error {
	cfg := &rp.cfg
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = kafka.DefaultDialTimeout
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.sleep == nil {
		cfg.sleep = sleepCtx
	}
	// Writes outlive ctx by FlushTimeout: Ctrl-C publishes what was read.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(cfg.FlushTimeout, wcancel) })
	defer stopGrace()

	w := newPipeWriter(wctx, sink, cfg.Batch, rp)
	pace := pacer{speed: cfg.Speed, maxGap: cfg.MaxGap, now: cfg.now}
	buf := w.buffer()
	var readErr error
	for {
		u, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if cfg.Speed > 0 {
			if d, capped := pace.wait(u.Time); d > 0 {
				// Publish what is due before waiting for the archive's clock.
				if len(buf) > 0 {
					if buf = w.send(buf); buf == nil {
						break
					}
				}
				rp.waits.Add(1)
				if capped {
					rp.capped.Add(1)
				}
				t0 := cfg.now()
				err := cfg.sleep(ctx, d)
				rp.waited.Add(int64(cfg.now().Sub(t0)))
				if err != nil {
					readErr = err
					break
				}
			}
		}
		if rp.firstTime.IsZero() || u.Time.Before(rp.firstTime) {
			rp.firstTime = u.Time
		}
		if u.Time.After(rp.lastTime) {
			rp.lastTime = u.Time
		}
		rp.at.Store(u.Time.UnixNano())
		rp.read.Add(1)
		buf = append(buf, u)
		if len(buf) >= cfg.Batch {
			if buf = w.send(buf); buf == nil {
				break
			}
		}
	}
	if len(buf) > 0 {
		w.send(buf)
	}
	if writeErr := w.close(); writeErr != nil {
		if readErr != nil {
			return fmt.Errorf("%w; publishing what was read: %w", readErr, writeErr)
		}
		return writeErr
	}
	return readErr
}

// summary writes the one-line summary of the run.
func (rp *replayer) summary(w io.Writer, topic, speed string, st *mrt.Stats, el time.Duration, err error) {
	var b strings.Builder
	b.WriteString("replay: ")
	if err != nil {
		b.WriteString("stopped early: ")
	}
	n := rp.published.Load()
	fmt.Fprintf(&b, "%d updates published to %s (%d announcements, %d withdrawals, %d state changes)",
		n, topic, rp.ann.Load(), rp.wd.Load(), rp.states.Load())
	if r := rp.read.Load(); r != n {
		fmt.Fprintf(&b, ", %d read", r)
	}
	fmt.Fprintf(&b, "; files %d, records %d, skipped records %d", st.Files, st.Records, st.TotalSkipped())
	if st.TotalSkipped() > 0 {
		parts := make([]string, 0, len(st.Skipped))
		for _, k := range st.SkippedKinds() {
			parts = append(parts, fmt.Sprintf("%s=%d", k, st.Skipped[k]))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, " "))
	}
	if len(st.SkippedFiles) > 0 {
		fmt.Fprintf(&b, "; skipped files %d (not MRT)", len(st.SkippedFiles))
	}
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(n) / s
	}
	fmt.Fprintf(&b, "; elapsed %s, %.0f updates/s; speed %s", el.Round(time.Millisecond), rate, speed)
	if rp.cfg.Speed > 0 {
		fmt.Fprintf(&b, " (%d waits, %s waited", rp.waits.Load(), time.Duration(rp.waited.Load()).Round(time.Millisecond))
		if c := rp.capped.Load(); c > 0 {
			fmt.Fprintf(&b, ", %d shortened by --max-gap", c)
		}
		b.WriteString(")")
	}
	if !rp.firstTime.IsZero() {
		fmt.Fprintf(&b, "; archive time %s .. %s", rp.firstTime.UTC().Format(time.RFC3339), rp.lastTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w, b.String())
}

// pacer schedules updates: one of archive time t is due at
// start + (t - t0)/speed, where t0 is the archive time of the first update
// and start the wall clock when it was read, moved up by the time --max-gap
// cut from longer waits.
type pacer struct {
	speed  float64
	maxGap time.Duration
	now    func() time.Time

	started bool
	start   time.Time // wall clock at the first update (monotonic)
	t0      time.Time // archive time of the first update
	shift   time.Duration
}

// wait returns how long to wait before the update of archive time t is
// due (0 when it is due already), and whether maxGap shortened the wait.
func (p *pacer) wait(t time.Time) (d time.Duration, capped bool) {
	now := p.now()
	if !p.started {
		p.started, p.start, p.t0 = true, now, t
		return 0, false
	}
	ahead := float64(t.Sub(p.t0)) / p.speed
	if ahead <= 0 {
		return 0, false
	}
	// A bogus far-future timestamp must not overflow the Duration.
	ahead = min(ahead, float64(100*365*24*time.Hour))
	d = p.start.Add(p.shift + time.Duration(ahead)).Sub(now)
	if d <= 0 {
		return 0, false
	}
	if p.maxGap > 0 && d > p.maxGap {
		p.shift -= d - p.maxGap
		return p.maxGap, true
	}
	return d, false
}

// sleepCtx waits d or until ctx is done (then it returns ctx's error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pipeWriter writes batches to a Sink on a goroutine of its own, so that
// reading goes on during a Write. At most one batch waits while one is
// written: the queue is bounded, and a slow broker slows the reading down.
type pipeWriter struct {
	ctx  context.Context
	sink bus.Sink
	rp   *replayer
	in   chan []bgpfeed.Update
	free chan []bgpfeed.Update
	done chan struct{}
	err  error // set before done is closed
}

const pipeBuffers = 3 // one being filled, one queued, one being written

func newPipeWriter(ctx context.Context, sink bus.Sink, batch int, rp *replayer) *pipeWriter {
	w := &pipeWriter{ctx: ctx, sink: sink, rp: rp,
		in: make(chan []bgpfeed.Update, 1), free: make(chan []bgpfeed.Update, pipeBuffers), done: make(chan struct{})}
	for range pipeBuffers {
		w.free <- make([]bgpfeed.Update, 0, batch)
	}
	go w.loop()
	return w
}

func (w *pipeWriter) loop() {
	defer close(w.done)
	for b := range w.in {
		if err := w.sink.Write(w.ctx, b...); err != nil {
			w.err = fmt.Errorf("replay: publish: %w", err)
			return
		}
		var ann, wd, st int64
		for i := range b {
			switch b[i].Kind {
			case bgpfeed.KindAnnounce:
				ann++
			case bgpfeed.KindWithdraw:
				wd++
			case bgpfeed.KindState:
				st++
			}
		}
		w.rp.ann.Add(ann)
		w.rp.wd.Add(wd)
		w.rp.states.Add(st)
		w.rp.published.Add(int64(len(b)))
		clear(b) // drop the Attrs for the collector
		w.free <- b[:0]
	}
}

// buffer returns an empty buffer to fill.
func (w *pipeWriter) buffer() []bgpfeed.Update { return <-w.free }

// send queues b for writing and returns an empty buffer, or nil when the
// writer failed (close returns why).
func (w *pipeWriter) send(b []bgpfeed.Update) []bgpfeed.Update {
	select {
	case w.in <- b:
	case <-w.done:
		return nil
	}
	select {
	case b = <-w.free:
		return b
	case <-w.done:
		return nil
	}
}

// close waits until every queued batch is written and returns the first
// error.
func (w *pipeWriter) close() error {
	close(w.in)
	<-w.done
	return w.err
}

// primedSource returns an Update (or error) read ahead of time, then the
// rest of src.
type primedSource struct {
	first bgpfeed.Update
	err   error
	used  bool
	src   bgpfeed.Source
}

func (s *primedSource) Next(ctx context.Context) (bgpfeed.Update, error) {
	if !s.used {
		s.used = true
		return s.first, s.err
	}
	if errors.Is(s.err, io.EOF) {
		return bgpfeed.Update{}, io.EOF
	}
	return s.src.Next(ctx)
}
