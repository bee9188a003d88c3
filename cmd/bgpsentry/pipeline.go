package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/bgpfeed/prefix2as"
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
}

func (f *stateFlags) bind(fs *flag.FlagSet) {
	fs.Var(&f.baselines, "baseline", "baseline to bootstrap the state from, before the inputs: an MRT RIB dump (TABLE_DUMP/TABLE_DUMP_V2) or a prefix-to-origin table (pyasn .dat or CAIDA prefix2as, gzip/bzip2/plain); repeatable")
	fs.StringVar(&f.asrel, "asrel", "", "AS relationships, CAIDA serial-1/serial-2 'a|b|rel' (default: inferred from the baseline and warm-up paths)")
	fs.StringVar(&f.asorg, "asorg", "", "CAIDA as-org2info JSONL, for sibling ASes (optional)")
	fs.StringVar(&f.rpki, "rpki", "", "RPKI VRPs, rpki-client or Routinator JSON, for route origin validation (optional)")
	fs.DurationVar(&f.warmup, "warmup", 15*time.Minute, "learn without scoring for this long after the first update (links and origins are all new until the state has seen some traffic)")
	fs.DurationVar(&f.burst, "burst-window", 5*time.Minute, "time constant of the burst counters (mass re-origination, leak waves)")
	fs.StringVar(&f.state, "state", "", "state snapshot file: restored at start when it exists (then --baseline is not needed), written at the end, so consecutive archives can be scored in several runs")
}

// newState loads the reference files and returns an empty state.
func (f *stateFlags) newState() (*features.State, error) {
	cfg := features.Config{Warmup: f.warmup, Burst: f.burst}
	var err error
	if f.asrel != "" {
		if cfg.Rel, err = asrel.Load(f.asrel); err != nil {
			return nil, err
		}
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
	fh, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	zr, _, err := mrt.Decompress(fh)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	head := make([]byte, 12)
	if _, err := io.ReadFull(zr, head); err != nil {
		return false, nil
	}
	t := uint16(head[4])<<8 | uint16(head[5])
	l := uint32(head[8])<<24 | uint32(head[9])<<16 | uint32(head[10])<<8 | uint32(head[11])
	return (t == 12 || t == 13 || t == 16 || t == 17) && l < 16<<20, nil
}

// loadBaselines feeds every baseline into st as table entries. It returns
// the number of entries and the skip reports.
func loadBaselines(ctx context.Context, st *features.State, paths []string, in *bgpfeed.Interner, stderr io.Writer) (int64, error) {
	var n int64
	for _, p := range paths {
		m, err := isMRT(p)
		if err != nil {
			return n, fmt.Errorf("baseline: %w", err)
		}
		var src bgpfeed.Source
		var closer func() error
		var report func()
		if m {
			r, err := mrt.Open([]string{p}, mrt.Options{Interner: in})
			if err != nil {
				return n, fmt.Errorf("baseline: %w", err)
			}
			src, closer = r, r.Close
			report = func() { st := r.Stats(); reportSkips(stderr, &st) }
		} else {
			r, err := prefix2as.Open(p, in)
			if err != nil {
				return n, fmt.Errorf("baseline: %w", err)
			}
			src, closer = r, r.Close
			report = func() {
				if k, samples := r.Skipped(); k > 0 {
					fmt.Fprintf(stderr, "bgpsentry: baseline %s: skipped %d malformed lines\n", p, k)
					for _, s := range samples {
						fmt.Fprintf(stderr, "  %s\n", s.Error())
					}
				}
			}
		}
		for {
			u, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				closer()
				return n, fmt.Errorf("baseline: %w", err)
			}
			u.Table = true // a baseline never alerts, whatever it is
			st.Observe(&u, nil)
			n++
		}
		closer()
		report()
	}
	return n, nil
}
