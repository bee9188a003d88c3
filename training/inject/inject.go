package inject

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bgpsentry/bgpsentry/features/asorg"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/bogon"
	"github.com/bgpsentry/bgpsentry/features/rpki"
)

// ErrShortfall is returned when the background cannot carry the requested
// number of instances of an attack class.
var ErrShortfall = errors.New("inject: too few instances")

// Config is one injection run.
type Config struct {
	Background []string // MRT files, directories or globs
	Baselines  []string // prefix-to-origin tables (optional): more known origins and prefixes
	Rel        *asrel.Graph
	Orgs       *asorg.Table // optional; sibling_origin needs it
	Seed       uint64
	// PerClass is the least number of instances of each attack class
	// (default 200); benign instances are as many as attack instances.
	PerClass int
	// StartAfter: injections start this long after the background's
	// first update; negative means 40% of the background's time range.
	StartAfter time.Duration
	Logger     *slog.Logger
}

// Summary reports what a run made.
type Summary struct {
	Learn         LearnStats
	Start, End    int64 // background time range (unix seconds)
	InjectFrom    int64
	EligiblePeers [2]int // peers that can send IPv4, IPv6
	VictimPool    [2]int
	Instances     map[string]int // by class
	Scenarios     map[string]int // by scenario
	Rows          map[string]int // labelled announcements by class
	Withdrawals   int
	ROAs          int
	// RPKI counts labelled announcements by class and RPKI status
	// against vrps.json.
	RPKI map[string]map[string]int
	// Failed counts build attempts that found no candidate, by scenario.
	Failed                        map[string]int
	LearnTime, GenerateTime       time.Duration
	WriteTime                     time.Duration
	LeakPrefixesMin, LeakPrefixes int // smallest and total prefixes of leaks
}

// Result is a generated data set, ready to be written.
type Result struct {
	Background *Background
	Instances  []*Instance
	Summary    Summary
	seed       uint64
	msgs       []msg // sorted by time, peer, creation
	roas       []roaKey
}

// Generate learns the background and injects the scenarios.
func Generate(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Rel == nil {
		return nil, errors.New("inject: AS relationships are required")
	}
	t0 := time.Now()
	bg, err := Learn(ctx, cfg.Background, cfg.Baselines, cfg.Logger)
	if err != nil {
		return nil, err
	}
	res, err := GenerateFrom(ctx, bg, cfg)
	if res != nil {
		res.Summary.LearnTime = time.Since(t0) - res.Summary.GenerateTime
	}
	return res, err
}

type slot struct {
	class string
	alts  []string // scenario names, tried in order
}

// GenerateFrom injects the scenarios into a learned background (which it
// does not modify).
func GenerateFrom(ctx context.Context, bg *Background, cfg Config) (*Result, error) {
	t0 := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PerClass <= 0 {
		cfg.PerClass = 200
	}
	after := cfg.StartAfter
	if after < 0 {
		after = time.Duration(math.Ceil(float64(bg.End-bg.Start)*0.4)) * time.Second
	}
	from := bg.Start + int64(after.Seconds())
	if from > bg.End {
		return nil, fmt.Errorf("inject: --start-after %v is past the background's end (%v long)", after, time.Duration(bg.End-bg.Start)*time.Second)
	}
	g := newGenerator(bg, cfg.Rel, cfg.Orgs, cfg.Seed, from, bg.End)
	attack := attackSpecs()
	benign := benignSpecs()
	builders := map[string]func() bool{
		ScenarioOwnMoreSpecific:      g.buildOwnMoreSpecific,
		ScenarioCustomerMoreSpecific: g.buildCustomerMoreSpecific,
		ScenarioPrepend:              g.buildPrepend,
		ScenarioAlternativePath:      g.buildAlternativePath,
		ScenarioFlap:                 g.buildFlap,
		ScenarioSessionReset:         g.buildSessionReset,
	}
	for name, s := range attack {
		builders[name] = func() bool { return s.build(g) }
	}
	for name, s := range benign {
		builders[name] = func() bool { return s.build(g) }
	}
	for typ := 1; typ <= 4; typ++ {
		builders[leakScenario(typ)] = func() bool { return g.buildLeak(typ) }
	}
	var slots []slot
	leaks := []string{leakScenario(1), leakScenario(2), leakScenario(3), leakScenario(4)}
	for i := 0; i < cfg.PerClass; i++ {
		forged := []string{ScenarioForgedOriginExact, ScenarioForgedOriginSubprefix}
		if i%2 == 1 {
			slices.Reverse(forged)
		}
		lk := append(slices.Clone(leaks[i%4:]), leaks[:i%4]...)
		slots = append(slots,
			slot{LabelOriginHijack, []string{ScenarioExactOrigin}},
			slot{LabelSubprefixHijack, []string{ScenarioSubprefixOrigin}},
			slot{LabelPathHijack, forged},
			slot{LabelRouteLeak, lk})
	}
	benignNames := []string{ScenarioOwnMoreSpecific, ScenarioCustomerMoreSpecific, ScenarioProviderOrigin, ScenarioSiblingOrigin, ScenarioROANewOrigin,
		ScenarioPrepend, ScenarioAlternativePath, ScenarioFlap, ScenarioSessionReset}
	if cfg.Orgs == nil {
		benignNames = slices.DeleteFunc(benignNames, func(s string) bool { return s == ScenarioSiblingOrigin })
	}
	nAttack := len(slots)
	for i := 0; i < nAttack; i++ {
		k := i % len(benignNames)
		slots = append(slots, slot{LabelBenign, append(slices.Clone(benignNames[k:]), benignNames[:k]...)})
	}
	g.rng.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	failed := map[string]int{}
	for _, s := range slots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	alts:
		for _, name := range s.alts {
			for range 12 {
				if builders[name]() {
					break alts
				}
				failed[name]++
			}
		}
	}
	res := &Result{Background: bg, Instances: g.insts, seed: cfg.Seed}
	sum := &res.Summary
	sum.Learn = bg.Stats
	sum.Start, sum.End, sum.InjectFrom = bg.Start, bg.End, from
	sum.EligiblePeers = [2]int{len(g.eligible[fam4]), len(g.eligible[fam6])}
	sum.VictimPool = [2]int{len(g.victims[fam4]), len(g.victims[fam6])}
	sum.Failed = failed
	sum.Instances, sum.Scenarios, sum.Rows = map[string]int{}, map[string]int{}, map[string]int{}
	for _, in := range g.insts {
		sum.Instances[in.Class]++
		sum.Scenarios[in.Scenario]++
		if in.Class == LabelRouteLeak {
			n := len(in.Prefixes)
			sum.LeakPrefixes += n
			if sum.LeakPrefixesMin == 0 || n < sum.LeakPrefixesMin {
				sum.LeakPrefixesMin = n
			}
		}
	}
	var short []string
	for _, c := range AttackLabels {
		if sum.Instances[c] < cfg.PerClass {
			short = append(short, fmt.Sprintf("%s %d of %d", c, sum.Instances[c], cfg.PerClass))
		}
	}
	if benignN, attackN := sum.Instances[LabelBenign], len(g.insts)-sum.Instances[LabelBenign]; benignN < attackN {
		log.Warn("inject: fewer benign instances than attack instances", "benign", benignN, "attack", attackN)
	}
	g.finalizeROAs()
	res.msgs = g.msgs
	slices.SortStableFunc(res.msgs, func(a, b msg) int {
		return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.peer, b.peer), cmp.Compare(a.seq, b.seq))
	})
	for k := range g.roas {
		res.roas = append(res.roas, k)
	}
	slices.SortFunc(res.roas, func(a, b roaKey) int {
		return cmp.Or(a.prefix.Addr().Compare(b.prefix.Addr()), cmp.Compare(a.prefix.Bits(), b.prefix.Bits()),
			cmp.Compare(a.maxLen, b.maxLen), cmp.Compare(a.asn, b.asn))
	})
	sum.ROAs = len(res.roas)
	if err := res.validate(); err != nil {
		return nil, err
	}
	sum.GenerateTime = time.Since(t0)
	if len(short) > 0 {
		return res, fmt.Errorf("%w: %s (the background is too small, or lower --per-class)", ErrShortfall, strings.Join(short, ", "))
	}
	return res, nil
}

// finalizeROAs gives about 30% of the background prefixes that no scenario
// decided (nor covers, nor is covered by one) ROAs of their real origins.
func (g *generator) finalizeROAs() {
	sup := map[netip.Prefix]bool{}
	for _, p := range g.touched {
		for b := p.Bits(); b >= 0; b-- {
			sup[netip.PrefixFrom(p.Addr(), b).Masked()] = true
		}
	}
	for _, x := range g.bg.prefixes {
		if x.first < 0 || sup[x.prefix] {
			continue
		}
		covered := false
		for b := x.prefix.Bits() - 1; b >= 0; b-- {
			if g.roaSet[netip.PrefixFrom(x.prefix.Addr(), b).Masked()] {
				covered = true
				break
			}
		}
		if covered || !g.chance(0.3) {
			continue
		}
		for _, o := range x.origins {
			if bad, _ := bogon.ASN(o); o != 0 && !bad {
				g.backgroundROA(x.prefix, o)
			}
		}
	}
}

// validate fills the RPKI statistics: every labelled announcement checked
// against the ROAs written.
func (r *Result) validate() error {
	var buf bytes.Buffer
	if err := r.writeVRPs(&buf); err != nil {
		return err
	}
	tab, err := rpki.Read(&buf, "vrps.json")
	if err != nil {
		return fmt.Errorf("inject: own VRPs do not load: %w", err)
	}
	r.Summary.RPKI = map[string]map[string]int{}
	seen := map[int32]bool{}
	for _, m := range r.msgs {
		if m.asns == nil {
			r.Summary.Withdrawals++
			continue
		}
		in := r.Instances[m.inst-1]
		st := tab.Validate(m.prefix, m.asns[len(m.asns)-1]).String()
		r.Summary.Rows[in.Class]++
		if r.Summary.RPKI[in.Class] == nil {
			r.Summary.RPKI[in.Class] = map[string]int{}
		}
		r.Summary.RPKI[in.Class][st]++
		if !seen[m.inst] {
			seen[m.inst] = true
			in.RPKI = st
		}
	}
	return nil
}

// SortedKeys returns a map's keys in order, for reports.
func SortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
