package mrt

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// Options configure a Reader. The zero value is usable.
type Options struct {
	// Workers is the number of decoding goroutines shared by all files
	// (default GOMAXPROCS).
	Workers int
	// Interner shares AS paths; a new one is made when nil.
	Interner *bgpfeed.Interner
	// Source overrides Update.Source (default: CollectorName of the file).
	Source string
}

// Stats summarise what a Reader read and skipped. Counts cover the batches
// handed out so far.
type Stats struct {
	Files      int
	Records    int64    // MRT records framed
	Messages   [6]int64 // BGP messages by type (1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH)
	NonUnicast int64    // NLRI of other address families, left out
	// AddPathGuessed counts UPDATEs written under a plain BGP4MP subtype
	// that only parse with ADD-PATH path identifiers (BIRD does this).
	AddPathGuessed int64
	Skipped        map[string]int64
	Samples        []RecordError // the first skips, with file and offset
	SkippedFiles   []string      // files found in a directory walk that are not MRT
}

// TotalSkipped is the number of records skipped for any reason.
func (s *Stats) TotalSkipped() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// SkippedKinds lists the skip kinds in a stable order.
func (s *Stats) SkippedKinds() []string {
	ks := make([]string, 0, len(s.Skipped))
	for k := range s.Skipped {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// batch is a run of framed records of one file, decoded by one worker.
type batch struct {
	file   string
	source string
	peers  *peerIndex
	buf    []byte
	recs   []record
	out    []bgpfeed.Update
	counts counts
	done   chan struct{}
}

const (
	batchBytes   = 256 << 10
	batchRecords = 1024
	aheadBatches = 4 // decoded-ahead batches per file
)

var batchPool = sync.Pool{New: func() any { return &batch{buf: make([]byte, 0, batchBytes+64<<10)} }}

// Reader replays one or more MRT files as a time-ordered stream of Updates.
// It implements bgpfeed.Source.
type Reader struct {
	opts    Options
	ctx     context.Context
	cancel  context.CancelFunc
	jobs    chan *batch
	streams []*stream
	heap    streamHeap
	started bool
	stats   Stats
	wg      sync.WaitGroup // framers
	wwg     sync.WaitGroup // workers
	closed  bool
}

// stream is the ordered output of one file.
type stream struct {
	idx     int
	file    string
	ordered chan *batch
	cur     *batch
	pos     int
	strict  bool // named explicitly: not being MRT is an error
	open    func() (io.ReadCloser, error)
	size    int64        // compressed size, 0 when unknown
	read    atomic.Int64 // compressed bytes read so far
	err     error
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Open expands paths (files, directories, globs; "-" is standard input)
// and starts decoding them. Files named explicitly must be MRT; files found
// by walking a directory that are not MRT are skipped and listed in
// Stats.SkippedFiles.
func Open(paths []string, opts Options) (*Reader, error) {
	var files []string
	stdin := false
	var rest []string
	for _, p := range paths {
		if p == "-" {
			stdin = true
		} else {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 || !stdin {
		var err error
		if files, err = Expand(rest); err != nil {
			return nil, err
		}
	}
	explicit := map[string]bool{}
	for _, p := range paths {
		explicit[p] = true
	}
	var srcs []*stream
	if stdin {
		srcs = append(srcs, &stream{file: "-", strict: true, open: func() (io.ReadCloser, error) { return io.NopCloser(os.Stdin), nil }})
	}
	for _, f := range files {
		var size int64
		if st, err := os.Stat(f); err == nil {
			size = st.Size()
		}
		srcs = append(srcs, &stream{file: f, strict: explicit[f], size: size, open: func() (io.ReadCloser, error) { return os.Open(f) }})
	}
	return start(srcs, opts), nil
}

// NewReader decodes one MRT stream (compressed or not) read from r; name
// is used as the Source and in error messages.
func NewReader(name string, r io.Reader, opts Options) *Reader {
	return start([]*stream{{file: name, strict: true, open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }}}, opts)
}

func start(srcs []*stream, opts Options) *Reader {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Interner == nil {
		opts.Interner = bgpfeed.NewInterner(0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reader{opts: opts, ctx: ctx, cancel: cancel, jobs: make(chan *batch, opts.Workers*2)}
	r.stats.Files = len(srcs)
	for i := 0; i < opts.Workers; i++ {
		r.wwg.Add(1)
		go func() {
			defer r.wwg.Done()
			d := &decoder{interner: opts.Interner}
			for b := range r.jobs {
				d.decodeBatch(b)
				close(b.done)
			}
		}()
	}
	for i, s := range srcs {
		s.idx = i
		s.ordered = make(chan *batch, aheadBatches)
		r.streams = append(r.streams, s)
		r.wg.Add(1)
		go r.frame(s)
	}
	go func() {
		r.wg.Wait()
		close(r.jobs)
	}()
	return r
}

// frame reads one file: decompress, frame records into batches, hand each
// batch to the workers and, in order, to the stream.
func (r *Reader) frame(s *stream) {
	defer r.wg.Done()
	defer close(s.ordered)
	source := r.opts.Source
	if source == "" {
		source = CollectorName(s.file)
	}
	fail := func(kind string, off int64, err error) {
		b := batchPool.Get().(*batch)
		b.reset(s.file, source, nil)
		b.counts.skip(s.file, off, kind, err)
		b.done = make(chan struct{})
		close(b.done)
		select {
		case s.ordered <- b:
		case <-r.ctx.Done():
		}
	}
	f, err := s.open()
	if err != nil {
		s.err = fmt.Errorf("mrt: %w", err)
		return
	}
	defer f.Close()
	zr, _, err := Decompress(countingReader{f, &s.read})
	if err != nil {
		fail(SkipCorruptStream, 0, err)
		return
	}
	var (
		off   int64
		hb    [headerLen]byte
		peers *peerIndex
		first = true
	)
	b := batchPool.Get().(*batch)
	b.reset(s.file, source, peers)
	send := func() bool {
		if len(b.recs) == 0 && b.counts.records == 0 && len(b.counts.skipped) == 0 {
			return true
		}
		b.done = make(chan struct{})
		select {
		case r.jobs <- b:
		case <-r.ctx.Done():
			return false
		}
		select {
		case s.ordered <- b:
		case <-r.ctx.Done():
			return false
		}
		b = batchPool.Get().(*batch)
		b.reset(s.file, source, peers)
		return true
	}
	for {
		n, err := io.ReadFull(zr, hb[:])
		if err != nil {
			if !send() {
				return
			}
			if errors.Is(err, io.EOF) && n == 0 {
				return // clean end (an empty file is an empty dump)
			}
			fail(truncKind(err), off, fmt.Errorf("in record header: %w", err))
			return
		}
		h := parseHeader(hb[:])
		if !h.known() {
			send()
			if first {
				if s.strict {
					s.err = fmt.Errorf("mrt: %s: first record has type %d and length %d: %w", s.file, h.typ, h.length, ErrNotMRT)
				} else {
					s.err = errNotMRTSkipped
				}
				return
			}
			if h.length > maxRecordLen {
				fail(SkipBadLength, off, fmt.Errorf("record length %d exceeds %d; the rest of the file cannot be framed", h.length, maxRecordLen))
				return
			}
		}
		first = false
		bodyLen := int(h.length)
		start := len(b.buf)
		if cap(b.buf)-start < bodyLen {
			if !send() {
				return
			}
			start = 0
			if cap(b.buf) < bodyLen {
				b.buf = make([]byte, 0, bodyLen)
			}
		}
		body := b.buf[start : start+bodyLen]
		if n, err := io.ReadFull(zr, body); err != nil {
			send()
			fail(truncKind(err), off, fmt.Errorf("record body: read %d of %d bytes: %w", n, bodyLen, err))
			return
		}
		if h.typ == typeBGP4MPET {
			if bodyLen < 4 {
				b.counts.skip(s.file, off, SkipBGP4MPHeader, errors.New("BGP4MP_ET record without microseconds"))
				off += int64(headerLen + bodyLen)
				continue
			}
			h.usec = uint32(body[0])<<24 | uint32(body[1])<<16 | uint32(body[2])<<8 | uint32(body[3])
			if h.usec > 999999 {
				h.usec = 0
			}
			body = body[4:]
			h.length -= 4
		}
		if h.typ == typeTableDumpV2 && h.subtype == tdv2PeerIndexTable {
			b.counts.records++
			pi, err := decodePeerIndex(append([]byte(nil), body...))
			if err != nil {
				b.counts.skip(s.file, off, SkipPeerIndex, err)
			} else {
				if !send() {
					return
				}
				peers = pi
				b.peers = pi
			}
			off += int64(headerLen + bodyLen)
			continue
		}
		b.buf = b.buf[:start+bodyLen]
		b.recs = append(b.recs, record{off: off, hdr: h, body: body})
		off += int64(headerLen + bodyLen)
		if len(b.recs) >= batchRecords || len(b.buf) >= batchBytes {
			if !send() {
				return
			}
		}
	}
}

var errNotMRTSkipped = errors.New("not MRT (skipped)")

func truncKind(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return SkipTruncated
	}
	return SkipCorruptStream
}

func (b *batch) reset(file, source string, peers *peerIndex) {
	b.file, b.source, b.peers = file, source, peers
	b.buf = b.buf[:0]
	b.recs = b.recs[:0]
	clear(b.out)
	b.out = b.out[:0]
	b.counts = counts{}
	b.done = nil
}

// Next returns the next Update in time order (files merged by timestamp,
// stable: ties keep file order, and each file keeps its own order). It
// returns io.EOF after the last one.
func (r *Reader) Next(ctx context.Context) (bgpfeed.Update, error) {
	if !r.started {
		r.started = true
		for _, s := range r.streams {
			if err := r.advance(ctx, s); err != nil {
				return bgpfeed.Update{}, err
			}
			if s.cur != nil {
				r.heap = append(r.heap, s)
			}
		}
		heap.Init(&r.heap)
	}
	if len(r.heap) == 0 {
		return bgpfeed.Update{}, io.EOF
	}
	s := r.heap[0]
	u := s.cur.out[s.pos]
	s.pos++
	if err := r.advance(ctx, s); err != nil {
		return bgpfeed.Update{}, err
	}
	if s.cur == nil {
		heap.Pop(&r.heap)
	} else {
		heap.Fix(&r.heap, 0)
	}
	return u, nil
}

// advance moves s to its next Update, pulling decoded batches as needed;
// s.cur is nil at the end of the file.
func (r *Reader) advance(ctx context.Context, s *stream) error {
	for s.cur == nil || s.pos >= len(s.cur.out) {
		if s.cur != nil {
			batchPool.Put(s.cur)
			s.cur = nil
		}
		var b *batch
		var ok bool
		select {
		case b, ok = <-s.ordered:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			if s.err != nil {
				if errors.Is(s.err, errNotMRTSkipped) {
					r.stats.SkippedFiles = append(r.stats.SkippedFiles, s.file)
					r.stats.Files--
					return nil
				}
				return s.err
			}
			return nil
		}
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		r.merge(&b.counts)
		s.cur, s.pos = b, 0
	}
	return nil
}

func (r *Reader) merge(c *counts) {
	st := &r.stats
	st.Records += c.records
	for i, n := range c.messages {
		st.Messages[i] += n
	}
	st.NonUnicast += c.nonUni
	st.AddPathGuessed += c.addPathGuessed
	for k, n := range c.skipped {
		if st.Skipped == nil {
			st.Skipped = make(map[string]int64)
		}
		st.Skipped[k] += n
	}
	for _, smp := range c.samples {
		if len(st.Samples) < maxSamples {
			st.Samples = append(st.Samples, smp)
		}
	}
}

// Progress reports the compressed bytes read so far and the total size of
// the input files (0 when unknown, e.g. standard input). It is safe to call
// from another goroutine.
func (r *Reader) Progress() (done, total int64) {
	for _, s := range r.streams {
		done += s.read.Load()
		total += s.size
	}
	return done, total
}

// Stats returns the counts so far (complete after Next returned io.EOF).
func (r *Reader) Stats() Stats { return r.stats }

// Close stops decoding and releases the files. It is safe to call twice.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	for _, s := range r.streams {
		for range s.ordered { // drain so framers can exit
		}
	}
	r.wg.Wait()
	r.wwg.Wait()
	return nil
}

// streamHeap orders streams by the time of their current Update, then by
// file index (stable merge).
type streamHeap []*stream

func (h streamHeap) Len() int { return len(h) }
func (h streamHeap) Less(i, j int) bool {
	a, b := h[i].cur.out[h[i].pos].Time, h[j].cur.out[h[j].pos].Time
	if !a.Equal(b) {
		return a.Before(b)
	}
	return h[i].idx < h[j].idx
}
func (h streamHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)   { *h = append(*h, x.(*stream)) }
func (h *streamHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

var _ bgpfeed.Source = (*Reader)(nil)
