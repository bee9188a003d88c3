package speaker

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/packet/mrt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/internal/fulltable"
)

// The full-table scale measurement (opt-in, heavy).
//
//	BGPSENTRY_SCALE=1 go test -run TestFullTableScale -v -timeout 60m ./bgpfeed/speaker/
//
// Environment:
//
//	BGPSENTRY_SCALE=1                 run it (otherwise it skips)
//	BGPSENTRY_SCALE_PREFIXES=N        use N prefixes (evenly spread, both families) instead of all
//	BGPSENTRY_SCALE_HEAPPROFILE=FILE  write the heap profile with the tables held (go tool pprof -top FILE)
//	BGPSENTRY_SHARED_DATA=DIR         the shared data directory (default ../shared/data)
const (
	scaleTarget      = 4 << 30 // bytes: 100 full-table peers of 1M prefixes
	scaleTargetPeers = 100
	scaleTargetPfx   = 1_000_000
)

// scalePeer is one gobgpd router of the scale test and the vantage point
// whose table it sends.
type scalePeer struct {
	addr    netip.Addr
	port    int    // gobgpd's BGP port
	asn     uint32 // gobgpd's own AS, first in every path it sends
	vantage fulltable.Peer
	file    string
	g       *gobgpd
	paths   [2]int // IPv4, IPv6 paths gobgpd holds after the injection
}

func (p *scalePeer) total() int { return p.paths[0] + p.paths[1] }

// TestFullTableScale measures the speaker with full tables from real
// routers: three gobgpd daemons each get a synthetic full table (the real
// prefixes and origins of the 2026-07-30 RouteViews prefix-to-origin
// tables, 1.1M IPv4 + 259k IPv6, with made-up realistic AS paths, see
// bgpfeed/internal/fulltable) with `gobgp mrt inject global`, then peer with the
// speaker, which takes all three tables at once. A consumer counts what
// Next returns and checks a sample of paths. Reported: the time from the
// first session up until every route of every peer came out of Next; the
// heap (in use after GC and peak) and the resident set (VmHWM); bytes per
// route held; the speaker's own per-peer route sets measured alone; the
// heap split between GoBGP (adj-RIB-in) and bgpsentry by allocation site;
// and the extrapolation to 100 full-table peers of 1M prefixes, against
// the 4 GiB target.
func TestFullTableScale(t *testing.T) {
	if os.Getenv("BGPSENTRY_SCALE") != "1" {
		t.Skip("heavy (3 gobgpd daemons × ~1.37M routes: minutes and several GB of RAM): set BGPSENTRY_SCALE=1 to run it")
	}
	needTool(t, "gobgpd", "gobgpd")
	needTool(t, "gobgp", "gobgpd")
	data := sharedData(t)
	v4 := filepath.Join(data, "baseline", "asinfo", "ipasn_20260730.dat.gz")
	v6 := filepath.Join(data, "baseline", "asinfo", "ipasn6_20260730.dat.gz")
	if _, err := os.Stat(v4); err != nil {
		t.Fatalf("the full table is built from %s (set BGPSENTRY_SHARED_DATA): %v", v4, err)
	}
	t0 := time.Now()
	entries, err := fulltable.Load(v4, v6)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(os.Getenv("BGPSENTRY_SCALE_PREFIXES")); n > 0 && n < len(entries) {
		step := float64(len(entries)) / float64(n)
		sub := make([]fulltable.Entry, 0, n)
		for i := 0; i < n; i++ {
			sub = append(sub, entries[int(float64(i)*step)])
		}
		entries = sub
		t.Logf("BGPSENTRY_SCALE_PREFIXES: %d prefixes only", n)
	}
	origin := func(p netip.Prefix) (uint32, bool) {
		i, ok := slices.BinarySearchFunc(entries, p, func(e fulltable.Entry, p netip.Prefix) int {
			if c := e.Prefix.Addr().Compare(p.Addr()); c != 0 {
				return c
			}
			return cmp.Compare(e.Prefix.Bits(), p.Bits())
		})
		if !ok {
			return 0, false
		}
		return entries[i].Origin, true
	}

	// Three vantage points (real ASes of RouteViews peers) behind three
	// gobgpd routers on their own loopback addresses.
	dir := t.TempDir()
	peers := []*scalePeer{
		{addr: netip.MustParseAddr("127.0.0.31"), asn: 65031, vantage: fulltable.Peer{ASN: 6939, Addr: netip.MustParseAddr("192.0.2.31"), NextHop6: netip.MustParseAddr("2001:db8::31")}},
		{addr: netip.MustParseAddr("127.0.0.32"), asn: 65032, vantage: fulltable.Peer{ASN: 3257, Addr: netip.MustParseAddr("192.0.2.32"), NextHop6: netip.MustParseAddr("2001:db8::32")}},
		{addr: netip.MustParseAddr("127.0.0.33"), asn: 65033, vantage: fulltable.Peer{ASN: 20912, Addr: netip.MustParseAddr("192.0.2.33"), NextHop6: netip.MustParseAddr("2001:db8::33")}},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(peers))
	for i, p := range peers {
		p.file = filepath.Join(dir, fmt.Sprintf("table-%d.mrt", p.vantage.ASN))
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(p.file)
			if err != nil {
				errs[i] = err
				return
			}
			st, err := fulltable.Write(f, entries, fulltable.Options{Seed: 1, Peers: []fulltable.Peer{p.vantage}})
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			errs[i] = err
			t.Logf("table of AS%d: %d IPv4 + %d IPv6 prefixes, %d distinct paths, mean path length %.2f, %.1f%% prepended, %d MB",
				p.vantage.ASN, st.IPv4, st.IPv6, st.Paths, st.MeanPathLen(), 100*float64(st.Prepended)/float64(st.Entries), st.Bytes>>20)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("tables written in %v", time.Since(t0).Round(time.Millisecond))

	s := startSpeaker(t, Config{QueueSize: 1 << 20})
	// The routers wait; the speaker connects to all three at once.
	for _, p := range peers {
		p.port = freePort(t, p.addr.String())
		p.g = startGobgpd(t, gobgpdConf{ASN: p.asn, SpeakerASN: s.cfg.ASN, RouterID: p.addr.String(),
			Local: p.addr.String(), Port: p.port, Speaker: s.Addr().Addr().String(), Passive: true})
	}

	// Load the tables into the routers, all three at once. Not with
	// `gobgp mrt inject global`: Debian's gobgp CLI (3.10) cannot read
	// RIB_IPV6_UNICAST records (it reads an AFI/SAFI they do not have;
	// GoBGP issue #2655, fixed in 3.17), and it exits without closing its
	// stream, so gobgpd misses the last batches. injectMRT does what it
	// does, over gobgpd's gRPC API, and waits for gobgpd's answer.
	t1 := time.Now()
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			errs[i] = injectMRT(ctx, fmt.Sprintf("127.0.0.1:%d", p.g.API), p.file)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("tables injected into the three gobgpd in %v", time.Since(t1).Round(time.Millisecond))
	want := 0
	for _, p := range peers {
		for i, fam := range []string{"ipv4", "ipv6"} {
			last, stable := -1, time.Now()
			eventually(t, 10*time.Minute, "gobgpd's path count to settle", func() error {
				m := ribSummary.FindStringSubmatch(p.g.do(t, "global rib summary -a "+fam))
				if m == nil {
					return errNotYet
				}
				n, _ := strconv.Atoi(m[1])
				if n != last {
					last, stable = n, time.Now()
					return errNotYet
				}
				if n < len(entries) && time.Since(stable) < 3*time.Second {
					return errNotYet
				}
				p.paths[i] = n
				return nil
			})
		}
		t.Logf("gobgpd %s (AS%d, table of AS%d) holds %d IPv4 + %d IPv6 paths (%d prefixes written)", p.addr, p.asn, p.vantage.ASN, p.paths[0], p.paths[1], len(entries))
		if p.total() != len(entries) {
			t.Fatalf("gobgpd %s holds %d paths of %d injected", p.addr, p.total(), len(entries))
		}
		want += p.total()
	}
	t.Logf("injection done after %v: %d paths in the three routers", time.Since(t1).Round(time.Millisecond), want)

	// The consumer: counts per peer, the time of each peer's session up and
	// last route, and a check of every 101st path against the table.
	type peerCount struct {
		announced, withdrawn, table int
		up, last                    time.Time
	}
	var (
		mu      sync.Mutex
		counts  = map[netip.Addr]*peerCount{}
		checked int
		bad     []string
		other   int
	)
	for _, p := range peers {
		counts[p.addr] = &peerCount{}
	}
	asnOf := map[netip.Addr]*scalePeer{}
	for _, p := range peers {
		asnOf[p.addr] = p
	}
	cctx, ccancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf []uint32
		for n := 0; ; n++ {
			u, err := s.Next(cctx)
			if err != nil {
				return
			}
			now := time.Now()
			mu.Lock()
			c := counts[u.PeerAddr]
			if c == nil {
				other++
				mu.Unlock()
				continue
			}
			switch u.Kind {
			case bgpfeed.KindAnnounce:
				c.announced++
				c.last = now
				if u.Table {
					c.table++
				}
				if n%101 == 0 {
					checked++
					p := asnOf[u.PeerAddr]
					buf = u.Attrs.Path.ASNs(buf[:0])
					o, ok := origin(u.Prefix)
					if !ok || len(buf) < 2 || buf[0] != p.asn || buf[1] != p.vantage.ASN || buf[len(buf)-1] != o {
						bad = append(bad, fmt.Sprintf("%s from %s: path %v, origin AS%d", u.Prefix, u.PeerAddr, buf, o))
					}
				}
			case bgpfeed.KindWithdraw:
				c.withdrawn++
			case bgpfeed.KindState:
				if u.NewState == bgpfeed.StateEstablished {
					c.up = now
				}
			}
			mu.Unlock()
		}
	}()
	defer func() {
		ccancel()
		<-done
	}()

	// Memory before: the speaker, the table entries (for the path check),
	// no routes. The resident peak is reset, so VmHWM is this phase's.
	hwmReset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	base := readMem()
	t.Logf("before the sessions: %s (VmHWM reset: %v)", base, hwmReset)
	sampler := sampleMem()

	start := time.Now()
	for _, p := range peers {
		if err := s.AddNeighbor(context.Background(), Neighbor{Addr: p.addr, ASN: p.asn, Port: uint16(p.port), Description: fmt.Sprintf("gobgpd with the table of AS%d", p.vantage.ASN)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Minute)
	lastLog := time.Now()
	for {
		mu.Lock()
		complete, got := true, 0
		for _, p := range peers {
			c := counts[p.addr]
			got += c.announced
			if c.announced < p.total() {
				complete = false
			}
		}
		mu.Unlock()
		if complete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %d of %d routes after %v; stats %+v", got, want, time.Since(start).Round(time.Second), s.Stats())
		}
		if time.Since(lastLog) > 30*time.Second {
			lastLog = time.Now()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t.Logf("%v: %d of %d routes, heap in use %d MB, queue %d", time.Since(start).Round(time.Second), got, want, ms.HeapInuse>>20, s.Stats().QueueLen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	peakHeap := sampler.end()
	waitEOR := time.Now().Add(time.Minute)
	for _, p := range peers {
		for {
			ps, _ := s.Peer(p.addr)
			if ps.EndOfRIB == IPv4Unicast|IPv6Unicast {
				break
			}
			if time.Now().After(waitEOR) {
				t.Errorf("no End-of-RIB from %s for both families: %+v", p.addr, ps)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Time to the full tables.
	mu.Lock()
	var firstUp, lastUp, lastRoute time.Time
	routes := 0
	for _, p := range peers {
		c := counts[p.addr]
		t.Logf("peer %s: session up %v after AddNeighbor, %d routes (%d marked table, gobgpd holds %d), last route %v after its session up (%.0f routes/s)",
			p.addr, c.up.Sub(start).Round(time.Millisecond), c.announced, c.table, p.total(), c.last.Sub(c.up).Round(time.Millisecond),
			float64(c.announced)/c.last.Sub(c.up).Seconds())
		if firstUp.IsZero() || c.up.Before(firstUp) {
			firstUp = c.up
		}
		if c.up.After(lastUp) {
			lastUp = c.up
		}
		if c.last.After(lastRoute) {
			lastRoute = c.last
		}
		routes += c.announced
		if c.announced != p.total() || c.table != c.announced || c.withdrawn != 0 {
			t.Errorf("peer %s: %d announced (%d table), %d withdrawn; gobgpd holds %d", p.addr, c.announced, c.table, c.withdrawn, p.total())
		}
	}
	full := lastRoute.Sub(firstUp)
	t.Logf("TIME: all %d routes of the 3 peers %v after the first session came up (%v after the last one; %v after AddNeighbor): %.0f routes/s",
		routes, full.Round(time.Millisecond), lastRoute.Sub(lastUp).Round(time.Millisecond), lastRoute.Sub(start).Round(time.Millisecond), float64(routes)/full.Seconds())
	t.Logf("path check: %d sampled paths, %d wrong; %d Updates of unknown peers", checked, len(bad), other)
	for i, b := range bad {
		if i == 5 {
			break
		}
		t.Errorf("bad path: %s", b)
	}
	mu.Unlock()
	if st := s.Stats(); st.Dropped != 0 || st.Skipped != 0 {
		t.Errorf("speaker dropped %d and skipped %d Updates", st.Dropped, st.Skipped)
	}

	// Memory with the tables held.
	held := readMem()
	t.Logf("with the tables: %s; peak heap in use %d MB", held, peakHeap>>20)
	perRoute := float64(held.heapInuse-base.heapInuse) / float64(routes)
	perRoutePeak := float64(peakHeap-base.heapInuse) / float64(routes)
	perRouteRSS := float64(held.hwm-base.rss) / float64(routes)
	t.Logf("PER ROUTE: %.0f B heap in use after GC, %.0f B at the heap peak, %.0f B of resident peak (VmHWM - VmRSS before)", perRoute, perRoutePeak, perRouteRSS)

	// The split, by the innermost GoBGP or bgpsentry frame of each
	// allocation still in use.
	split, top := heapSplit(20)
	t.Logf("HEAP BY OWNER (sampled, in use): GoBGP %d MB, bgpsentry %d MB, other %d MB", split["GoBGP"]>>20, split["bgpsentry"]>>20, split["other"]>>20)
	t.Logf("heap in use by allocating function (top 20):\n%s", top)
	if f := os.Getenv("BGPSENTRY_SCALE_HEAPPROFILE"); f != "" {
		if err := writeHeapProfile(f); err != nil {
			t.Errorf("heap profile: %v", err)
		} else {
			t.Logf("heap profile written to %s (go tool pprof -top -sample_index=inuse_space %s)", f, f)
		}
	}

	// The speaker's own per-peer route sets, measured alone: copies of
	// the sets it holds now.
	s.mu.Lock()
	var src []routeSet
	for _, p := range s.peers {
		src = append(src, p.routes)
	}
	s.mu.Unlock()
	before := heapAfterGC()
	copies := make([]routeSet, len(src))
	keys := 0
	for i, rs := range src {
		copies[i] = make(routeSet)
		for k := range rs {
			copies[i][k] = struct{}{}
		}
		keys += len(rs)
	}
	setBytes := heapAfterGC() - before
	runtime.KeepAlive(copies)
	copies = nil
	t.Logf("speaker route sets alone: %d routes, %d MB, %.1f B/route; interned AS paths: %d", keys, setBytes>>20, float64(setBytes)/float64(keys), s.cfg.Interner.Len())

	// Extrapolation: per-route cost × 100 peers × 1M prefixes, plus the
	// fixed cost measured before the sessions.
	target := float64(scaleTargetPeers * scaleTargetPfx)
	est := float64(base.heapInuse) + perRoute*target
	estPeak := float64(base.heapInuse) + perRoutePeak*target
	estRSS := float64(base.rss) + perRouteRSS*target
	verdict := "MET"
	if est > scaleTarget {
		verdict = fmt.Sprintf("MISSED by %.1f× (%.1f GiB over); it needs ≤ %.0f B/route", est/scaleTarget, (est-scaleTarget)/(1<<30), (scaleTarget-float64(base.heapInuse))/target)
	}
	t.Logf("EXTRAPOLATION to %d peers × %d prefixes (%.0fM routes): heap in use %.1f GiB, heap peak %.1f GiB, resident peak %.1f GiB; speaker route sets alone %.1f GiB; target 4 GiB: %s",
		scaleTargetPeers, scaleTargetPfx, target/1e6, est/(1<<30), estPeak/(1<<30), estRSS/(1<<30), float64(setBytes)/float64(keys)*target/(1<<30), verdict)
}

// memState is the process's memory at one moment, after a GC.
type memState struct {
	heapInuse, heapAlloc, sys uint64
	rss, hwm                  uint64 // bytes, from /proc/self/status
}

func (m memState) String() string {
	return fmt.Sprintf("heap in use %d MB (allocated %d MB), Go runtime Sys %d MB, VmRSS %d MB, VmHWM %d MB",
		m.heapInuse>>20, m.heapAlloc>>20, m.sys>>20, m.rss>>20, m.hwm>>20)
}

func readMem() memState {
	var m memState
	m.heapInuse = heapAfterGC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heapAlloc, m.sys = ms.HeapAlloc, ms.Sys
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb << 10
		case "VmHWM:":
			m.hwm = kb << 10
		}
	}
	return m
}

// heapSplit sums the sampled in-use heap by owner, the innermost frame of
// the allocating stack that is GoBGP's or bgpsentry's, and lists the top
// allocating functions (innermost frame outside the runtime).
func heapSplit(n int) (map[string]uint64, string) {
	runtime.GC()
	var recs []runtime.MemProfileRecord
	for {
		k, ok := runtime.MemProfile(recs, false)
		if ok {
			recs = recs[:k]
			break
		}
		recs = make([]runtime.MemProfileRecord, k+64)
	}
	rate := float64(runtime.MemProfileRate)
	owner := map[string]uint64{}
	byFunc := map[string]uint64{}
	for _, r := range recs {
		objs, bytes := r.InUseObjects(), r.InUseBytes()
		if objs <= 0 || bytes <= 0 {
			continue
		}
		// Unsample as pprof does: each sampled object stands for
		// 1/(1-exp(-size/rate)) objects of its size.
		avg := float64(bytes) / float64(objs)
		est := uint64(float64(bytes) / (1 - math.Exp(-avg/rate)))
		who, fn := "other", ""
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			name := f.Function
			if fn == "" && name != "" && !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "internal/") {
				fn = name
			}
			if strings.HasPrefix(name, "github.com/osrg/gobgp/") {
				who = "GoBGP"
				break
			}
			if strings.HasPrefix(name, "github.com/bgpsentry/bgpsentry/") {
				who = "bgpsentry"
				break
			}
			if !more {
				break
			}
		}
		owner[who] += est
		byFunc[fn] += est
	}
	type kv struct {
		k string
		v uint64
	}
	var fs []kv
	for k, v := range byFunc {
		fs = append(fs, kv{k, v})
	}
	slices.SortFunc(fs, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
	var b strings.Builder
	for i, f := range fs {
		if i == n {
			break
		}
		fmt.Fprintf(&b, "  %7d MB  %s\n", f.v>>20, f.k)
	}
	return owner, b.String()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// injectMRT adds every RIB entry of a TABLE_DUMP_V2 file to the global RIB
// of the gobgpd whose API listens on apiAddr, as `gobgp mrt inject global`
// does (each path keeps the peer of its entry as its source), in batches
// of 1000 prefixes on one AddPathStream, and returns once gobgpd has
// acknowledged the whole stream.
func injectMRT(ctx context.Context, apiAddr, file string) error {
	conn, err := grpc.NewClient(apiAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	defer conn.Close()
	stream, err := api.NewGobgpApiClient(conn).AddPathStream(ctx)
	if err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var peers []*mrt.Peer
	var batch []*api.Path
	prefixes := 0
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: batch})
		batch, prefixes = nil, 0
		return err
	}
	hdr := make([]byte, mrt.MRT_COMMON_HEADER_LEN)
	for {
		if _, err := io.ReadFull(r, hdr); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("inject: %s: %w", file, err)
		}
		h := &mrt.MRTHeader{}
		if err := h.DecodeFromBytes(hdr); err != nil {
			return fmt.Errorf("inject: %s: %w", file, err)
		}
		body := make([]byte, h.Len)
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("inject: %s: %w", file, err)
		}
		msg, err := mrt.ParseMRTBody(h, body)
		if err != nil {
			return fmt.Errorf("inject: %s: %w", file, err)
		}
		switch b := msg.Body.(type) {
		case *mrt.PeerIndexTable:
			peers = b.Peers
		case *mrt.Rib:
			for _, e := range b.Entries {
				if int(e.PeerIndex) >= len(peers) {
					return fmt.Errorf("inject: %s: peer index %d of %d peers", file, e.PeerIndex, len(peers))
				}
				attrs := e.PathAttributes
				if b.Prefix.AFI() != bgp.AFI_IP {
					// The RIB entry's MP_REACH_NLRI holds the next hop only.
					attrs = make([]bgp.PathAttributeInterface, 0, len(e.PathAttributes))
					for _, a := range e.PathAttributes {
						if mp, ok := a.(*bgp.PathAttributeMpReachNLRI); ok {
							a = bgp.NewPathAttributeMpReachNLRI(mp.Nexthop.String(), []bgp.AddrPrefixInterface{b.Prefix})
						}
						attrs = append(attrs, a)
					}
				}
				p, err := apiutil.NewPath(b.Prefix, false, attrs, time.Unix(int64(e.OriginatedTime), 0))
				if err != nil {
					return fmt.Errorf("inject: %s: %s: %w", file, b.Prefix, err)
				}
				p.SourceAsn = peers[e.PeerIndex].AS
				p.SourceId = peers[e.PeerIndex].BgpId.String()
				batch = append(batch, p)
			}
			if prefixes++; prefixes == 1000 {
				if err := send(); err != nil {
					return fmt.Errorf("inject: send: %w", err)
				}
			}
		}
	}
	if err := send(); err != nil {
		return fmt.Errorf("inject: send: %w", err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	return nil
}
