package features

// slabs hands out prefix states and first origin records from chunks, so
// that a full table (a million prefixes, most with one origin) costs a
// few thousand allocations instead of two per prefix, and the garbage
// collector has that many fewer objects to track.
type slabs struct {
	prefixes []prefixState
	origins  []originRec
}

const (
	prefixChunk = 1024
	originChunk = 4096
)

// prefix returns a new zero prefixState.
func (a *slabs) prefix() *prefixState {
	if len(a.prefixes) == 0 {
		a.prefixes = make([]prefixState, prefixChunk)
	}
	ps := &a.prefixes[0]
	a.prefixes = a.prefixes[1:]
	return ps
}

// origin returns a one-element origin history holding o, with no room to
// grow: an append copies it out of the chunk, as it would copy any full
// slice.
func (a *slabs) origin(o originRec) []originRec {
	if len(a.origins) == 0 {
		a.origins = make([]originRec, originChunk)
	}
	s := a.origins[:1:1]
	a.origins = a.origins[1:]
	s[0] = o
	return s
}
