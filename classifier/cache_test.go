package classifier

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bgpsentry/bgpsentry/features"
)

func sameVerdict(a, b Verdict) bool {
	for k := range a.Proba {
		if math.Float64bits(a.Proba[k]) != math.Float64bits(b.Proba[k]) {
			return false
		}
	}
	return a.Class == b.Class && a.Weak == b.Weak
}

// TestCacheSameAsModel: through caches of 1 slot (every new vector
// evicts), 64 slots (collisions) and the default, a stream of the test
// rows with repeats and near-repeats (one feature changed in its last
// bit) gets exactly the model's verdicts, and repeats are hits.
func TestCacheSameAsModel(t *testing.T) {
	clf, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := parityFixture(t)
	if len(rows) < 1000 {
		t.Fatalf("%d fixture rows, want >= 1000", len(rows))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var stream [][]float64
	for i := 0; i < 6000; i++ {
		x := rows[rng.IntN(len(rows))]
		if rng.IntN(4) == 0 {
			// A near-repeat: must not be taken for x.
			y := append([]float64(nil), x...)
			j := rng.IntN(len(y))
			y[j] = math.Float64frombits(math.Float64bits(y[j]) ^ 1)
			x = y
		}
		stream = append(stream, x)
		if rng.IntN(2) == 0 {
			stream = append(stream, x) // an immediate repeat
		}
	}
	for _, slots := range []int{1, 64, 0} {
		c := NewCache(clf, slots)
		for i, x := range stream {
			want, err := clf.Classify(x)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Classify(x)
			if err != nil {
				t.Fatal(err)
			}
			if !sameVerdict(got, want) {
				t.Fatalf("slots %d, vector %d: cache %+v, model %+v", slots, i, got, want)
			}
		}
		if c.Hits+c.Misses != int64(len(stream)) {
			t.Fatalf("slots %d: %d hits + %d misses, want %d calls", slots, c.Hits, c.Misses, len(stream))
		}
		// Every immediate repeat hits, whatever the size.
		if c.Hits < int64(len(stream)-6000) {
			t.Fatalf("slots %d: %d hits, want >= the %d immediate repeats", slots, c.Hits, len(stream)-6000)
		}
		t.Logf("slots %d: %s", slots, c)
	}
}

// TestCacheThresholdsAtCallTime: a threshold changed after a vector was
// cached applies to the cached verdict.
func TestCacheThresholdsAtCallTime(t *testing.T) {
	clf, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(clf, 0)
	xs, _ := parityFixture(t)
	for _, x := range xs {
		v, err := c.Classify(x)
		if err != nil {
			t.Fatal(err)
		}
		if v.Class == Benign {
			continue
		}
		clf.SetThreshold(v.Class, 1.01) // nothing passes
		hits := c.Hits
		again, err := c.Classify(x)
		if err != nil {
			t.Fatal(err)
		}
		if c.Hits != hits+1 {
			t.Fatalf("hits %d, want %d", c.Hits, hits+1)
		}
		if again.Class != Benign || again.Weak != v.Class {
			t.Fatalf("after the threshold change: class %v weak %v, want benign, weak %v", again.Class, again.Weak, v.Class)
		}
		return
	}
	t.Fatal("no fixture row is flagged: cannot test")
}

// TestCacheWrongLength: a vector of the wrong length is the model's
// error, not a cache entry.
func TestCacheWrongLength(t *testing.T) {
	clf, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(clf, 0)
	if _, err := c.Classify(make([]float64, features.NumFeatures-1)); err == nil {
		t.Fatal("short vector: no error")
	}
	if c.Hits+c.Misses != 0 {
		t.Fatalf("hits %d misses %d after an error", c.Hits, c.Misses)
	}
}

func BenchmarkCache(b *testing.B) {
	clf, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float64, features.NumFeatures)
	b.Run("hit", func(b *testing.B) {
		c := NewCache(clf, 0)
		for b.Loop() {
			c.Classify(x)
		}
	})
	b.Run("model", func(b *testing.B) {
		for b.Loop() {
			clf.Classify(x)
		}
	})
}
