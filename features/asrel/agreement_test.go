package asrel_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
	"github.com/bgpsentry/bgpsentry/features/asrel"
)

func dataDir() string {
	if d := os.Getenv("BGPSENTRY_SHARED_DATA"); d != "" {
		return d
	}
	return "../../../shared/data" // ../shared/data beside the repository
}

// distinctPaths reads the AS_SEQUENCE part of every announced AS path of
// an MRT file once (the reader interns equal paths).
func distinctPaths(t testing.TB, name string) [][]uint32 {
	t.Helper()
	r, err := mrt.Open([]string{name}, mrt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := map[*bgpfeed.Path]bool{}
	var out [][]uint32
	ctx := context.Background()
	for {
		u, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if u.Kind != bgpfeed.KindAnnounce || u.Attrs == nil || u.Attrs.Path == nil || seen[u.Attrs.Path] {
			continue
		}
		seen[u.Attrs.Path] = true
		out = append(out, u.Attrs.Path.ASNs(nil))
	}
	return out
}

type agreement struct {
	inferred, common, same int
	// By TopoScope's relation: links in common, and agreeing.
	p2c, p2cSame, p2p, p2pSame int
	// Inferred p2c links that TopoScope has reversed.
	reversed int
}

func (a agreement) rate() float64 { return float64(a.same) / float64(max(a.common, 1)) }

func compare(ref, g *asrel.Graph) agreement {
	var a agreement
	for l := range g.Links() {
		a.inferred++
		want := ref.Rel(l.A, l.B)
		if want == asrel.Unknown {
			continue
		}
		a.common++
		same := want == l.Rel
		if same {
			a.same++
		}
		if want == asrel.Peer {
			a.p2p++
			if same {
				a.p2pSame++
			}
		} else {
			a.p2c++
			if same {
				a.p2cSame++
			}
			if l.Rel == want.Reverse() {
				a.reversed++
			}
		}
	}
	return a
}

// TestAgreementWithTopoScope infers relationships from real AS paths and
// measures how often they agree with TopoScope's 2018-06 inference on the
// links both know. The sources are years apart from 2018-06, so part of
// the disagreement is real change.
func TestAgreementWithTopoScope(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping MRT decoding in -short mode")
	}
	refName := filepath.Join(dataDir(), "asrel/toposcope/asrel_201806.txt")
	if _, err := os.Stat(refName); err != nil {
		t.Skipf("skipping: %v (set BGPSENTRY_DATA to the data directory)", err)
	}
	ref, err := asrel.Load(refName)
	if err != nil {
		t.Fatal(err)
	}
	sources := []struct {
		file string
		min  float64 // agreement floor: a regression guard, not a target
	}{
		// RouteViews route-views2 RIB 2026-07-30, first 2 MiB: 20
		// peers, 41k IPv4 prefixes.
		{"mrt/routeviews2-rib-20260730-partial/rib.20260730.1400_first2MB.bz2", 0.75},
		// RIPE RIS rrc21 updates 2016-08-11 (40 peers), the closest in
		// time to 2018-06.
		{"mrt/ripe-ncc-bgpdump/updates.20160811.1600.gz", 0.70},
	}
	for _, src := range sources {
		t.Run(filepath.Base(src.file), func(t *testing.T) {
			name := filepath.Join(dataDir(), src.file)
			if _, err := os.Stat(name); err != nil {
				t.Skipf("skipping: %v", err)
			}
			paths := distinctPaths(t, name)
			start := time.Now()
			g := asrel.Infer(func(yield func([]uint32) bool) {
				for _, p := range paths {
					if !yield(p) {
						return
					}
				}
			}, asrel.InferConfig{})
			elapsed := time.Since(start)
			a := compare(ref, g)
			st := g.Stats()
			t.Logf("%d distinct paths -> %d links in %v (dropped: %d loop, %d reserved ASN, %d clique valley)",
				len(paths), st.Links, elapsed, st.DroppedLoop, st.DroppedBogon, st.DroppedCliqueValley)
			t.Logf("links known to TopoScope: %d of %d; agreement %.1f%% (p2c %d/%d = %.1f%%, of which reversed %d; p2p %d/%d = %.1f%%)",
				a.common, a.inferred, 100*a.rate(),
				a.p2cSame, a.p2c, 100*float64(a.p2cSame)/float64(max(a.p2c, 1)), a.reversed,
				a.p2pSame, a.p2p, 100*float64(a.p2pSame)/float64(max(a.p2p, 1)))
			if a.common < 1000 {
				t.Errorf("only %d links in common with TopoScope", a.common)
			}
			if a.rate() < src.min {
				t.Errorf("agreement %.3f below the floor %.2f", a.rate(), src.min)
			}
			// Valley-free share of the observed paths under both graphs.
			var vfInf, vfRef, leaks int
			for _, p := range paths {
				if ok, _, _ := g.ValleyFree(p); ok {
					vfInf++
				}
				c := ref.Check(p)
				if c.ValleyFree {
					vfRef++
				} else {
					leaks++
				}
			}
			t.Logf("valley-free paths: %.1f%% under the inferred graph, %.1f%% under TopoScope (%d violations)",
				100*float64(vfInf)/float64(len(paths)), 100*float64(vfRef)/float64(len(paths)), leaks)
		})
	}
}
