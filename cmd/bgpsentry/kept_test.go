package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// TestInferKeepsInputs: the updates the relationship inference keeps are
// those a second read of the inputs gives, the inferred relationships do
// not depend on keeping them, and beyond the bound nothing is kept.
func TestInferKeepsInputs(t *testing.T) {
	inputs := []string{filepath.Join("..", "..", "testdata", "mrt", "bird_bgp"), filepath.Join("..", "..", "testdata", "mrt", "openbgpd_bgp")}
	in := bgpfeed.NewInterner(0)
	opts := mrt.Options{Interner: in, Source: "test"}
	g, kept, err := inferRelations(context.Background(), nil, inputs, opts, 1<<20, nil, nil, io.Discard)
	if err != nil || kept == nil {
		t.Fatalf("kept %v, %v", kept, err)
	}
	r, err := mrt.Open(inputs, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		want, err := r.Next(context.Background())
		got, gerr := kept.Next(context.Background())
		if errors.Is(err, io.EOF) {
			if !errors.Is(gerr, io.EOF) {
				t.Fatalf("kept has more than %d updates", n)
			}
			break
		}
		if err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("update %d: kept %+v, read %+v", n, got, want)
		}
		n++
	}
	if n == 0 || !reflect.DeepEqual(kept.Stats(), r.Stats()) {
		t.Fatalf("%d updates; stats %+v, want %+v", n, kept.Stats(), r.Stats())
	}
	if done, total := kept.Progress(); done != total || total != int64(n) {
		t.Errorf("progress %d/%d after %d updates", done, total, n)
	}
	g2, kept2, err := inferRelations(context.Background(), nil, inputs, mrt.Options{}, n-1, nil, nil, io.Discard)
	if err != nil || kept2 != nil {
		t.Fatalf("over the bound: kept %v, %v", kept2, err)
	}
	if g.Len() != g2.Len() || g.Stats() != g2.Stats() {
		t.Errorf("relationships differ: %d %+v vs %d %+v", g.Len(), g.Stats(), g2.Len(), g2.Stats())
	}
}

// TestKeptChunks: updates kept across several chunks come back in order,
// once; one over the bound drops them all.
func TestKeptChunks(t *testing.T) {
	n := 3*keptChunk + 5
	var k keptInputs
	for i := range n {
		k.add(bgpfeed.Update{PathID: uint32(i)}, n)
	}
	if k.dropped || k.n != int64(n) {
		t.Fatalf("kept %d of %d (dropped %v)", k.n, n, k.dropped)
	}
	for i := range n {
		u, err := k.Next(context.Background())
		if err != nil || u.PathID != uint32(i) {
			t.Fatalf("update %d: %v, %v", i, u.PathID, err)
		}
	}
	if _, err := k.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last: %v", err)
	}
	var over keptInputs
	for i := range n + 1 {
		over.add(bgpfeed.Update{PathID: uint32(i)}, n)
	}
	if !over.dropped || over.n != 0 || over.chunks != nil {
		t.Fatalf("over the bound: %d kept", over.n)
	}
}
