package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/features/asorg"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/training/inject"
)

func runInject(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inject", "--background FILE|DIR... --asrel FILE --out DIR [flags]",
		`Builds a labelled training set by injecting synthetic attacks and benign
look-alikes into a real background update stream (MRT): origin hijacks,
sub-prefix hijacks, forged-origin path hijacks, RFC 7908 route leaks of
types 1-4, and as many benign look-alike instances (own more-specifics,
provider/sibling/ROA-authorised new origins, prepending, alternative paths,
flaps, session-reset bursts). Paths are cut from the background's real
paths, messages come from the background's real peer sessions.

It writes into DIR: injected.mrt (the injected messages only; replay it
together with the background), labels.csv (one row per injected
announcement: time_unix,peer_addr,prefix,label,scenario,attacker_asn),
vrps.json (ROAs, rpki-client JSON) and scenarios.json (one record per
instance). The same inputs and --seed give byte-identical outputs.

The feature state tells peers apart by collector, and the MRT reader names
the collector of DIR/injected.mrt after DIR: name DIR after the
background's collector (e.g. out/rrc01), or injected routes look like they
come from other sessions than the background's.

Then: bgpsentry featurize --asrel FILE --rpki DIR/vrps.json
--labels DIR/labels.csv BACKGROUND... DIR/injected.mrt -o rows.csv`, stderr)
	var background, baselines stringList
	fs.Var(&background, "background", "background MRT updates: file, directory or glob; repeatable (further arguments are background too)")
	fs.Var(&baselines, "baseline", "prefix-to-origin table (pyasn or CAIDA prefix2as) with more known origins and prefixes; repeatable")
	relFile := fs.String("asrel", "", "AS relationships, CAIDA serial-1/serial-2 'a|b|rel' (required)")
	orgFile := fs.String("asorg", "", "CAIDA as-org2info JSONL, for the sibling_origin look-alike (optional)")
	out := fs.String("out", "", "output directory (required)")
	seed := fs.Uint64("seed", 1, "random seed: same inputs and seed give byte-identical outputs")
	perClass := fs.Int("per-class", 200, "at least this many instances of each attack class; benign instances are as many as attack instances")
	startAfter := fs.String("start-after", "", "inject only this long after the background's first update, so the state has learned first (default 40% of the background's time range)")
	gz := fs.Bool("gzip", false, "gzip injected.mrt (bgpsentry reads either; bgpdump and most MRT tools decide by the file extension and read .mrt only plain)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	background = append(background, fs.Args()...)
	if len(background) == 0 || *relFile == "" || *out == "" {
		fmt.Fprintln(stderr, "inject: --background, --asrel and --out are required")
		fs.Usage()
		return errUsage
	}
	after := time.Duration(-1)
	if *startAfter != "" {
		d, err := time.ParseDuration(*startAfter)
		if err != nil || d < 0 {
			fmt.Fprintf(stderr, "inject: bad --start-after %q\n", *startAfter)
			return errUsage
		}
		after = d
	}
	t0 := time.Now()
	rel, err := asrel.Load(*relFile)
	if err != nil {
		return err
	}
	var orgs *asorg.Table
	if *orgFile != "" {
		if orgs, err = asorg.Load(*orgFile); err != nil {
			return err
		}
	}
	refTime := time.Since(t0)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := inject.Generate(ctx, inject.Config{
		Background: background, Baselines: baselines, Rel: rel, Orgs: orgs,
		Seed: *seed, PerClass: *perClass, StartAfter: after, Logger: log,
	})
	if err != nil {
		return err
	}
	if err := res.WriteDir(*out, *gz); err != nil {
		return err
	}
	printInjectSummary(stderr, res, refTime)
	// The feature state keys peers by collector, named after the path.
	bgNames := map[string]bool{}
	for _, f := range res.Background.Files {
		bgNames[mrt.CollectorName(f)] = true
	}
	injName := mrt.CollectorName(filepath.Join(*out, inject.FileMRT))
	if !bgNames[injName] {
		names := make([]string, 0, len(bgNames))
		for n := range bgNames {
			names = append(names, n)
		}
		fmt.Fprintf(stderr, "inject: warning: %s replays as collector %q but the background is %s: name the output directory after the background's collector so the injected routes share the background's peer sessions\n",
			filepath.Join(*out, inject.FileMRT), injName, strings.Join(names, ", "))
	}
	return nil
}

func printInjectSummary(w io.Writer, res *inject.Result, refTime time.Duration) {
	s := &res.Summary
	l := &s.Learn
	fmt.Fprintf(w, "inject: background %d files, %d announcements, %d withdrawals, %d prefixes, %d peers (%d with their session header), %s .. %s; injecting from %s\n",
		l.Files, l.Announcements, l.Withdrawals, l.Prefixes, l.Peers, l.PeersWithLocalAddr,
		time.Unix(s.Start, 0).UTC().Format(time.RFC3339), time.Unix(s.End, 0).UTC().Format(time.RFC3339),
		time.Unix(s.InjectFrom, 0).UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "inject: eligible peers IPv4 %d, IPv6 %d; victim pool IPv4 %d, IPv6 %d\n",
		s.EligiblePeers[0], s.EligiblePeers[1], s.VictimPool[0], s.VictimPool[1])
	fmt.Fprintf(w, "%-18s %9s %12s  %s\n", "class", "instances", "announced", "RPKI of announcements")
	total, rows := 0, 0
	for _, c := range append(append([]string{}, inject.AttackLabels...), inject.LabelBenign) {
		var rp []string
		for _, st := range inject.SortedKeys(s.RPKI[c]) {
			rp = append(rp, st+"="+strconv.Itoa(s.RPKI[c][st]))
		}
		fmt.Fprintf(w, "%-18s %9d %12d  %s\n", c, s.Instances[c], s.Rows[c], strings.Join(rp, " "))
		total += s.Instances[c]
		rows += s.Rows[c]
	}
	fmt.Fprintf(w, "%-18s %9d %12d  (+%d withdrawals)\n", "total", total, rows, s.Withdrawals)
	var sc []string
	for _, n := range inject.SortedKeys(s.Scenarios) {
		sc = append(sc, fmt.Sprintf("%s=%d", n, s.Scenarios[n]))
	}
	fmt.Fprintf(w, "inject: scenarios: %s\n", strings.Join(sc, " "))
	if n := s.Instances[inject.LabelRouteLeak]; n > 0 {
		fmt.Fprintf(w, "inject: leaks: %d prefixes in all, smallest %d, mean %.0f\n", s.LeakPrefixes, s.LeakPrefixesMin, float64(s.LeakPrefixes)/float64(n))
	}
	fmt.Fprintf(w, "inject: %d ROAs; times: reference data %v, learn %v, generate %v, write %v\n",
		s.ROAs, refTime.Round(time.Millisecond), s.LearnTime.Round(time.Millisecond), s.GenerateTime.Round(time.Millisecond), s.WriteTime.Round(time.Millisecond))
}
