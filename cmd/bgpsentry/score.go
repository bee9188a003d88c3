package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/classifier"
	"github.com/bgpsentry/bgpsentry/features"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// loadClassifier loads --model DIR, or the model embedded in the binary.
// judge hands a scored announcement and its verdict to the Eventer: a
// flagged verdict with its top reasons, and the rules that need no model.
// It returns the flagged class (Benign when the verdict is not flagged).
func judge(clf *classifier.Classifier, ev *classifier.Eventer, c *features.Candidate, v classifier.Verdict, vec []float64) (classifier.Class, error) {
	k := v.Flagged()
	if k != classifier.Benign {
		// The reasons (TreeSHAP) only when the event takes them.
		err := ev.AddLazy(c, v, func() ([]*pb.Reason, error) { return clf.Reasons(vec, k, 5) })
		if err != nil {
			return k, err
		}
	}
	ev.Rules(c, vec)
	return k, nil
}

// weakShare maps the flag's 0 ("none") to the Eventer's "none" (negative;
// its zero value means the default).
func weakShare(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

// sharedSource is the EventerConfig.SharedSource of a --shared-source
// (events.shared_source) setting: 0 or less turns the veto off.
func sharedSource(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// vetoPhrases say, in the summary's order, what each veto's verdicts
// were (every veto once; TestVetoPhrases).
var vetoPhrases = []struct {
	veto   int
	phrase string
}{
	{classifier.VetoLeakNoValley, "route leaks without a valley"},
	{classifier.VetoLeakEstablished, "route leaks through an established valley"},
	{classifier.VetoLeakClique, "route leaks by a tier-1"},
	{classifier.VetoOwnerUpstream, "hijacks carried by the expected origin"},
	{classifier.VetoExpectedUnrouted, "hijacks of an origin only a prefix-to-origin table names"},
	{classifier.VetoPathClique, "path hijacks by a tier-1"},
	{classifier.VetoVictimResponse, "path hijacks that are a hijack victim's response"},
	{classifier.VetoSibling, "hijacks within one organisation"},
	{classifier.VetoLeakLoop, "route leaks on a path with a loop"},
	{classifier.VetoBeacon, "path hijacks or route leaks of a routing beacon"},
	{classifier.VetoLeakSharedSource, "route leaks of an AS another leaker carried at the same time"},
}

// vetoSummary is the summary's count of vetoed verdicts: "N phrase, M
// phrase, ...".
func vetoSummary(vetoed *[len(classifier.VetoNames)]int64) string {
	parts := make([]string, len(vetoPhrases))
	for i, v := range vetoPhrases {
		parts[i] = fmt.Sprintf("%d %s", vetoed[v.veto], v.phrase)
	}
	return strings.Join(parts, ", ")
}

// thresholdFlags are --threshold CLASS=P overrides of the model's alert
// thresholds.
type thresholdFlags map[classifier.Class]float64

func (t thresholdFlags) String() string { return fmt.Sprint(map[classifier.Class]float64(t)) }

func (t thresholdFlags) Set(v string) error {
	name, p, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want CLASS=PROBABILITY, e.g. path_hijack=0.995, not %q", v)
	}
	if _, err := attackClass(name); err != nil {
		return err
	}
	f, err := strconv.ParseFloat(p, 64)
	if err != nil {
		return fmt.Errorf("%s: threshold %q is not a probability in (0, 1]", name, p)
	}
	return t.add(name, f)
}

// add sets the threshold of the attack class named name to f, a
// probability in (0, 1].
func (t thresholdFlags) add(name string, f float64) error {
	k, err := attackClass(name)
	if err != nil {
		return err
	}
	if !(f > 0 && f <= 1) {
		return fmt.Errorf("%s: threshold %q is not a probability in (0, 1]", name, strconv.FormatFloat(f, 'g', -1, 64))
	}
	t[k] = f
	return nil
}

// attackClass is the attack class of classifier.ClassNames named name.
func attackClass(name string) (classifier.Class, error) {
	if i := slices.Index(classifier.ClassNames[:], name); i >= 1 {
		return classifier.Class(i), nil
	}
	return classifier.Benign, fmt.Errorf("unknown class %q: want one of %s", name, strings.Join(classifier.ClassNames[1:], ", "))
}

// apply sets the overrides on clf.
func (t thresholdFlags) apply(clf *classifier.Classifier) {
	for k, f := range t {
		clf.SetThreshold(k, f)
	}
}

func loadClassifier(dir string) (*classifier.Classifier, error) {
	if dir != "" {
		return classifier.Load(dir)
	}
	return classifier.Default()
}

var jsonOpts = protojson.MarshalOptions{UseProtoNames: true}

// marshalJSON is the protojson form of m (proto field names) on one line,
// compacted: protojson puts random blanks in its output, different from
// one build to the next, and the same event should read the same bytes
// whichever build wrote it (TestEventJSONCompact).
func marshalJSON(m proto.Message) ([]byte, error) {
	b, err := jsonOpts.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(b) + 1)
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// scoreLearnEarly: score learns the warm-up while the inputs are read
// for the relationship inference (stateFlags.learnWarmup); the tests turn
// it off to compare.
var scoreLearnEarly = true

func runScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("score", "[flags] FILE|DIR|GLOB...",
		`Batch-scores RIS/RouteViews MRT archives (or RIPEstat bgp-updates responses,
JSON, not mixed with MRT in one run): replays them through the feature
state (bootstrapped from --baseline), classifies every announcement the gate
lets through with the LightGBM model, groups the alerts into events, and
writes one JSON object per event per line (protojson of bgpsentry.v1.AlertEvent,
proto field names): id, type (ORIGIN_HIJACK, SUBPREFIX_HIJACK, PATH_HIJACK,
ROUTE_LEAK), prefix, expected_origins, suspect_asn, confidence, first_seen,
last_seen, peer_count, sample_paths, reasons, ... A progress bar is drawn on
stderr when it is a terminal; a summary follows at the end.`, stderr)
	var sf stateFlags
	sf.bind(fs)
	sf.lazy = true // a batch: nothing reads the state concurrently
	sf.learnEarly = scoreLearnEarly
	defer batchGC()()
	modelDir := fs.String("model", "", "model directory with model.txt and model.json (default: the model embedded in the binary)")
	thresholds := thresholdFlags{}
	fs.Var(thresholds, "threshold", "`CLASS=P`: alert threshold of a class instead of the model's (origin_hijack, subprefix_hijack, path_hijack, route_leak); higher is quieter, at the cost of missed attacks (training/operating-points.md measures it per class); repeatable")
	out := fs.String("o", "-", "output file for the events ('-' = standard output)")
	events := fs.String("events", "final", "which events to write: 'final' (one line per alert, its last state) or 'all' (every OPEN, UPDATE and RESOLVED)")
	collector := fs.String("collector", "", "collector name for every input (default: guessed per file from its path, e.g. rrc01, route-views2)")
	minPeers := fs.Int("min-peers", 2, "distinct peers that must carry an alert before it opens")
	minWeak := fs.Int("min-weak-peers", 5, "distinct peers whose verdicts are weak (the class is the most probable but below its threshold) that open an alert without a strong verdict")
	minLeak := fs.Int("min-leak-prefixes", 10, "prefixes a route-leak alert needs before it opens")
	minShare := fs.Float64("min-weak-share", 0.5, "share of the active peer sessions whose weak verdicts an alert needs to open without a strong one (0: none)")
	quiet := fs.Duration("quiet", time.Hour, "resolve an alert after this long without a new announcement (stream time)")
	shared := fs.Duration("shared-source", 10*time.Minute, "a route leak of an AS (smaller than its leaker) that another leaker also carried less than this long ago raises no alert: the AS is more likely a customer of both that the relationships call a peer (0: no such veto)")
	memory := fs.Duration("memory", time.Minute, "keep an alert that has not opened this long (stream time) after the last route carrying it went, so that peers carrying it one after the other count together (0: forget it at once)")
	vetoed := fs.String("vetoed", "", "also write every vetoed verdict to this file, one JSON object per line (time, peer, prefix, path, class, probability, suspect_asn, veto): why an announcement the model flagged raised no alert")
	confirm := fs.Duration("confirm", 0, "open an alert only once its route has stayed this long (stream time) with --min-peers peers still carrying it; routes withdrawn or replaced sooner (path exploration) raise nothing (0: open at once)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	if *memory < 0 {
		return fmt.Errorf("--memory %v: must not be negative", *memory)
	}
	if *minShare < 0 || *minShare > 1 {
		return fmt.Errorf("--min-weak-share %v: want a share between 0 and 1", *minShare)
	}
	if *events != "final" && *events != "all" {
		return fmt.Errorf("--events must be 'final' or 'all', not %q", *events)
	}
	clf, err := loadClassifier(*modelDir)
	if err != nil {
		return err
	}
	thresholds.apply(clf)
	in := bgpfeed.NewInterner(0)
	opts := mrt.Options{Interner: in, Source: *collector}
	st, err := sf.newState(ctx, fs.Args(), opts, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	nBase, err := sf.bootstrap(ctx, st, in, stderr)
	if err != nil {
		return err
	}
	r, err := sf.openInputs(fs.Args(), opts)
	if err != nil {
		return err
	}
	defer r.Close()

	var w io.Writer = stdout
	if *out != "-" {
		fh, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer fh.Close()
		w = fh
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	var writeErr error
	write := func(ev *pb.AlertEvent) {
		b, err := marshalJSON(ev)
		if err == nil {
			b = append(b, '\n')
			_, err = bw.Write(b)
		}
		if err != nil && writeErr == nil {
			writeErr = err
		}
	}
	final := map[string]*pb.AlertEvent{}
	byType := map[pb.AlertType]int{}
	ev := classifier.NewEventer(classifier.EventerConfig{MinPeers: *minPeers, Quiet: *quiet, MinLeakPrefixes: *minLeak, MinWeakPeers: *minWeak, MinWeakShare: weakShare(*minShare), Confirm: *confirm, Memory: *memory, SharedSource: sharedSource(*shared)}, func(e *pb.AlertEvent) {
		if e.State == pb.AlertState_OPEN {
			byType[e.Type]++
		}
		if *events == "all" {
			write(e)
			return
		}
		final[e.Id] = proto.Clone(e).(*pb.AlertEvent)
	})

	var vw *vetoWriter
	if *vetoed != "" {
		if vw, err = newVetoWriter(*vetoed); err != nil {
			return err
		}
		defer vw.close() // on an early return
		ev.OnVeto = vw.write
	}

	var elements, scoredN, flagged atomic.Int64
	elements.Add(sf.consumed) // learned during the inference pass
	bar := startProgress(stderr, func() (int64, int64, string) {
		d, t := r.Progress()
		return d, t, fmt.Sprintf("%d elements, %d scored, %d flagged", elements.Load(), scoredN.Load(), flagged.Load())
	})
	defer bar.Stop()
	// The state runs on this goroutine and the model on another: updates
	// go over in batches, with the vectors of those the gate let through.
	var inferCost, reasonsCost time.Duration
	batches := make(chan *scoreBatch, 8)
	free := make(chan *scoreBatch, 10)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	cache := classifier.NewCache(clf, 0)
	go func() {
		done <- func() error {
			for b := range batches {
				k := 0
				for i := range b.us {
					u := &b.us[i]
					if c := b.cs[i]; c != nil {
						c.Update = u
						vec := b.vecs[k*features.NumFeatures : (k+1)*features.NumFeatures]
						k++
						scoredN.Add(1)
						t0 := time.Now()
						v, err := cache.Classify(vec)
						inferCost += time.Since(t0)
						if err != nil {
							return err
						}
						t1 := time.Now()
						kind, err := judge(clf, ev, c, v, vec)
						if err != nil {
							return err
						}
						if kind != classifier.Benign {
							flagged.Add(1)
							reasonsCost += time.Since(t1)
						}
					}
					ev.Route(u)
				}
				select {
				case free <- b:
				default:
				}
			}
			return nil
		}()
		cancel()
		for range batches {
		}
	}()
	readErr := func() error {
		defer close(batches)
		b := newScoreBatch(free)
		for {
			u, err := r.Next(cctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			elements.Add(1)
			i := len(b.us)
			b.us = append(b.us, u)
			k := len(b.vecs)
			b.vecs = slices.Grow(b.vecs, features.NumFeatures)[:k+features.NumFeatures]
			c := st.Observe(&b.us[i], b.vecs[k:])
			if c == nil {
				b.vecs = b.vecs[:k]
			}
			b.cs = append(b.cs, c)
			if len(b.us) == cap(b.us) {
				select {
				case batches <- b:
				case <-cctx.Done():
					return cctx.Err()
				}
				b = newScoreBatch(free)
			}
		}
		if len(b.us) > 0 {
			select {
			case batches <- b:
			case <-cctx.Done():
				return cctx.Err()
			}
		}
		return nil
	}()
	if err := <-done; err != nil {
		return err
	}
	if readErr != nil {
		return readErr
	}
	ev.Finish()
	bar.Stop()
	if *events == "final" {
		for _, e := range ev.Open() {
			final[e.Id] = e
		}
		all := make([]*pb.AlertEvent, 0, len(final))
		for _, e := range final {
			all = append(all, e)
		}
		sort.Slice(all, func(i, j int) bool {
			a, b := all[i].FirstSeen.AsTime(), all[j].FirstSeen.AsTime()
			if !a.Equal(b) {
				return a.Before(b)
			}
			return all[i].Id < all[j].Id
		})
		for _, e := range all {
			write(e)
		}
	}
	if writeErr != nil {
		return fmt.Errorf("write: %w", writeErr)
	}
	if vw != nil {
		if err := vw.close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := sf.saveState(st); err != nil {
		return err
	}
	stats := r.Stats()
	obs, scored, learned := st.Counts()
	el := time.Since(start)
	fmt.Fprintf(stderr, "score: model %s; baseline %d entries; %d elements read (%d records, %d skipped) in %s\n",
		clf.Source(), nBase, elements.Load(), stats.Records, stats.TotalSkipped(), el.Round(time.Millisecond))
	fmt.Fprintf(stderr, "score: %d observed, %d learned only (tables, warm-up), %d scored by the model (%.1f µs each; %s), %d flagged (%.1f µs each for the reasons and the event)\n",
		obs, learned, scored, float64(inferCost.Microseconds())/float64(max(scored, 1)), cache, flagged.Load(), float64(reasonsCost.Microseconds())/float64(max(flagged.Load(), 1)))
	fmt.Fprintf(stderr, "score: alerts opened %d (origin hijack %d, sub-prefix hijack %d, path hijack %d, route leak %d, bogon origin %d), reopened %d, resolved %d, dropped below %d peers %d (withdrawn before --confirm %d)\n",
		ev.Opened, byType[pb.AlertType_ORIGIN_HIJACK], byType[pb.AlertType_SUBPREFIX_HIJACK], byType[pb.AlertType_PATH_HIJACK], byType[pb.AlertType_ROUTE_LEAK], byType[pb.AlertType_BOGON_ORIGIN],
		ev.Reopened, ev.Resolved, *minPeers, ev.Dropped, ev.Transient)
	fmt.Fprintln(stderr, "score: flagged verdicts vetoed: "+vetoSummary(&ev.Vetoed))
	reportSkips(stderr, &stats)
	if w := baselineDateWarning(st); w != "" {
		fmt.Fprintln(stderr, "score: warning: "+w)
	}
	return nil
}

// scoreBatch is a run of updates read and observed, with the candidates
// (nil: not scored) and the vectors, in order, of those the gate let
// through.
type scoreBatch struct {
	us   []bgpfeed.Update
	cs   []*features.Candidate
	vecs []float64
}

const scoreBatchLen = 512

// newScoreBatch takes an empty batch from free, or makes one.
func newScoreBatch(free chan *scoreBatch) *scoreBatch {
	select {
	case b := <-free:
		clear(b.us) // drop the references of the batch before
		clear(b.cs)
		b.us, b.cs, b.vecs = b.us[:0], b.cs[:0], b.vecs[:0]
		return b
	default:
		return &scoreBatch{us: make([]bgpfeed.Update, 0, scoreBatchLen), cs: make([]*features.Candidate, 0, scoreBatchLen), vecs: make([]float64, 0, 64*features.NumFeatures)}
	}
}

// vetoWriter writes score --vetoed: one JSON object per vetoed verdict.
type vetoWriter struct {
	f   *os.File
	bw  *bufio.Writer
	enc *json.Encoder
	err error
}

type vetoRecord struct {
	Time        time.Time `json:"time"`
	Collector   string    `json:"collector"`
	Peer        string    `json:"peer"`
	PeerASN     uint32    `json:"peer_asn"`
	Prefix      string    `json:"prefix"`
	Path        string    `json:"path"`
	Class       string    `json:"class"`
	Probability float64   `json:"probability"`
	SuspectASN  uint32    `json:"suspect_asn"`
	Veto        string    `json:"veto"`
}

func newVetoWriter(path string) (*vetoWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--vetoed: %w", err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	return &vetoWriter{f: f, bw: bw, enc: json.NewEncoder(bw)}, nil
}

func (w *vetoWriter) write(c *features.Candidate, k classifier.Class, v classifier.Verdict, suspect uint32, why int) {
	if w.err != nil {
		return
	}
	u := c.Update
	r := vetoRecord{Time: u.Time.UTC(), Collector: u.Source, Peer: u.PeerAddr.String(), PeerASN: u.PeerASN, Prefix: u.Prefix.String(),
		Class: k.String(), Probability: v.Proba[k], SuspectASN: suspect, Veto: classifier.VetoNames[why]}
	if u.Attrs != nil && u.Attrs.Path != nil {
		r.Path = u.Attrs.Path.String()
	}
	w.err = w.enc.Encode(&r)
}

// close flushes and closes the file, once: the first error of writing
// it.
func (w *vetoWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.err
	if e := w.bw.Flush(); err == nil {
		err = e
	}
	if e := w.f.Close(); err == nil {
		err = e
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("--vetoed: %w", err)
	}
	return nil
}
