package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/bgpfeed/prefix2as"
	"github.com/bgpsentry/bgpsentry/bgpfeed/ripestat"
	"github.com/bgpsentry/bgpsentry/features"
	"github.com/bgpsentry/bgpsentry/features/asorg"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/rpki"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// stateFlags are the inputs of the feature state shared by featurize,
// score and serve.
type stateFlags struct {
	baselines stringList
	asrel     string
	asorg     string
	rpki      string
	warmup    time.Duration
	burst     time.Duration
	state     string
	infer     string
	cache     string

	// The relationships newState infers from the inputs, in the
	// background while the baselines load (finish hands them over).
	inferDone chan struct{}
	inferred  *asrel.Graph
	inferErr  error
	// kept are the inputs as the inference read them, for the pass that
	// follows (openInputs), nil when they were too many to keep. keptRead
	// has them as soon as they are read, before the inference.
	kept     *keptInputs
	keptRead chan *keptInputs
	// lazy keeps prefix-to-origin baselines aside until updates touch
	// their prefixes (features.State.LearnOriginsLazy): for the batch
	// commands, whose state is not read concurrently (Featurize).
	lazy bool
	// learnEarly: while the relationships are inferred, the state learns
	// the warm-up of the inputs as the inference reads them (warm, the
	// kept updates chunk by chunk), instead of after (score). consumed is
	// how many updates it learned so: openInputs starts after them.
	learnEarly bool
	warm       chan []bgpfeed.Update
	consumed   int64
}

func (f *stateFlags) bind(fs *flag.FlagSet) {
	fs.Var(&f.baselines, "baseline", "baseline to bootstrap the state from, before the inputs: an MRT RIB dump (TABLE_DUMP/TABLE_DUMP_V2) or a prefix-to-origin table (pyasn .dat or CAIDA prefix2as, gzip/bzip2/plain); repeatable")
	fs.StringVar(&f.asrel, "asrel", "", "AS relationships, CAIDA serial-1/serial-2 'a|b|rel' (default: inferred from the baseline and warm-up paths)")
	fs.StringVar(&f.asorg, "asorg", "", "CAIDA as-org2info JSONL, for sibling ASes (optional)")
	fs.StringVar(&f.rpki, "rpki", "", "RPKI VRPs, rpki-client or Routinator JSON, for route origin validation (optional)")
	fs.DurationVar(&f.warmup, "warmup", 15*time.Minute, "learn without scoring for this long after the first update (links and origins are all new until the state has seen some traffic)")
	fs.DurationVar(&f.burst, "burst-window", 5*time.Minute, "time constant of the burst counters (mass re-origination, leak waves)")
	fs.StringVar(&f.infer, "infer-relations", "inputs", "without --asrel, infer AS relationships from 'inputs' (a first pass over the baselines and inputs: batch mode) or 'warmup' (the paths seen until the warm-up ends: live mode)")
	fs.StringVar(&f.cache, "table-cache", "", "directory of the parsed prefix-to-origin baselines, by their content's SHA-256, read instead of the text the next time (about 5x faster), and of the table images batch runs map in place when every baseline is such a table (checked, rewritten when damaged; kept under 2 GiB, least recently used out first) (default: bgpsentry in the user cache directory, $XDG_CACHE_HOME or ~/.cache; 'off': no cache)")
	fs.StringVar(&f.state, "state", "", "state snapshot file: restored at start when it exists (then --baseline is not needed), written at the end, so consecutive archives can be scored in several runs")
}

// newState loads the reference files and returns an empty state (or the
// one restored from --state). inputs are the files to be replayed, for
// --infer-relations inputs, and opts the options they are read with
// (openInputs).
func (f *stateFlags) newState(ctx context.Context, inputs []string, opts mrt.Options, stderr io.Writer) (*features.State, error) {
	cfg := features.Config{Warmup: f.warmup, Burst: f.burst}
	var err error
	switch {
	case f.asrel != "":
		if cfg.Rel, err = asrel.Load(f.asrel); err != nil {
			return nil, err
		}
	case f.infer == "inputs":
		// A first pass over the inputs, on the other core while the
		// baselines load: learning table entries does not use inferred
		// relationships (they never make a link known), so giving them to
		// the state afterwards (finish, UseInferredRelations) is the same
		// as starting with them (TestInferConcurrentSame).
		f.inferDone = make(chan struct{})
		f.keptRead = make(chan *keptInputs, 1)
		if f.learnEarly {
			// Room for every chunk: the inference never waits for the state.
			f.warm = make(chan []bgpfeed.Update, maxKept/keptChunk+2)
		}
		go func() {
			defer close(f.inferDone)
			f.inferred, f.kept, f.inferErr = inferRelations(ctx, f.baselines, inputs, opts, maxKept, f.warm, func(k *keptInputs) { f.keptRead <- k }, stderr)
		}()
	case f.infer == "warmup":
	default:
		return nil, fmt.Errorf("--infer-relations must be 'inputs' or 'warmup', not %q", f.infer)
	}
	if f.asorg != "" {
		if cfg.Orgs, err = asorg.Load(f.asorg); err != nil {
			return nil, err
		}
	}
	if f.rpki != "" {
		if cfg.RPKI, err = rpki.Load(f.rpki); err != nil {
			return nil, err
		}
	}
	if f.state != "" {
		if _, err := os.Stat(f.state); err == nil {
			return features.LoadFile(f.state, cfg, nil)
		}
	}
	return features.NewState(cfg), nil
}

// bootstrap loads the baselines into st, then hands it the relationships
// inferred meanwhile (finish).
func (f *stateFlags) bootstrap(ctx context.Context, st *features.State, in *bgpfeed.Interner, stderr io.Writer) (int64, error) {
	var n int64
	var err error
	if f.lazy && f.cacheDir() != "" {
		n, err = loadImaged(ctx, st, f.baselines, in, f.cacheDir(), stderr)
	} else {
		n, err = loadBaselines(ctx, st, f.baselines, in, f.lazy, f.cacheDir(), stderr, stderr)
	}
	if err != nil {
		return n, err
	}
	st.SealTable() // while the inference may still be reading
	return n, f.finish(st)
}

// loadImaged is loadBaselines (lazy) through a table image in the cache
// directory when every baseline is a prefix-to-origin table: the image of
// these tables, if there is one that checks out, else the tables, of
// which the image is then written (features.State.SealTableImage). The
// state answers the same either way (TestScoreTableCache); what the
// tables' reading skipped is reported again from the image.
func loadImaged(ctx context.Context, st *features.State, paths []string, in *bgpfeed.Interner, dir string, stderr io.Writer) (int64, error) {
	key, ok := imageKey(paths)
	if !ok || len(paths) == 0 {
		return loadBaselines(ctx, st, paths, in, true, dir, stderr, stderr)
	}
	file := filepath.Join(dir, hex.EncodeToString(key[:16])+".img")
	if note, err := st.LoadTableImage(file, key, in); err == nil {
		n, skips, err := decodeImageNote(note)
		if err != nil {
			return 0, fmt.Errorf("baseline: %s: %w", file, err)
		}
		io.WriteString(stderr, skips)
		prefix2as.UsedCacheFile(file)
		return n, nil
	}
	var skips strings.Builder
	n, err := loadBaselines(ctx, st, paths, in, true, dir, stderr, io.MultiWriter(stderr, &skips))
	if err != nil {
		return n, err
	}
	note := binary.AppendUvarint(nil, uint64(n))
	note = append(note, skips.String()...)
	err = prefix2as.WriteCacheFile(file, func(w io.Writer) error { return st.SealTableImage(w, key, note) })
	if err != nil && !errors.Is(err, features.ErrNoImage) {
		fmt.Fprintf(stderr, "bgpsentry: baselines not imaged (--table-cache off to stop trying): %v\n", err)
	}
	return n, nil
}

// imageKey is the key of the table image of the baselines: a digest of
// this build (its version, and its executable's size and time, so that a
// rebuilt development binary of the same version does not take an image
// of another's making) and of each table's bytes, size and time; not ok
// if one is an MRT file or cannot be read.
func imageKey(paths []string) (key [sha256.Size]byte, ok bool) {
	h := sha256.New()
	fmt.Fprintf(h, "bgpsentry %s table image\n", version)
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			fmt.Fprintf(h, "executable %d %d\n", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	for _, p := range paths {
		if m, err := isMRT(p); err != nil || m {
			return key, false
		}
		fi, err := os.Stat(p)
		if err != nil {
			return key, false
		}
		sum, err := prefix2as.HashFile(p)
		if err != nil {
			return key, false
		}
		fmt.Fprintf(h, "%x %d %d\n", sum, fi.Size(), fi.ModTime().UnixNano())
	}
	copy(key[:], h.Sum(nil))
	return key, true
}

// decodeImageNote reads what loadImaged notes in an image: the number of
// entries, then the skip reports.
func decodeImageNote(note []byte) (int64, string, error) {
	n, k := binary.Uvarint(note)
	if k <= 0 || n > math.MaxInt64 {
		return 0, "", errors.New("table image without its entry count")
	}
	return int64(n), string(note[k:]), nil
}

// finish waits for the relationships newState infers in the background,
// if any, and gives them to st.
func (f *stateFlags) finish(st *features.State) error {
	if f.inferDone == nil {
		return nil
	}
	if f.warm != nil {
		f.learnWarmup(st)
	}
	// While the relationships are inferred (one core), the lazy baseline
	// puts the prefixes the updates touch in the trie, as the first
	// update of each would (the state answers the same).
	select {
	case k := <-f.keptRead:
		if k != nil && st.TablePending() {
			k.touch(st, f.consumed)
			st.TouchedAhead() // the scoring pass observes exactly these
		}
	case <-f.inferDone:
	}
	<-f.inferDone
	f.inferDone = nil
	if f.inferErr != nil {
		f.kept = nil
		return f.inferErr
	}
	st.UseInferredRelations(f.inferred)
	return nil
}

// cacheDir is the table cache directory of --table-cache ("" for none):
// the user cache directory's bgpsentry by default, none if there is no
// user cache directory.
func (f *stateFlags) cacheDir() string {
	switch f.cache {
	case "off":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "bgpsentry")
	}
	return f.cache
}

// learnWarmup has st learn the updates of the inputs as the inference
// reads them, for as long as they need no relationships (the warm-up:
// features.State.LearnsOnly), keeping aside what of them does need them
// (DeferRelations) until finish hands them over. The state then answers
// as if it had learned them after (TestLearnEarlySame); the scoring pass
// is shorter by the warm-up.
func (f *stateFlags) learnWarmup(st *features.State) {
	st.DeferRelations()
	learning := true
	for c := range f.warm { // closed when the inputs are read
		for i := 0; learning && i < len(c); i++ {
			if !st.LearnsOnly(&c[i]) {
				learning = false
				break
			}
			st.Observe(&c[i], nil)
			c[i] = bgpfeed.Update{} // the state keeps what it needs of it
			f.consumed++
		}
	}
	f.warm = nil
}

// How far a baseline may be from the data before score warns: a table
// made after the data knows prefixes that changed hands in between under
// their new origin, and one long before it under their old one; either
// way their announcements in the data look hijacked.
const (
	baselineAfterMax  = 7 * 24 * time.Hour
	baselineBeforeMax = 183 * 24 * time.Hour
)

// baselineDateWarning says (or returns "") that the baselines st learned
// are dated well after the data's first update, or long before it.
func baselineDateWarning(st *features.State) string {
	first, last, ok := st.TableTimes()
	live, ok2 := st.FirstLive()
	if !ok || !ok2 {
		return ""
	}
	days := func(d time.Duration) int { return int(d.Hours() / 24) }
	switch {
	case last.Sub(live) > baselineAfterMax:
		return fmt.Sprintf("a baseline is dated %s, %d days after the data's first update (%s): the prefixes that changed hands in between are known under their later origin, so their announcements in the data can look hijacked (use a RIB dump or table from before the data)",
			last.Format(time.DateOnly), days(last.Sub(live)), live.Format(time.RFC3339))
	case live.Sub(first) > baselineBeforeMax:
		return fmt.Sprintf("a baseline is dated %s, %d days before the data's first update (%s): the prefixes that changed hands since are known under their old origin, so their announcements in the data can look hijacked (use a RIB dump or table closer to the data)",
			first.Format(time.DateOnly), days(live.Sub(first)), live.Format(time.RFC3339))
	}
	return ""
}

// saveState writes the snapshot when --state is set.
func (f *stateFlags) saveState(st *features.State) error {
	if f.state == "" {
		return nil
	}
	return st.SaveFile(f.state)
}

// isMRT reports whether a file holds MRT records (else it is taken for a
// prefix-to-origin table).
func isMRT(path string) (bool, error) {
	zr, err := mrt.OpenFile(path)
	if err != nil {
		return false, err
	}
	defer zr.Close()
	head := make([]byte, 12)
	if _, err := io.ReadFull(zr, head); err != nil {
		return false, nil
	}
	t := uint16(head[4])<<8 | uint16(head[5])
	l := uint32(head[8])<<24 | uint32(head[9])<<16 | uint32(head[10])<<8 | uint32(head[11])
	return (t == 12 || t == 13 || t == 16 || t == 17) && l < 16<<20, nil
}

// loadBaselines feeds every baseline into st as table entries, the
// prefix-to-origin tables lazily if lazy is set (LearnOriginsLazy). It
// returns the number of entries; it writes what it skipped (malformed
// lines and records) to skips, other notices to stderr.
func loadBaselines(ctx context.Context, st *features.State, paths []string, in *bgpfeed.Interner, lazy bool, cacheDir string, stderr, skips io.Writer) (int64, error) {
	var n int64
	for _, p := range paths {
		m, err := isMRT(p)
		if err != nil {
			return n, fmt.Errorf("baseline: %w", err)
		}
		if !m {
			k, err := loadTable(ctx, st, p, in, lazy, cacheDir, stderr, skips)
			n += k
			if err != nil {
				return n, fmt.Errorf("baseline: %w", err)
			}
			continue
		}
		r, err := mrt.Open([]string{p}, mrt.Options{Interner: in})
		if err != nil {
			return n, fmt.Errorf("baseline: %w", err)
		}
		src, closer := bgpfeed.Source(r), r.Close
		report := func() { st := r.Stats(); reportSkips(skips, &st) }
		pctx, cancel := context.WithCancel(ctx)
		pf := prefetch(pctx, src)
		for {
			u, err := pf.Next(pctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				cancel()
				closer()
				return n, fmt.Errorf("baseline: %w", err)
			}
			u.Table = true // a baseline never alerts, whatever it is
			st.Observe(&u, nil)
			n++
		}
		cancel()
		closer()
		report()
	}
	return n, nil
}

// reserveFamily reserves room for hint entries of first's family: a
// prefix-to-origin table is of one family.
func reserveFamily(first netip.Prefix, hint int, reserve func(v4, v6 int)) {
	if first.Addr().Is4() {
		reserve(hint, 0)
	} else {
		reserve(0, hint)
	}
}

// loadTable feeds a prefix-to-origin table into st as table entries
// (features.State.LearnTable, or LearnOriginsLazy if lazy), read in batches
// on another goroutine, through the table cache in cacheDir ("" for none).
func loadTable(ctx context.Context, st *features.State, path string, in *bgpfeed.Interner, lazy bool, cacheDir string, stderr, skips io.Writer) (int64, error) {
	r, err := prefix2as.OpenCached(path, in, cacheDir)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	// A batch holds table entries, or origin entries if lazy.
	type batch struct {
		when time.Time
		es   []features.TableEntry
		os   []features.OriginEntry
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan batch, 4)
	free := make(chan batch, 6)
	go func() {
		defer close(full)
		buf := make([]prefix2as.Entry, 0, 4096)
		for {
			var b batch
			select {
			case b = <-free:
			default:
			}
			if lazy {
				// The batch's own slice: it is read while the next fills.
				if b.os == nil {
					b.os = make([]features.OriginEntry, 0, cap(buf))
				}
				b.os, b.when, b.err = r.ReadOrigins(ctx, b.os[:0])
			} else {
				buf, b.when, b.err = r.ReadEntries(ctx, buf[:0])
				b.es = b.es[:0]
				for _, e := range buf {
					b.es = append(b.es, features.TableEntry{Prefix: e.Prefix, Path: e.Attrs.Path})
				}
			}
			select {
			case full <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	var n int64
	for b := range full {
		if lazy {
			st.LearnOriginsLazy(b.when, b.os, in) // makes the table ReserveLazy sizes
			if n == 0 && len(b.os) > 0 {
				reserveFamily(b.os[0].Prefix, r.SizeHint(), st.ReserveLazy)
			}
			n += int64(len(b.os))
		} else {
			if n == 0 && len(b.es) > 0 {
				reserveFamily(b.es[0].Prefix, r.SizeHint(), st.Reserve)
			}
			st.LearnTable(b.when, b.es)
			n += int64(len(b.es))
		}
		if b.err != nil {
			if !errors.Is(b.err, io.EOF) {
				return n, b.err
			}
			break
		}
		select {
		case free <- b:
		default:
		}
	}
	if s, err := r.CacheStatus(); s == prefix2as.CacheFailed {
		fmt.Fprintf(stderr, "bgpsentry: baseline %s: not cached (--table-cache off to stop trying): %v\n", path, err)
	}
	if k, samples := r.Skipped(); k > 0 {
		fmt.Fprintf(skips, "bgpsentry: baseline %s: skipped %d malformed lines\n", path, k)
		for _, s := range samples {
			fmt.Fprintf(skips, "  %s\n", s.Error())
		}
	}
	return n, nil
}

// inputReader is what the commands read their inputs through: an
// mrt.Reader, or the updates the relationship inference kept.
type inputReader interface {
	bgpfeed.Source
	Progress() (done, total int64)
	Stats() mrt.Stats
	Close() error
}

// openInputs opens the inputs newState was given, with the options it was
// given: the updates the relationship inference decoded when it kept them
// (they are handed out once), else the files again.
func (f *stateFlags) openInputs(inputs []string, opts mrt.Options) (inputReader, error) {
	if k := f.kept; k != nil {
		f.kept = nil
		k.skip(f.consumed)
		return k, nil
	}
	r, err := openUpdates(inputs, opts)
	if err != nil || f.consumed == 0 {
		return r, err
	}
	// The inputs were too many to keep: read again, after those learned.
	for i := int64(0); i < f.consumed; i++ {
		if _, err := r.Next(context.Background()); err != nil {
			r.Close()
			return nil, fmt.Errorf("reading the inputs again: %w", err)
		}
	}
	return r, nil
}

// openUpdates opens the inputs of the commands that replay updates (score,
// featurize, dump, replay, serve's replay): MRT files, directories and
// globs (mrt.Open), or RIPEstat bgp-updates responses (JSON files,
// bgpfeed/ripestat), not both in one run.
func openUpdates(args []string, opts mrt.Options) (inputReader, error) {
	files, err := mrt.Expand(args)
	if err != nil {
		return nil, err
	}
	var js, other []string
	for _, f := range files {
		ok, err := ripestat.Is(f)
		if err != nil {
			return nil, err
		}
		if ok {
			js = append(js, f)
		} else {
			other = append(other, f)
		}
	}
	switch {
	case len(js) == 0:
		return mrt.Open(args, opts)
	case len(other) > 0:
		return nil, fmt.Errorf("the inputs mix MRT files (%s) and RIPEstat JSON (%s): give them to separate runs", other[0], js[0])
	}
	return ripestat.Open(js, ripestat.Options{Interner: opts.Interner})
}

// maxKept bounds the updates the relationship inference keeps for the
// scoring pass (about 500 bytes each with their attributes, on RIS update
// files: 185k updates of a 5-minute rrc01 file keep 90 MB): beyond it,
// the inputs are decoded a second time instead.
var maxKept = 1 << 18 // a variable for the tests

// keptInputs replays the updates of the inputs read once already. They
// are kept in chunks of keptChunk, so that keeping more never copies
// those kept (a growing slice of 185k updates copied 45 MB).
type keptInputs struct {
	chunks [][]bgpfeed.Update
	n      int64
	i      atomic.Int64
	stats  mrt.Stats
	// dropped: there were more than the bound, none are kept.
	dropped bool
	// warm, if not nil, is sent each chunk once full, the last one when
	// the reading ends, and then closed (stateFlags.learnWarmup).
	warm chan<- []bgpfeed.Update
}

const keptChunk = 4096

// add keeps u, unless more than keep are kept (then none are, and no
// more chunks go to warm).
func (k *keptInputs) add(u bgpfeed.Update, keep int) {
	if k.dropped {
		return
	}
	if k.n >= int64(keep) {
		k.chunks, k.n, k.dropped = nil, 0, true // too many: the inputs are read again
		return
	}
	if last := len(k.chunks) - 1; last < 0 || len(k.chunks[last]) == keptChunk {
		k.chunks = append(k.chunks, make([]bgpfeed.Update, 0, keptChunk))
	}
	last := len(k.chunks) - 1
	k.chunks[last] = append(k.chunks[last], u)
	k.n++
	if k.warm != nil && len(k.chunks[last]) == keptChunk {
		k.warm <- k.chunks[last] // full: the reader no longer touches it
	}
}

// endWarm sends warm the last chunk, if not full (and sent already), and
// closes it.
func (k *keptInputs) endWarm() {
	if k.warm == nil {
		return
	}
	if last := len(k.chunks) - 1; !k.dropped && last >= 0 && len(k.chunks[last]) < keptChunk {
		k.warm <- k.chunks[last]
	}
	close(k.warm)
	k.warm = nil
}

// skip starts the reading after the first n updates (learned already),
// dropping their chunks.
func (k *keptInputs) skip(n int64) {
	for i := int64(0); i < n/keptChunk && i < int64(len(k.chunks)); i++ {
		k.chunks[i] = nil
	}
	k.i.Store(min(n, k.n))
}

func (k *keptInputs) Next(ctx context.Context) (bgpfeed.Update, error) {
	i := k.i.Load()
	if i&1023 == 0 {
		if err := ctx.Err(); err != nil {
			return bgpfeed.Update{}, err
		}
	}
	if i >= k.n {
		return bgpfeed.Update{}, io.EOF
	}
	c := k.chunks[i/keptChunk]
	u := c[i%keptChunk]
	c[i%keptChunk] = bgpfeed.Update{} // the state keeps what it needs of it
	if i%keptChunk == keptChunk-1 {
		k.chunks[i/keptChunk] = nil
	}
	k.i.Store(i + 1)
	return u, nil
}

// touch has st's lazy baseline put the prefixes of the kept updates from
// the from-th on in its trie (features.State.TouchTable).
func (k *keptInputs) touch(st *features.State, from int64) {
	for j, c := range k.chunks {
		for i := range c {
			if int64(j*keptChunk+i) < from {
				continue
			}
			if u := &c[i]; u.Kind == bgpfeed.KindAnnounce || u.Kind == bgpfeed.KindWithdraw {
				st.TouchTable(u.Prefix)
			}
		}
	}
}

func (k *keptInputs) Progress() (done, total int64) { return k.i.Load(), k.n }
func (k *keptInputs) Stats() mrt.Stats              { return k.stats }
func (k *keptInputs) Close() error                  { k.chunks = nil; return nil }

// inferRelations reads the MRT baselines and inputs once, before scoring,
// and infers AS relationships from every distinct path (Gao-style, with a
// tier-1 clique): batch scoring knows the whole archive's topology, which
// is far better than the warm-up's few minutes. It reads the inputs with
// opts, as the pass that follows does, and returns their updates for it
// when there are at most keep of them (openInputs). read, if not nil, is
// given those updates (or nil) as soon as they are read, before the
// inference: it must not change them. warm, if not nil, is given them
// chunk by chunk as they are read, and closed (keptInputs.warm).
func inferRelations(ctx context.Context, baselines, inputs []string, opts mrt.Options, keep int, warm chan<- []bgpfeed.Update, read func(*keptInputs), stderr io.Writer) (*asrel.Graph, *keptInputs, error) {
	kept := &keptInputs{warm: warm}
	defer kept.endWarm() // on an error too
	var files []string
	for _, b := range baselines {
		if m, err := isMRT(b); err == nil && m {
			files = append(files, b)
		}
	}
	if opts.Interner == nil {
		opts.Interner = bgpfeed.NewInterner(0)
	}
	seen := features.NewPathSet()
	readFiles := func(files []string, opts mrt.Options, kept *keptInputs) error {
		r, err := openUpdates(files, opts)
		if err != nil {
			return err
		}
		defer r.Close()
		for {
			u, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if u.Kind == bgpfeed.KindAnnounce && u.Attrs != nil && u.Attrs.Path != nil {
				seen.Add(u.Attrs.Path)
			}
			if kept != nil {
				kept.add(u, keep)
			}
		}
		if kept != nil {
			kept.stats = r.Stats()
		}
		return nil
	}
	// The baselines with the inputs' interner, so that a path of both is
	// one *Path in seen.
	if len(files) > 0 {
		if err := readFiles(files, mrt.Options{Interner: opts.Interner}, nil); err != nil {
			return nil, nil, err
		}
	}
	if len(inputs) > 0 {
		if err := readFiles(inputs, opts, kept); err != nil {
			return nil, nil, err
		}
	}
	kept.endWarm()
	if kept.dropped || len(inputs) == 0 {
		kept = nil
	}
	if read != nil {
		read(kept)
	}
	g := seen.Infer()
	st := g.Stats()
	fmt.Fprintf(stderr, "bgpsentry: relationships inferred from %d distinct paths: %d links (%d provider-customer, %d peer)\n", seen.Len(), g.Len(), st.InferredP2C, st.InferredP2P+st.InferredClique)
	return g, kept, nil
}

// prefetch reads src on its own goroutine, in batches, so that decoding a
// source and applying it to the state use both cores. The order is kept;
// src's error (io.EOF at the end) comes after its last Update. Cancel ctx
// to stop the goroutine early.
func prefetch(ctx context.Context, src bgpfeed.Source) bgpfeed.Source {
	p := &prefetcher{ch: make(chan prefetchBatch, 4)}
	go func() {
		defer close(p.ch)
		for {
			b := prefetchBatch{us: make([]bgpfeed.Update, 0, 2048)}
			for len(b.us) < cap(b.us) {
				u, err := src.Next(ctx)
				if err != nil {
					b.err = err
					break
				}
				b.us = append(b.us, u)
			}
			select {
			case p.ch <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	return p
}

type prefetchBatch struct {
	us  []bgpfeed.Update
	err error
}

type prefetcher struct {
	ch  chan prefetchBatch
	cur prefetchBatch
	i   int
	err error
}

func (p *prefetcher) Next(ctx context.Context) (bgpfeed.Update, error) {
	for p.i >= len(p.cur.us) {
		if p.err != nil {
			return bgpfeed.Update{}, p.err
		}
		if p.cur.err != nil {
			p.err = p.cur.err
			return bgpfeed.Update{}, p.err
		}
		b, ok := <-p.ch
		if !ok {
			if err := ctx.Err(); err != nil {
				return bgpfeed.Update{}, err
			}
			return bgpfeed.Update{}, io.EOF
		}
		p.cur, p.i = b, 0
	}
	u := p.cur.us[p.i]
	p.i++
	return u, nil
}
