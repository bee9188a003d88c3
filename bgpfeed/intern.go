package bgpfeed

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
)

// Interner returns one shared *Path for equal AS paths, so the millions of
// routes of a full table from many peers hold a few hundred thousand paths.
// It is safe for concurrent use. Its memory is bounded: when a shard holds
// more than its share of MaxPaths, the shard is cleared (Paths already
// handed out stay valid, they are only no longer shared with new ones).
type Interner struct {
	seed   maphash.Seed
	shards [internShards]internShard
	max    int
}

const internShards = 16

type internShard struct {
	mu sync.Mutex // guards m
	m  map[string]*Path
}

// DefaultMaxPaths bounds an Interner made by NewInterner(0).
const DefaultMaxPaths = 4 << 20

// NewInterner makes an Interner keeping at most maxPaths paths
// (DefaultMaxPaths when maxPaths <= 0).
func NewInterner(maxPaths int) *Interner {
	if maxPaths <= 0 {
		maxPaths = DefaultMaxPaths
	}
	in := &Interner{seed: maphash.MakeSeed(), max: maxPaths/internShards + 1}
	for i := range in.shards {
		in.shards[i].m = make(map[string]*Path)
	}
	return in
}

// AppendKey appends the canonical encoding of segs to buf: equal paths
// encode equally.
func AppendKey(buf []byte, segs []Segment) []byte {
	for _, s := range segs {
		buf = append(buf, byte(s.Type))
		buf = binary.AppendUvarint(buf, uint64(len(s.ASNs)))
		for _, a := range s.ASNs {
			buf = binary.BigEndian.AppendUint32(buf, a)
		}
	}
	return buf
}

// Intern returns the shared Path equal to segs. key must be
// AppendKey(nil, segs) (callers keep a scratch buffer); segs is copied when
// a new Path is made, so the caller may reuse it.
func (in *Interner) Intern(key []byte, segs []Segment) *Path {
	sh := &in.shards[maphash.Bytes(in.seed, key)%internShards]
	sh.mu.Lock()
	if p, ok := sh.m[string(key)]; ok {
		sh.mu.Unlock()
		return p
	}
	sh.mu.Unlock()
	p := NewPath(cloneSegments(segs))
	sh.mu.Lock()
	if q, ok := sh.m[string(key)]; ok {
		sh.mu.Unlock()
		return q
	}
	if len(sh.m) >= in.max {
		clear(sh.m)
	}
	sh.m[string(key)] = p
	sh.mu.Unlock()
	return p
}

// Len is the number of paths currently held.
func (in *Interner) Len() int {
	n := 0
	for i := range in.shards {
		sh := &in.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

func cloneSegments(segs []Segment) []Segment {
	n := 0
	for _, s := range segs {
		n += len(s.ASNs)
	}
	asns := make([]uint32, 0, n)
	out := make([]Segment, len(segs))
	for i, s := range segs {
		start := len(asns)
		asns = append(asns, s.ASNs...)
		out[i] = Segment{Type: s.Type, ASNs: asns[start:len(asns):len(asns)]}
	}
	return out
}
