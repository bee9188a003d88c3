package main

import (
	"context"
	"io"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features"
)

// BenchmarkLoadBaseline: the 2026-07-30 RouteViews prefix-to-origin table
// (1.1M IPv4 prefixes) from ../shared/data into an empty feature state,
// what `serve --baseline` does first.
func BenchmarkLoadBaseline(b *testing.B) { benchLoadBaseline(b, false) }

// BenchmarkLoadBaselineLazy is BenchmarkLoadBaseline as score and
// featurize load it (features.State.LearnOriginsLazy), sealed as the first
// update seals it.
func BenchmarkLoadBaselineLazy(b *testing.B) { benchLoadBaseline(b, true) }

func benchLoadBaseline(b *testing.B, lazy bool) {
	p := shared(b, "baseline/asinfo/ipasn_20260730.dat.gz")
	for b.Loop() {
		st := features.NewState(features.Config{})
		n, err := loadBaselines(context.Background(), st, []string{p}, bgpfeed.NewInterner(0), lazy, "", io.Discard, io.Discard)
		if err != nil || n < 1_000_000 {
			b.Fatalf("%d entries, %v", n, err)
		}
		st.SealTable()
	}
}
