package features

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSnapshotRoundTrip: a state saved half way through a real stream and
// restored computes the same gates and vectors for the rest of the stream
// as the state that never stopped (relationships inferred, then saved).
func TestSnapshotRoundTrip(t *testing.T) {
	us := readMRT(t, "../testdata/mrt/updates.20100722.2015.gz")
	cfg := Config{Warmup: time.Minute}
	a := NewState(cfg)
	half := len(us) / 2
	for i := range us[:half] {
		a.Observe(&us[i], nil)
	}
	var buf bytes.Buffer
	if err := a.Save(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := Load(bytes.NewReader(buf.Bytes()), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Prefixes() != b.Prefixes() || a.Links() != b.Links() || (a.Relations() == nil) != (b.Relations() == nil) {
		t.Fatalf("restored: %d prefixes %d links, want %d %d", b.Prefixes(), b.Links(), a.Prefixes(), a.Links())
	}
	va, vb := make([]float64, NumFeatures), make([]float64, NumFeatures)
	scored := 0
	for i := half; i < len(us); i++ {
		ua, ub := us[i], us[i]
		ca, cb := a.Observe(&ua, va), b.Observe(&ub, vb)
		if (ca == nil) != (cb == nil) {
			t.Fatalf("update %d: gate %v before the snapshot, %v after", i, ca != nil, cb != nil)
		}
		if ca != nil {
			scored++
			if ca.ExpectedRouted != cb.ExpectedRouted {
				t.Fatalf("update %d: expected origins routed %v before the snapshot, %v after", i, ca.ExpectedRouted, cb.ExpectedRouted)
			}

			if !slices.Equal(va, vb) {
				for f := range va {
					if va[f] != vb[f] {
						t.Fatalf("update %d: %s = %v, restored state says %v", i, Names[f], va[f], vb[f])
					}
				}
			}
		}
	}
	if scored == 0 {
		t.Fatal("nothing scored after the snapshot")
	}
}

// TestSnapshotKeepsRouted: whether a route of the data carried an origin
// (not only a prefix-to-origin table) survives a snapshot.
func TestSnapshotKeepsRouted(t *testing.T) {
	a := NewState(Config{})
	a.LearnTable(t0, []TableEntry{{netip.MustParsePrefix("10.0.0.0/24"), path(100)}, {netip.MustParsePrefix("10.2.0.0/24"), path(300)}})
	a.Observe(ann(time.Minute, peerC, "10.2.0.0/24", path(9, 300)), nil)
	var buf bytes.Buffer
	if err := a.Save(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := Load(bytes.NewReader(buf.Bytes()), Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		routed bool
	}{{"10.0.0.0/24", false}, {"10.2.0.0/24", true}} {
		_, c := observe(t, b, ann(2*time.Minute, peerA, tc.prefix, path(1, 666)))
		if len(c.Expected) == 0 || c.ExpectedRouted != tc.routed {
			t.Errorf("restored %s: expected %v routed %v, want routed %v", tc.prefix, c.Expected, c.ExpectedRouted, tc.routed)
		}
	}
}

func TestSnapshotRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "hello", strings.Repeat("\x00", 100)} {
		if _, err := Load(strings.NewReader(in), Config{}, nil); !errors.Is(err, ErrSnapshot) {
			t.Errorf("Load(%q) err = %v, want ErrSnapshot", in, err)
		}
	}
}
