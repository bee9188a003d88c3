package speaker

import (
	"bufio"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/packet/mrt"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// ribFile is a real RouteViews RIB (the first 2 MB of the bz2: 679k
// entries of 20 peers for 41k prefixes) beside the repository.
const ribFile = "mrt/routeviews2-rib-20260730-partial/rib.20260730.1400_first2MB.bz2"

func sharedData(t testing.TB) string {
	if d := os.Getenv("BGPSENTRY_SHARED_DATA"); d != "" {
		return d
	}
	return filepath.Join(peersDir(t), "..", "..", "..", "shared", "data")
}

// ribRef is what the RIB holds: per IPv4 prefix, the AS paths of its
// entries (a multiset), how many entries in all, and how many distinct
// (prefix, peer AS, peer BGP ID): gobgpd keeps one path per source, and
// a router peering over IPv4 and IPv6 is one source twice.
type ribRef struct {
	paths   map[netip.Prefix]map[string]int
	entries int
	sources int
	records int
}

// prepareRIB decompresses the truncated bz2 RIB into dir, keeping only
// whole MRT records (at most maxRecords RIB records when > 0), and reads
// the IPv4 entries for reference.
func prepareRIB(t testing.TB, dir string, maxRecords int) (string, *ribRef) {
	t.Helper()
	src := filepath.Join(sharedData(t), ribFile)
	in, err := os.Open(src)
	if err != nil {
		t.Skipf("skipping: %s is absent (set BGPSENTRY_SHARED_DATA to the shared data directory): %v", src, err)
	}
	defer in.Close()
	outPath := filepath.Join(dir, "rib.mrt")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	r := bufio.NewReader(bzip2.NewReader(in))
	ref := &ribRef{paths: map[netip.Prefix]map[string]int{}}
	type source struct {
		pfx netip.Prefix
		as  uint32
		id  string
	}
	sources := map[source]bool{}
	var peers []*mrt.Peer
	var hdr [mrt.MRT_COMMON_HEADER_LEN]byte
	for maxRecords <= 0 || ref.records < maxRecords {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break // end of the truncated stream
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[8:12]))
		if _, err := io.ReadFull(r, body); err != nil {
			break
		}
		h := &mrt.MRTHeader{}
		if err := h.DecodeFromBytes(hdr[:]); err != nil {
			t.Fatal(err)
		}
		msg, err := mrt.ParseMRTBody(h, body)
		if err != nil {
			t.Fatalf("RIB record: %v", err)
		}
		if h.Type == mrt.TABLE_DUMPv2 && mrt.MRTSubTypeTableDumpv2(h.SubType) == mrt.RIB_IPV6_UNICAST {
			break // IPv4 only: the session carrying it is IPv4
		}
		w.Write(hdr[:])
		w.Write(body)
		if pi, ok := msg.Body.(*mrt.PeerIndexTable); ok {
			peers = pi.Peers
		}
		rib, ok := msg.Body.(*mrt.Rib)
		if !ok {
			continue
		}
		ref.records++
		pfx := netip.MustParsePrefix(rib.Prefix.String())
		m := ref.paths[pfx]
		if m == nil {
			m = map[string]int{}
			ref.paths[pfx] = m
		}
		for _, e := range rib.Entries {
			m[pathOf(e.PathAttributes)]++
			ref.entries++
			if int(e.PeerIndex) < len(peers) {
				p := peers[e.PeerIndex]
				sources[source{pfx, p.AS, p.BgpId.String()}] = true
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	ref.sources = len(sources)
	return outPath, ref
}

// pathOf formats the AS path of MRT attributes as bgpfeed.Path does.
func pathOf(attrs []bgp.PathAttributeInterface) string {
	for _, a := range attrs {
		if ap, ok := a.(*bgp.PathAttributeAsPath); ok {
			var segs []bgpfeed.Segment
			for _, p := range ap.Value {
				segs = append(segs, bgpfeed.Segment{Type: bgpfeed.SegmentType(p.GetType()), ASNs: p.GetAS()})
			}
			return bgpfeed.NewPath(segs).String()
		}
	}
	return ""
}

var ribSummary = regexp.MustCompile(`Path: (\d+)`)

// memSampler records the peak heap in use while it runs.
type memSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleMem() *memSampler {
	m := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > m.peak.Load() {
				m.peak.Store(ms.HeapInuse)
			}
			select {
			case <-m.stop:
				return
			case <-tk.C:
			}
		}
	}()
	return m
}

func (m *memSampler) end() uint64 {
	close(m.stop)
	<-m.done
	return m.peak.Load()
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// vmHWM is the peak resident set of this process (kB from /proc).
func vmHWM() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}

// BenchmarkGobgpdTableTransfer measures how fast the speaker takes a real
// table: gobgpd gets a RouteViews RIB with `gobgp mrt inject global` and
// sends every path (ADD-PATH) to the speaker over IPv4 loopback. Each
// iteration brings the session up, waits for every path to come out of
// Next, checks a sample of AS paths against the RIB, and takes the
// session down again. Run with:
//
//	go test -run '^$' -bench GobgpdTableTransfer -benchtime 1x ./bgpfeed/speaker/
//
// BGPSENTRY_SPEAKER_BENCH_RECORDS limits the RIB records injected.
func BenchmarkGobgpdTableTransfer(b *testing.B) {
	maxRecords, _ := strconv.Atoi(os.Getenv("BGPSENTRY_SPEAKER_BENCH_RECORDS"))
	file, ref := prepareRIB(b, b.TempDir(), maxRecords)
	b.Logf("RIB: %d IPv4 records, %d entries, %d distinct (prefix, peer AS, peer ID)", ref.records, ref.entries, ref.sources)
	const gobgpdASN = 65020
	peerAddr := netip.MustParseAddr("127.0.0.6")
	s := startSpeaker(b, Config{QueueSize: 1 << 21, Logger: testLogger(b)})
	g := startGobgpd(b, gobgpdConf{ASN: gobgpdASN, SpeakerASN: s.cfg.ASN, RouterID: "10.255.0.6",
		Local: peerAddr.String(), Speaker: s.Addr().Addr().String(), SpeakerPort: int(s.Addr().Port()), AddPathSend: 64})

	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "gobgp", g.cli("mrt", "inject", "global", "--no-ipv6", file)[1:]...).CombinedOutput(); err != nil {
		b.Fatalf("gobgp mrt inject: %v\n%s", err, out)
	}
	// `gobgp mrt inject` exits without closing its stream, so gobgpd may
	// not get the last few batches: take what gobgpd holds once it is
	// stable.
	injected, stable, last := 0, time.Now(), -1
	eventually(b, 5*time.Minute, "gobgpd's path count to settle", func() error {
		m := ribSummary.FindStringSubmatch(g.do(b, "global rib summary -a ipv4"))
		if m == nil {
			return errNotYet
		}
		n, _ := strconv.Atoi(m[1])
		if n != last {
			last, stable = n, time.Now()
			return errNotYet
		}
		if n == ref.sources || time.Since(stable) > 3*time.Second {
			injected = n
			return nil
		}
		return errNotYet
	})
	if injected < ref.sources*9/10 {
		b.Fatalf("gobgpd holds %d paths of %d injected", injected, ref.sources)
	}
	b.Logf("gobgp mrt inject: gobgpd holds %d of %d paths after %v", injected, ref.sources, time.Since(t0).Round(time.Millisecond))

	// The consumer counts what Next returns and keeps a sample.
	var (
		mu        sync.Mutex
		announced int
		withdrawn int
		table     int
		lastAt    time.Time
		firstAt   time.Time
		upAt      time.Time
		sample    []bgpfeed.Update
		bad       int
	)
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			u, err := s.Next(cctx)
			if err != nil {
				return
			}
			mu.Lock()
			switch u.Kind {
			case bgpfeed.KindAnnounce:
				announced++
				if u.Table {
					table++
				}
				lastAt = time.Now()
				if announced == 1 {
					firstAt = lastAt
				}
				if announced%97 == 0 {
					sample = append(sample, u)
				}
			case bgpfeed.KindWithdraw:
				withdrawn++
			case bgpfeed.KindState:
				if u.NewState == bgpfeed.StateEstablished {
					upAt = time.Now()
				}
			}
			mu.Unlock()
		}
	}()
	wait := func(what string, cond func() bool) {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				mu.Lock()
				a, w := announced, withdrawn
				mu.Unlock()
				b.Fatalf("timed out waiting for %s (announced %d, withdrawn %d, stats %+v)", what, a, w, s.Stats())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	var transfer, flow time.Duration
	var peak, perRoute uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mu.Lock()
		announced, withdrawn, table, sample = 0, 0, 0, nil
		mu.Unlock()
		base := heapAfterGC()
		ms := sampleMem()
		b.StartTimer()
		start := time.Now()
		if err := s.AddNeighbor(context.Background(), Neighbor{Addr: peerAddr, ASN: gobgpdASN, Passive: true, AddPath: true}); err != nil {
			b.Fatal(err)
		}
		wait("every path", func() bool { return announced >= injected })
		b.StopTimer()
		mu.Lock()
		transfer = lastAt.Sub(upAt)
		flow = lastAt.Sub(firstAt)
		total := time.Since(start)
		b.Logf("iteration %d: session up %v after AddNeighbor, first path %v after session up",
			i, upAt.Sub(start).Round(time.Millisecond), firstAt.Sub(upAt).Round(time.Millisecond))
		mu.Unlock()
		pk := ms.end()
		held := heapAfterGC()
		if pk > base {
			peak = pk - base
		}
		if held > base {
			perRoute = (held - base) / uint64(injected)
		}
		st := s.Stats()
		b.Logf("iteration %d: first to last path %v: %.0f paths/s while paths flow", i, flow.Round(time.Millisecond), float64(announced)/flow.Seconds())
		b.Logf("iteration %d: %d paths in %v from session up to last path (%v from AddNeighbor), %.0f paths/s; "+
			"%d marked table; heap: +%d MB peak, +%d MB held, %d B/path held (GoBGP adj-RIB-in + speaker state); VmHWM %s; dropped %d",
			i, announced, transfer.Round(time.Millisecond), total.Round(time.Millisecond), float64(announced)/transfer.Seconds(),
			table, peak>>20, (held-base)>>20, perRoute, vmHWM(), st.Dropped)
		if announced != injected || table != injected || st.Dropped != 0 {
			b.Errorf("announced %d (table %d), want %d; dropped %d", announced, table, injected, st.Dropped)
		}
		for _, u := range sample {
			path := strings.TrimPrefix(u.Attrs.Path.String(), strconv.Itoa(gobgpdASN)+" ")
			if ref.paths[u.Prefix][path] == 0 {
				bad++
				if bad < 5 {
					b.Errorf("path %q of %s not in the RIB", path, u.Prefix)
				}
			}
		}
		b.Logf("sampled %d announcements: %d paths not found in the RIB", len(sample), bad)
		if err := s.RemoveNeighbor(context.Background(), peerAddr); err != nil {
			b.Fatal(err)
		}
		wait("every withdrawal", func() bool { return withdrawn >= injected })
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(injected)/transfer.Seconds(), "paths/s")
	b.ReportMetric(float64(injected)/flow.Seconds(), "flowpaths/s")
	b.ReportMetric(float64(perRoute), "B/path")
	b.ReportMetric(float64(peak>>20), "peakMB")
	ccancel()
	<-done
}

// BenchmarkOnPath measures the speaker's own work per path, without GoBGP
// or sockets: decoding a watcher path (attributes shared with the previous
// path when equal, as in one UPDATE), the per-peer route set, and the
// queue. Sub-benchmarks: every path with new attributes, and 8 prefixes
// per attribute set. It also reports the per-peer state held per route.
func BenchmarkOnPath(b *testing.B) {
	const n = 1 << 16
	for _, perUpdate := range []int{1, 8} {
		b.Run(fmt.Sprintf("prefixes-per-update=%d", perUpdate), func(b *testing.B) {
			paths := make([]*api.Path, n)
			for i := range paths {
				u := i / perUpdate
				pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 0}), 24)
				paths[i] = benchPath(b, pfx, []uint32{65002, uint32(3356 + u%50), uint32(64496 + u%1000)}, []uint32{65002<<16 | uint32(u%7), 3356<<16 | 2})
			}
			peerAddr := netip.MustParseAddr("192.0.2.1")
			for _, p := range paths {
				p.NeighborIp = peerAddr.String()
			}
			s := &Speaker{
				cfg:   Config{Name: DefaultName, QuietPeriod: time.Second, MaxTableTransfer: time.Hour}.withDefaults(),
				q:     newQueue(n),
				peers: map[netip.Addr]*peer{peerAddr: {cfg: Neighbor{Addr: peerAddr, ASN: 65002}, asn: 65002, state: stateEstablished, routes: make(routeSet)}},
			}
			s.log = s.cfg.Logger
			s.dec = decoder{interner: s.cfg.Interner}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				s.onPath(paths[i%n])
				if i%n == n-1 {
					for s.q.len() > 0 {
						s.q.next(ctx)
					}
				}
			}
			if st := s.Stats(); st.Skipped != 0 || st.Dropped != 0 {
				b.Fatalf("stats %+v", st)
			}
		})
	}
	b.Run("route-set-bytes", func(b *testing.B) {
		const routes = 1 << 20
		for b.Loop() {
			before := heapAfterGC()
			rs := make(routeSet)
			for i := 0; i < routes; i++ {
				rs[keyOf(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 0}), 24), 0)] = struct{}{}
			}
			after := heapAfterGC()
			b.ReportMetric(float64(after-before)/routes, "B/route")
			runtime.KeepAlive(rs)
		}
	})
}

func benchPath(b *testing.B, pfx netip.Prefix, asns, comms []uint32) *api.Path {
	attrs := []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP),
		bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, asns)}),
		bgp.NewPathAttributeNextHop("192.0.2.1"),
		bgp.NewPathAttributeMultiExitDisc(10),
		bgp.NewPathAttributeCommunities(comms),
	}
	ap, err := apiutil.NewPath(bgp.NewIPAddrPrefix(uint8(pfx.Bits()), pfx.Addr().String()), false, attrs, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return ap
}
