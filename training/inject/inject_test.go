package inject

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/features/asorg"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/features/rpki"
)

// Fixtures: one small real RIS update file (3 peers, 5 minutes) and the
// TopoScope relationships among its ASes (testdata/scenario/PROVENANCE.md).
const (
	fixtureMRT   = "../../testdata/mrt/ris.rrc06.updates.1427846400.gz"
	fixtureRel   = "../../testdata/scenario/asrel_201806.rrc06-excerpt.txt"
	fixtureOrg   = "../../testdata/refdata/as-org2info.20211001.excerpt.jsonl"
	testPerClass = 12
)

func testConfigRNG() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func testConfig(t *testing.T, seed uint64) Config {
	t.Helper()
	rel, err := asrel.Load(fixtureRel)
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := asorg.Load(fixtureOrg)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Background: []string{fixtureMRT}, Rel: rel, Orgs: orgs, Seed: seed, PerClass: testPerClass, StartAfter: -1}
}

// run generates into a new directory and returns the result and the
// directory.
func run(t *testing.T, seed uint64) (*Result, string) {
	t.Helper()
	res, err := Generate(context.Background(), testConfig(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := res.WriteDir(dir, true); err != nil {
		t.Fatal(err)
	}
	return res, dir
}

// The same inputs and seed give byte-identical files; another seed does not.
func TestDeterminism(t *testing.T) {
	_, a := run(t, 42)
	_, b := run(t, 42)
	_, c := run(t, 43)
	for _, name := range []string{FileMRT, FileLabels, FileVRPs, FileScenarios} {
		fa, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		fb, _ := os.ReadFile(filepath.Join(b, name))
		fc, _ := os.ReadFile(filepath.Join(c, name))
		if !bytes.Equal(fa, fb) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
		if name == FileLabels && bytes.Equal(fa, fc) {
			t.Errorf("%s is the same with another seed", name)
		}
	}
}

// label is one row of labels.csv.
type label struct {
	key                      labelKey
	class, scenario, suspect string
}

func readLabels(t *testing.T, path string) []label {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	if !sc.Scan() || sc.Text() != LabelsHeader {
		t.Fatalf("labels header %q, want %q", sc.Text(), LabelsHeader)
	}
	var out []label
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 6 {
			t.Fatalf("label row %q: %d fields", sc.Text(), len(f))
		}
		sec, err1 := strconv.ParseInt(f[0], 10, 64)
		addr, err2 := netip.ParseAddr(f[1])
		pfx, err3 := netip.ParsePrefix(f[2])
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("label row %q: %v", sc.Text(), err)
		}
		out = append(out, label{labelKey{sec, addr, pfx}, f[3], f[4], f[5]})
	}
	return out
}

// readBack decodes injected.mrt with the project's reader.
func readBack(t *testing.T, path string) []bgpfeed.Update {
	t.Helper()
	r, err := mrt.Open([]string{path}, mrt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []bgpfeed.Update
	for {
		u, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	if st := r.Stats(); st.TotalSkipped() > 0 {
		t.Fatalf("reader skipped %d records of injected.mrt: %v", st.TotalSkipped(), st.Samples)
	}
	return out
}

type scenariosFile struct {
	Meta      scenariosMeta `json:"meta"`
	Scenarios []*Instance   `json:"scenarios"`
}

// TestOutputs checks the written files against each other and the
// background: every label row is an announcement of injected.mrt read back,
// label keys are unique, peers are the background's sessions, the classes
// have their counts, and vrps.json loads.
func TestOutputs(t *testing.T) {
	res, dir := run(t, 7)
	labels := readLabels(t, filepath.Join(dir, FileLabels))
	ups := readBack(t, filepath.Join(dir, FileMRT))

	ann := map[labelKey]bgpfeed.Update{}
	withdrawals := 0
	for _, u := range ups {
		switch u.Kind {
		case bgpfeed.KindAnnounce:
			k := labelKey{u.Time.Unix(), u.PeerAddr, u.Prefix}
			if _, dup := ann[k]; dup {
				t.Errorf("two injected announcements with key %v", k)
			}
			ann[k] = u
		case bgpfeed.KindWithdraw:
			withdrawals++
		default:
			t.Errorf("unexpected element %v", u.Kind)
		}
	}
	if withdrawals == 0 {
		t.Error("no withdrawals injected")
	}
	seen := map[labelKey]bool{}
	for _, l := range labels {
		if seen[l.key] {
			t.Errorf("duplicate label key %v", l.key)
		}
		seen[l.key] = true
		if _, ok := ann[l.key]; !ok {
			t.Errorf("label %v has no announcement in %s", l.key, FileMRT)
		}
	}
	if len(labels) != len(ann) {
		t.Errorf("%d label rows, %d announcements", len(labels), len(ann))
	}

	// Peers: every injected message is from a background session, with
	// the collector's side as the background recorded it.
	bgSessions := sessionsOf(t, fixtureMRT)
	injSessions := sessionsOf(t, filepath.Join(dir, FileMRT))
	if len(injSessions) == 0 {
		t.Fatal("no sessions in injected.mrt")
	}
	for k, m := range injSessions {
		bm, ok := bgSessions[k]
		if !ok {
			t.Errorf("injected session %v is not a background peer", k)
			continue
		}
		for li := range m {
			if bm[li] == 0 {
				t.Errorf("injected session %v uses local side %+v, not seen in the background", k, li)
			}
		}
	}

	// Counts.
	sf := readScenarios(t, filepath.Join(dir, FileScenarios))
	count := map[string]int{}
	for _, in := range sf.Scenarios {
		count[in.Class]++
	}
	attacks := 0
	for _, c := range AttackLabels {
		if count[c] < testPerClass {
			t.Errorf("%d %s instances, want at least %d", count[c], c, testPerClass)
		}
		attacks += count[c]
	}
	if count[LabelBenign] != attacks {
		t.Errorf("%d benign instances, want as many as attack instances (%d)", count[LabelBenign], attacks)
	}
	// Times: after the warm-up part, within the background.
	for _, l := range labels {
		if l.key.sec < res.Summary.InjectFrom || l.key.sec > res.Summary.End {
			t.Errorf("label %v outside the injection window %d..%d", l.key, res.Summary.InjectFrom, res.Summary.End)
		}
	}
	// VRPs load, and the benign ROA-authorised origins are valid.
	tab, err := rpki.Load(filepath.Join(dir, FileVRPs))
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() == 0 {
		t.Fatal("no ROAs")
	}
	for _, l := range labels {
		if l.scenario != ScenarioROANewOrigin {
			continue
		}
		u := ann[l.key]
		if st := tab.Validate(u.Prefix, u.OriginASN()); st != rpki.Valid {
			t.Errorf("%s %v: RPKI %v, want valid", l.scenario, l.key, st)
		}
	}
}

func sessionsOf(t *testing.T, path string) map[sessionKey]map[localInfo]int {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, _, err := mrt.Decompress(fh)
	if err != nil {
		t.Fatal(err)
	}
	return scanSessions(zr)
}

func readScenarios(t *testing.T, path string) scenariosFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sf scenariosFile
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	return sf
}

// injected is one labelled announcement read back, with its instance.
type injected struct {
	u    bgpfeed.Update
	path []uint32 // AS_SEQUENCE as decoded
	in   *Instance
}

// TestPathInvariants checks, class by class, that each injected path is
// built as the scenario says, on the paths decoded from injected.mrt.
func TestPathInvariants(t *testing.T) {
	res, dir := run(t, 11)
	rel := testConfig(t, 0).Rel
	bg := res.Background
	ups := readBack(t, filepath.Join(dir, FileMRT))
	byKey := map[labelKey]bgpfeed.Update{}
	for _, u := range ups {
		if u.Kind == bgpfeed.KindAnnounce {
			byKey[labelKey{u.Time.Unix(), u.PeerAddr, u.Prefix}] = u
		}
	}
	byScenario := map[string][]injected{}
	for _, m := range res.msgs {
		if m.asns == nil {
			continue
		}
		k := labelKey{m.t, bg.Peers[m.peer].Addr, m.prefix}
		u, ok := byKey[k]
		if !ok {
			t.Fatalf("announcement %v not read back", k)
		}
		in := res.Instances[m.inst-1]
		byScenario[in.Scenario] = append(byScenario[in.Scenario], injected{u, u.Attrs.Path.ASNs(nil), in})
	}

	// realHead: the path up to its last AS is a real path of that peer cut
	// at that AS (a prefix of a path it announced).
	realHead := func(u bgpfeed.Update, head []uint32) bool {
		for pi, p := range bg.Peers {
			if p.Addr != u.PeerAddr {
				continue
			}
			for k, h := range bg.hist {
				if k.peer != int32(pi) {
					continue
				}
				for _, e := range h {
					if len(e.asns) >= len(head) && slices.Equal(e.asns[:len(head)], head) {
						return true
					}
				}
			}
		}
		return false
	}
	// realPathOf: the path is one the peer announced for the prefix.
	realPathOf := func(u bgpfeed.Update, path []uint32) bool {
		xi, ok := bg.prefixIdx[u.Prefix]
		if !ok {
			return false
		}
		for pi, p := range bg.Peers {
			if p.Addr == u.PeerAddr && slices.ContainsFunc(bg.pathsOf(int32(pi), xi), func(q []uint32) bool { return slices.Equal(q, path) }) {
				return true
			}
		}
		return false
	}
	// realSuffix: some background path of the prefix ends with suf.
	realSuffix := func(pfx netip.Prefix, suf []uint32) bool {
		xi := bg.prefixIdx[pfx]
		for _, pi := range bg.prefixes[xi].peers {
			for _, p := range bg.pathsOf(pi, xi) {
				if len(p) >= len(suf) && slices.Equal(p[len(p)-len(suf):], suf) {
					return true
				}
			}
		}
		return false
	}
	moreSpecific := func(in *Instance, p netip.Prefix) bool {
		v := mustPrefix(in.VictimPrefix)
		return p.Bits() > v.Bits() && v.Contains(p.Addr()) && p.Bits() <= maxLenFor(famOf(p))
	}

	tests := []struct {
		scenario string
		check    func(x injected) string // "" when fine
	}{
		{ScenarioExactOrigin, func(x injected) string {
			switch {
			case x.u.Prefix.String() != x.in.VictimPrefix:
				return "not the victim prefix"
			case x.path[len(x.path)-1] != x.in.AttackerASN || x.in.AttackerASN == x.in.VictimASN:
				return "does not end with the attacker"
			case !realHead(x.u, x.path):
				return "not the peer's real path to the attacker"
			case x.in.Class != LabelOriginHijack:
				return "class " + x.in.Class
			}
			return ""
		}},
		{ScenarioSubprefixOrigin, func(x injected) string {
			switch {
			case !moreSpecific(x.in, x.u.Prefix):
				return "not a more-specific of the victim prefix"
			case bg.prefixKnown(x.u.Prefix):
				return "the more-specific is in the background"
			case x.path[len(x.path)-1] != x.in.AttackerASN:
				return "does not end with the attacker"
			case !realHead(x.u, x.path):
				return "not the peer's real path to the attacker"
			}
			return ""
		}},
		{ScenarioForgedOriginExact, func(x injected) string { return forged(x, rel, bg, realHead, x.u.Prefix.String() == x.in.VictimPrefix) }},
		{ScenarioForgedOriginSubprefix, func(x injected) string { return forged(x, rel, bg, realHead, moreSpecific(x.in, x.u.Prefix)) }},
		{leakScenario(1), func(x injected) string { return leak(x, rel, realHead, realSuffix) }},
		{leakScenario(2), func(x injected) string { return leak(x, rel, realHead, realSuffix) }},
		{leakScenario(3), func(x injected) string { return leak(x, rel, realHead, realSuffix) }},
		{leakScenario(4), func(x injected) string { return leak(x, rel, realHead, realSuffix) }},
		{ScenarioOwnMoreSpecific, func(x injected) string {
			switch {
			case !moreSpecific(x.in, x.u.Prefix):
				return "not a more-specific"
			case x.u.OriginASN() != x.in.VictimASN:
				return "origin changed"
			}
			return ""
		}},
		{ScenarioCustomerMoreSpecific, func(x injected) string {
			n := len(x.path)
			switch {
			case !moreSpecific(x.in, x.u.Prefix):
				return "not a more-specific"
			case n < 2 || x.path[n-1] != x.in.AttackerASN || x.path[n-2] != x.in.VictimASN:
				return "path does not end with the origin then its customer"
			case rel.Rel(x.in.VictimASN, x.in.AttackerASN) != asrel.Provider:
				return "the new origin is not a customer of the victim"
			}
			return ""
		}},
		{ScenarioProviderOrigin, func(x injected) string {
			switch {
			case x.u.Prefix.String() != x.in.VictimPrefix:
				return "not the victim prefix"
			case x.u.OriginASN() != x.in.AttackerASN || rel.Rel(x.in.AttackerASN, x.in.VictimASN) != asrel.Provider:
				return "origin is not a provider of the victim"
			case !realHead(x.u, x.path):
				return "not the peer's real path to the provider"
			}
			return ""
		}},
		{ScenarioROANewOrigin, func(x injected) string {
			if x.u.OriginASN() != x.in.AttackerASN || x.in.ROA != "victim+new_origin" {
				return "origin or ROA wrong"
			}
			return ""
		}},
		{ScenarioPrepend, func(x injected) string {
			n := len(x.path)
			if n < 4 || x.path[n-1] != x.in.VictimASN || x.path[n-2] != x.in.VictimASN || x.path[n-3] != x.in.VictimASN {
				return "origin not prepended at least twice"
			}
			return ""
		}},
		{ScenarioAlternativePath, func(x injected) string {
			if x.u.OriginASN() != x.in.VictimASN {
				return "origin changed"
			}
			if !rel.Check(x.path).ValleyFree {
				return "alternative path has a valley"
			}
			return ""
		}},
		{ScenarioFlap, func(x injected) string {
			if !realPathOf(x.u, x.path) {
				return "not a real path of the peer"
			}
			return ""
		}},
		{ScenarioSessionReset, func(x injected) string {
			if !realPathOf(x.u, x.path) {
				return "not a real path of the peer"
			}
			if x.in.AttackerASN != x.u.PeerASN {
				return "suspect is not the peer"
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.scenario, func(t *testing.T) {
			xs := byScenario[tc.scenario]
			if len(xs) == 0 {
				t.Fatalf("no %s announcements", tc.scenario)
			}
			bad := 0
			for _, x := range xs {
				if msg := tc.check(x); msg != "" {
					if bad++; bad <= 5 {
						t.Errorf("instance %d %s %s from %s path %v: %s", x.in.ID, x.in.Scenario, x.u.Prefix, x.u.PeerAddr, x.path, msg)
					}
				}
			}
		})
	}
}

func forged(x injected, rel *asrel.Graph, bg *Background, realHead func(bgpfeed.Update, []uint32) bool, prefixOK bool) string {
	n := len(x.path)
	a, v := x.in.AttackerASN, x.in.VictimASN
	switch {
	case !prefixOK:
		return "wrong prefix"
	case n < 2 || x.path[n-1] != v || x.path[n-2] != a:
		return "does not end with attacker, victim"
	case rel.Rel(a, v) != asrel.Unknown:
		return "the forged link is in asrel"
	case bg.Linked(a, v):
		return "the forged link is in the background"
	case !realHead(x.u, x.path[:n-1]):
		return "not the peer's real path to the attacker"
	case x.in.Class != LabelPathHijack:
		return "class " + x.in.Class
	}
	return ""
}

func leak(x injected, rel *asrel.Graph, realHead func(bgpfeed.Update, []uint32) bool, realSuffix func(netip.Prefix, []uint32) bool) string {
	l, p1, p2 := x.in.AttackerASN, x.in.LeakFrom, x.in.LeakTo
	i := slices.Index(x.path, l)
	switch {
	case i < 1 || i+1 >= len(x.path):
		return "leaker not inside the path"
	case x.path[i-1] != p2 || x.path[i+1] != p1:
		return "not P2, L, P1 in order"
	case !realHead(x.u, x.path[:i]):
		return "head is not the peer's real path to P2"
	case !realSuffix(x.u.Prefix, x.path[i+1:]):
		return "tail is not a real path of P1 for the prefix"
	}
	from, to := leakRelations(x.in.LeakType)
	if rel.Rel(p1, l) != from || rel.Rel(p2, l) != to {
		return "relations do not fit the type"
	}
	chk := rel.Check(x.path)
	if chk.Leak.Type.RFC7908() != x.in.LeakType || x.path[chk.Leak.Leaker] != l {
		return "asrel classifies it as " + chk.Leak.Type.String()
	}
	if leakScenario(x.in.LeakType) != x.in.Scenario || x.in.Class != LabelRouteLeak {
		return "scenario/class mismatch"
	}
	return ""
}

// Half the hijacks have a victim ROA, so RPKI is a signal, not a giveaway;
// and the other background prefixes have some ROAs.
func TestROAMix(t *testing.T) {
	res, _ := run(t, 5)
	roa, hijacks := 0, 0
	for _, in := range res.Instances {
		switch in.Class {
		case LabelOriginHijack, LabelSubprefixHijack, LabelPathHijack:
			hijacks++
			if in.ROA == "victim" {
				roa++
			}
		}
	}
	if roa == 0 || roa == hijacks {
		t.Errorf("%d of %d hijacks with a victim ROA, want a mix", roa, hijacks)
	}
	if r := res.Summary.RPKI[LabelBenign]["valid"]; r == 0 {
		t.Error("no valid benign announcements")
	}
	if len(res.roas) <= res.Summary.Instances[LabelBenign]/8 {
		t.Errorf("only %d ROAs", len(res.roas))
	}
}

// A class the inputs cannot carry is an error naming it: without
// relationships there is no leaker.
func TestShortfall(t *testing.T) {
	cfg := testConfig(t, 1)
	empty, err := asrel.Read(strings.NewReader("# no links\n"), "empty")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rel = empty
	cfg.PerClass = 2
	_, err = Generate(context.Background(), cfg)
	if !errors.Is(err, ErrShortfall) || !strings.Contains(err.Error(), LabelRouteLeak) {
		t.Fatalf("err = %v, want ErrShortfall naming %s", err, LabelRouteLeak)
	}
}

// Background ROAs: maxLength never below the prefix length (host routes
// included) nor above the longest injected length unless the prefix is
// longer.
func TestBackgroundROAMaxLength(t *testing.T) {
	tests := []struct {
		prefix string
		lo, hi int
	}{
		{"10.0.0.0/8", 8, 24},
		{"192.0.2.0/23", 23, 24},
		{"192.0.2.0/24", 24, 24},
		{"192.0.2.1/32", 32, 32},
		{"2001:db8::/32", 32, 48},
		{"2001:db8::1/128", 128, 128},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			g := &generator{rng: testConfigRNG(), roas: map[roaKey]bool{}}
			p := netip.MustParsePrefix(tc.prefix)
			for range 200 {
				g.backgroundROA(p, 64500)
			}
			for k := range g.roas {
				if k.maxLen < tc.lo || k.maxLen > tc.hi {
					t.Errorf("maxLength %d outside %d..%d", k.maxLen, tc.lo, tc.hi)
				}
			}
		})
	}
}

// With a baseline, about a quarter of the exact-prefix origin hijacks
// take a dormant victim: a baseline prefix that no background peer
// carries (as YouTube's /24 was before Pakistan Telecom announced it).
func TestDormantVictims(t *testing.T) {
	// The baseline: the first /24 of every shorter IPv4 prefix of the
	// background, with the prefix's origin (dormant space inside its
	// owner's announcement), beside a real table sample (space that is
	// not).
	plain, err := Generate(context.Background(), testConfig(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../testdata/refdata/ipasn_20260730.every3700th.dat")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(sample)
	for _, x := range plain.Background.prefixes {
		if x.prefix.Addr().Is4() && x.prefix.Bits() < 24 && len(x.origins) == 1 {
			fmt.Fprintf(&b, "%s\t%d\n", netip.PrefixFrom(x.prefix.Addr(), 24), x.origins[0])
		}
	}
	base := filepath.Join(t.TempDir(), "ipasn.dat")
	if err := os.WriteFile(base, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, 5)
	cfg.Baselines = []string{base}
	cfg.PerClass = 40
	res, err := Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	bg := res.Background
	dormant, exact := 0, 0
	for _, in := range res.Instances {
		if in.Scenario != ScenarioExactOrigin {
			continue
		}
		exact++
		x := bg.prefixes[bg.prefixIdx[mustPrefix(in.VictimPrefix)]]
		if len(x.peers) == 0 {
			dormant++
			if x.first >= 0 || len(x.baseOrigins) != 1 || x.baseOrigins[0] != in.VictimASN {
				t.Errorf("instance %d: dormant victim %s is not a one-origin baseline prefix of %d", in.ID, in.VictimPrefix, in.VictimASN)
			}
			covered := false
			for _, y := range bg.prefixes {
				if len(y.peers) > 0 && y.prefix.Bits() < x.prefix.Bits() && y.prefix.Contains(x.prefix.Addr()) && slices.Contains(y.origins, in.VictimASN) {
					covered = true
				}
			}
			if !covered {
				t.Errorf("instance %d: dormant victim %s is not inside space %d announces", in.ID, in.VictimPrefix, in.VictimASN)
			}
		}
	}
	if dormant == 0 || dormant == exact {
		t.Errorf("%d of %d exact-prefix hijacks take a dormant victim; want some, not all", dormant, exact)
	}
}
