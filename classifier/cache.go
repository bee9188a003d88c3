package classifier

import (
	"fmt"
	"math"
	"math/bits"
)

// Cache remembers the model's probabilities for recently seen feature
// vectors, so that a vector seen again is not evaluated again. Many are:
// the prefixes of one update share every feature but the prefix's own, the
// same announcement arrives from sessions in the same position, a leak
// wave repeats one shape hundreds of times (on RIS rrc01 2024-10-01 00:55,
// 41% of the scored vectors repeat an earlier one; on the 2008 YouTube
// files, 43%).
//
// A hit is exact: a slot holds the whole vector it was computed for, and
// a lookup compares every feature's bits, so a hit returns what the model
// would (the tests check it). Slots are direct-mapped by a hash of the
// vector: a new vector replaces the one in its slot, and memory stays
// fixed (slots × (features + classes) × 8 bytes). The verdict is derived
// from the probabilities with the classifier's thresholds at the time of
// the call, so SetThreshold after the cache is made still applies.
//
// A Cache is not safe for concurrent use: give each goroutine its own.
type Cache struct {
	clf          *Classifier
	nf           int
	mask         uint64
	keys         []float64 // slot i: keys[i*nf:(i+1)*nf]
	proba        [][NumClasses]float64
	used         []bool
	Hits, Misses int64
}

// DefaultCacheSlots is the slot count of NewCache(clf, 0): ~2 MB for the
// 57-feature model. Repeats come close together (mostly the prefixes of
// one update): on the files above, 1,024 slots already get 98-99% of the
// hits of an unbounded map, and 4,096 slots 99%.
const DefaultCacheSlots = 1 << 12

// NewCache makes a cache of slots entries (rounded up to a power of two;
// 0: DefaultCacheSlots) in front of clf.
func NewCache(clf *Classifier, slots int) *Cache {
	if slots <= 0 {
		slots = DefaultCacheSlots
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	nf := clf.model.NFeatures()
	return &Cache{clf: clf, nf: nf, mask: uint64(n - 1), keys: make([]float64, n*nf), proba: make([][NumClasses]float64, n), used: make([]bool, n)}
}

// Classify is clf.Classify(x), from the cache when x was seen.
func (c *Cache) Classify(x []float64) (Verdict, error) {
	if len(x) != c.nf {
		// The model's error, with its message.
		return c.clf.Classify(x)
	}
	h := uint64(0x9e3779b97f4a7c15)
	for _, f := range x {
		h = (h ^ math.Float64bits(f)) * 0xff51afd7ed558ccd
		h ^= h >> 32
	}
	h = bits.RotateLeft64(h*0xc4ceb9fe1a85ec53, 29)
	i := h & c.mask
	key := c.keys[int(i)*c.nf : int(i+1)*c.nf]
	if c.used[i] && sameBits(key, x) {
		c.Hits++
		var v Verdict
		v.Proba = c.proba[i]
		c.clf.decide(&v)
		return v, nil
	}
	v, err := c.clf.Classify(x)
	if err != nil {
		return v, err
	}
	c.Misses++
	copy(key, x)
	c.proba[i] = v.Proba
	c.used[i] = true
	return v, nil
}

// HitRate is Hits / (Hits + Misses), 0 before any call.
func (c *Cache) HitRate() float64 {
	if n := c.Hits + c.Misses; n > 0 {
		return float64(c.Hits) / float64(n)
	}
	return 0
}

func (c *Cache) String() string {
	return fmt.Sprintf("%d of %d from the cache (%.0f%%)", c.Hits, c.Hits+c.Misses, 100*c.HitRate())
}

// sameBits: a and b hold the same float64 bits (NaN equals NaN; 0 and -0
// differ, which costs at most a miss).
func sameBits(a, b []float64) bool {
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}
