package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/features"
)

// labelKey identifies an injected announcement: its second, peer, prefix.
type labelKey struct {
	sec    int64
	peer   netip.Addr
	prefix netip.Prefix
}

type labelRow struct {
	label, scenario, attacker string
}

// readLabels reads a labels CSV written by `bgpsentry inject`:
// time_unix,peer_addr,prefix,label,scenario,attacker_asn.
func readLabels(path string) (map[labelKey]labelRow, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	want := []string{"time_unix", "peer_addr", "prefix", "label", "scenario", "attacker_asn"}
	if strings.Join(head, ",") != strings.Join(want, ",") {
		return nil, fmt.Errorf("labels %s: header %q, want %q", path, strings.Join(head, ","), strings.Join(want, ","))
	}
	out := map[labelKey]labelRow{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("labels %s:%d: %w", path, line, err)
		}
		sec, err1 := strconv.ParseInt(rec[0], 10, 64)
		peer, err2 := netip.ParseAddr(rec[1])
		pfx, err3 := netip.ParsePrefix(rec[2])
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("labels %s:%d: %w", path, line, err)
		}
		k := labelKey{sec, peer, pfx}
		if _, dup := out[k]; !dup {
			out[k] = labelRow{rec[3], rec[4], rec[5]}
		}
	}
}

func runFeaturize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("featurize", "[flags] FILE|DIR|GLOB...",
		`Replays MRT archives through the feature state and writes one CSV row per
scored announcement: the features (header = feature names, in the order of
the model contract), then the columns label, gated, scenario, attacker_asn,
background, time, peer_asn, prefix, origin_asn, suspect_asn, path.
These are the training rows: the same code computes the features when
bgpsentry scores or serves. With --labels (written by 'bgpsentry inject'),
labelled announcements get their class and are written even when the gate
would not score them (gated=0), so that a miss counts as a miss.`, stderr)
	var sf stateFlags
	sf.bind(fs)
	sf.lazy = true // a batch: nothing reads the state concurrently
	defer batchGC()()
	out := fs.String("o", "-", "output CSV file ('-' = standard output)")
	labels := fs.String("labels", "", "labels CSV of injected announcements (time_unix,peer_addr,prefix,label,scenario,attacker_asn)")
	benignRate := fs.Float64("benign-rate", 1, "fraction of unlabelled (benign) gated rows to keep, chosen by a hash of the row (deterministic)")
	background := fs.String("background", "", "name of the background written in the background column (default: the collector of the first input)")
	collector := fs.String("collector", "", "collector name for every input (default: guessed per file from its path); use it when replaying one collector's archives together with injected files named otherwise")
	schema := fs.Bool("schema", false, "print the feature schema (version and names, JSON) and exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *schema {
		b, _ := json.Marshal(map[string]any{"schema_version": features.SchemaVersion, "feature_names": features.NameList()})
		_, err := fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	var lab map[labelKey]labelRow
	if *labels != "" {
		var err error
		if lab, err = readLabels(*labels); err != nil {
			return err
		}
	}
	in := bgpfeed.NewInterner(0)
	opts := mrt.Options{Interner: in, Source: *collector}
	st, err := sf.newState(ctx, fs.Args(), opts, stderr)
	if err != nil {
		return err
	}
	if _, err := sf.bootstrap(ctx, st, in, stderr); err != nil {
		return err
	}
	r, err := sf.openInputs(fs.Args(), opts)
	if err != nil {
		return err
	}
	defer r.Close()
	bg := *background
	if bg == "" {
		bg = mrt.CollectorName(fs.Arg(0))
	}
	var w io.Writer = stdout
	if *out != "-" {
		fh, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer fh.Close()
		w = fh
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := csv.NewWriter(bw)
	head := append(features.NameList(), "label", "gated", "scenario", "attacker_asn", "background", "time", "peer_asn", "prefix", "origin_asn", "suspect_asn", "path")
	if err := cw.Write(head); err != nil {
		return err
	}
	vec := make([]float64, features.NumFeatures)
	rec := make([]string, len(head))
	var rows, labelled, missedGate int64
	matched := map[labelKey]bool{}
	for {
		u, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		var lr labelRow
		isLab := false
		if lab != nil && u.Kind == bgpfeed.KindAnnounce {
			k := labelKey{u.Time.Unix(), u.PeerAddr, u.Prefix}
			lr, isLab = lab[k]
			if isLab {
				matched[k] = true
			}
		}
		var c *features.Candidate
		gated := false
		if isLab {
			c, gated = st.ObserveAll(&u, vec)
		} else {
			c = st.Observe(&u, vec)
			gated = c != nil
		}
		if c == nil {
			continue
		}
		if !isLab {
			lr = labelRow{label: "benign", scenario: "", attacker: ""}
			if *benignRate < 1 && !keep(&u, *benignRate) {
				continue
			}
		} else {
			labelled++
			if !gated {
				missedGate++
			}
		}
		for i, v := range vec {
			rec[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		j := features.NumFeatures
		suspect := c.Origin
		if c.Leaker != 0 {
			suspect = c.Leaker
		} else if !c.NewOrigin && c.NewLinkAS != 0 {
			suspect = c.NewLinkAS
		}
		rec[j] = lr.label
		rec[j+1] = strconv.Itoa(int(b2i(gated)))
		rec[j+2] = lr.scenario
		rec[j+3] = lr.attacker
		rec[j+4] = bg
		rec[j+5] = strconv.FormatInt(u.Time.Unix(), 10)
		rec[j+6] = strconv.FormatUint(uint64(u.PeerASN), 10)
		rec[j+7] = u.Prefix.String()
		rec[j+8] = strconv.FormatUint(uint64(c.Origin), 10)
		rec[j+9] = strconv.FormatUint(uint64(suspect), 10)
		rec[j+10] = u.Attrs.Path.String()
		if err := cw.Write(rec); err != nil {
			return err
		}
		rows++
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	obs, scored, learned := st.Counts()
	fmt.Fprintf(stderr, "featurize: %d updates observed, %d learned only, %d scored (gated), %d rows written", obs, learned, scored, rows)
	if lab != nil {
		fmt.Fprintf(stderr, "; labels: %d in file, %d matched, %d labelled rows (%d not gated)", len(lab), len(matched), labelled, missedGate)
	}
	fmt.Fprintln(stderr)
	stt := r.Stats()
	reportSkips(stderr, &stt)
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keep samples benign rows deterministically by a hash of the row's key.
func keep(u *bgpfeed.Update, rate float64) bool {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%s|%d", u.Time.UnixNano(), u.PeerAddr, u.Prefix, u.PathID)
	return float64(h.Sum64()%1_000_000) < rate*1_000_000
}
