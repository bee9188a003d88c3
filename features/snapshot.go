package features

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features/asrel"
	"github.com/bgpsentry/bgpsentry/internal/atomicfile"
)

// snapshotMagic starts every snapshot; the version changes with the
// format or with SchemaVersion.
const snapshotMagic = "bgpsentry-state"

const snapshotFormat = 2

// ErrSnapshot wraps every problem reading a snapshot.
var ErrSnapshot = errors.New("features: bad state snapshot")

type snapHeader struct {
	Magic         string
	Format        int
	SchemaVersion int
}

type snapRoute struct {
	Peer, Epoch uint16
	PathID      uint32
	Path        int32 // index into snapBody.Paths
}

type snapOrigin struct {
	ASN         uint32
	First, Last int64
	Routed      bool
}

type snapOriginStat struct {
	First    int64
	Prefixes int32
}

type snapPrefix struct {
	Prefix  netip.Prefix
	First   int64
	Origins []snapOrigin
	Routes  []snapRoute
}

type snapPeer struct {
	Source string
	Addr   netip.Addr
	ASN    uint32
	Epoch  uint16
	Up     bool
	// LastDown is the peer's last session-down (unix ns); absent in
	// snapshots of older binaries, which read as never.
	LastDown int64
}

type snapDecay struct {
	Kind int
	ASN  uint32
	V    float32
	Last int64
}

type snapBody struct {
	Paths      [][]bgpfeed.Segment
	Prefixes   []snapPrefix
	Peers      []snapPeer
	Origins    map[uint32]snapOriginStat
	Links      map[uint64]int64
	Valleys    map[valleyKey]int64
	Degree     map[uint32]int32
	Bursts     []snapDecay
	Rel        []asrel.Link // only when the relations were inferred
	Inferred   bool
	Started    bool
	LearnUntil int64
	Now        int64
	Observed   int64
	Scored     int64
	Learned    int64
}

// Save writes the state to w (gob). Reference data loaded from files
// (relationships given with Config.Rel, siblings, RPKI) is not saved: it is
// loaded again at start; inferred relationships are saved.
func (s *State) Save(w io.Writer) error {
	s.Materialize()
	b := snapBody{
		Origins:    make(map[uint32]snapOriginStat, len(s.origins)),
		Links:      s.links,
		Valleys:    s.valleys,
		Degree:     s.degree,
		Started:    s.started,
		LearnUntil: s.learnUntil,
		Now:        s.now,
		Observed:   s.observed,
		Scored:     s.scored,
		Learned:    s.learned,
	}
	pathIdx := map[*bgpfeed.Path]int32{}
	for p, ps := range s.prefixes.All() {
		sp := snapPrefix{Prefix: p, First: ps.first}
		for _, o := range ps.origins {
			sp.Origins = append(sp.Origins, snapOrigin{o.asn, o.first, o.last, o.routed})
		}
		for _, r := range ps.routes {
			if !s.live(r) {
				continue
			}
			i, ok := pathIdx[r.path]
			if !ok {
				i = int32(len(b.Paths))
				pathIdx[r.path] = i
				b.Paths = append(b.Paths, r.path.Segments)
			}
			sp.Routes = append(sp.Routes, snapRoute{r.peer, r.epoch, r.pathID, i})
		}
		b.Prefixes = append(b.Prefixes, sp)
	}
	b.Peers = make([]snapPeer, len(s.peers))
	for k, id := range s.peerIdx {
		b.Peers[id] = snapPeer{Source: k.source, Addr: k.addr, ASN: k.asn, Epoch: s.peers[id].epoch, Up: s.peers[id].up, LastDown: s.peers[id].lastDown}
	}
	for a, o := range s.origins {
		b.Origins[a] = snapOriginStat{o.first, o.prefixes}
	}
	for kind, m := range s.bursts {
		for a, d := range m {
			b.Bursts = append(b.Bursts, snapDecay{kind, a, d.v, d.last})
		}
	}
	if s.rel != nil && s.cfg.Rel == nil {
		b.Inferred = true
		for l := range s.rel.Links() {
			b.Rel = append(b.Rel, l)
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := gob.NewEncoder(bw)
	if err := enc.Encode(snapHeader{snapshotMagic, snapshotFormat, SchemaVersion}); err != nil {
		return fmt.Errorf("features: save: %w", err)
	}
	if err := enc.Encode(&b); err != nil {
		return fmt.Errorf("features: save: %w", err)
	}
	return bw.Flush()
}

// SaveFile writes the state atomically (temporary file, synced, then
// rename).
func (s *State) SaveFile(path string) error {
	var saveErr error
	err := atomicfile.Write(path, true, func(w io.Writer) error { saveErr = s.Save(w); return saveErr })
	if err != nil && err != saveErr { // Save's own errors say what they are
		return fmt.Errorf("features: save: %w", err)
	}
	return err
}

// Load restores a state saved by Save into a new State with cfg (whose
// reference data must be loaded again by the caller). Paths are interned
// with in (nil: a new interner).
func Load(r io.Reader, cfg Config, in *bgpfeed.Interner) (*State, error) {
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var h snapHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrSnapshot, err)
	}
	if h.Magic != snapshotMagic {
		return nil, fmt.Errorf("%w: not a bgpsentry state snapshot", ErrSnapshot)
	}
	if h.Format != snapshotFormat || h.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: format %d schema %d, this binary reads format %d schema %d", ErrSnapshot, h.Format, h.SchemaVersion, snapshotFormat, SchemaVersion)
	}
	var b snapBody
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	if in == nil {
		in = bgpfeed.NewInterner(0)
	}
	s := NewState(cfg)
	paths := make([]*bgpfeed.Path, len(b.Paths))
	var key []byte
	for i, segs := range b.Paths {
		key = bgpfeed.AppendKey(key[:0], segs)
		paths[i] = in.Intern(key, segs)
	}
	s.peers = make([]peerState, len(b.Peers))
	for i, p := range b.Peers {
		s.peers[i] = peerState{epoch: p.Epoch, up: p.Up, lastDown: p.LastDown}
		if p.LastDown != 0 {
			s.downs++
		}
		s.peerIdx[peerKey{p.Source, p.Addr, p.ASN}] = uint16(i)
	}
	for _, sp := range b.Prefixes {
		ps := &prefixState{first: sp.First}
		for _, o := range sp.Origins {
			ps.origins = append(ps.origins, originRec{asn: o.ASN, routed: o.Routed, first: o.First, last: o.Last})
		}
		for _, r := range sp.Routes {
			if int(r.Path) >= len(paths) || int(r.Peer) >= len(s.peers) {
				return nil, fmt.Errorf("%w: route of %s refers to path %d / peer %d", ErrSnapshot, sp.Prefix, r.Path, r.Peer)
			}
			ps.routes = append(ps.routes, route{r.Peer, r.Epoch, r.PathID, paths[r.Path]})
		}
		if err := s.prefixes.Insert(sp.Prefix, ps); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
		}
	}
	for a, o := range b.Origins {
		s.origins[a] = &originStat{o.First, o.Prefixes}
	}
	if b.Valleys != nil {
		s.valleys = b.Valleys
	}
	if b.Links != nil {
		s.links = b.Links
	}
	if b.Degree != nil {
		s.degree = b.Degree
	}
	for _, d := range b.Bursts {
		if d.Kind < 0 || d.Kind >= len(s.bursts) {
			return nil, fmt.Errorf("%w: burst kind %d", ErrSnapshot, d.Kind)
		}
		s.bursts[d.Kind][d.ASN] = &decay{d.V, d.Last}
	}
	if b.Inferred && cfg.Rel == nil {
		s.SetRelations(asrel.FromLinks(b.Rel))
		s.inferPaths = nil
	}
	if b.Started {
		s.inferPaths = nil // scoring had started: no second inference
	}
	s.started, s.learnUntil, s.now = b.Started, b.LearnUntil, b.Now
	s.observed, s.scored, s.learned = b.Observed, b.Scored, b.Learned
	return s, nil
}

// LoadFile restores a state from a file written by SaveFile.
func LoadFile(path string, cfg Config, in *bgpfeed.Interner) (*State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("features: load state: %w", err)
	}
	defer f.Close()
	s, err := Load(f, cfg, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
