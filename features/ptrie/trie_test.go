package ptrie

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// build inserts prefixes with their index as value.
func build(t testing.TB, ps ...string) *Trie[int] {
	t.Helper()
	var tr Trie[int]
	for i, s := range ps {
		if err := tr.Insert(pfx(s), i); err != nil {
			t.Fatalf("Insert(%s): %v", s, err)
		}
	}
	return &tr
}

func collect(seq func(func(netip.Prefix, int) bool)) []string {
	var out []string
	for p, v := range seq {
		out = append(out, p.String()+"="+itoa(v))
	}
	return out
}

func itoa(v int) string { return strconv.Itoa(v) }

var fixture = []string{
	"10.0.0.0/8",          // 0
	"10.1.0.0/16",         // 1
	"10.1.2.0/24",         // 2
	"10.128.0.0/9",        // 3
	"192.168.0.0/16",      // 4
	"0.0.0.0/0",           // 5
	"2001:db8::/32",       // 6
	"2001:db8:1::/48",     // 7
	"::/0",                // 8
	"10.1.2.128/25",       // 9
	"2001:db8:8000::/33",  // 10
	"1.1.1.1/32",          // 11
	"::ffff:10.0.0.0/104", // 12: IPv4-mapped is IPv6
}

func TestGet(t *testing.T) {
	tr := build(t, fixture...)
	if got, want := tr.Len(), len(fixture); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	tests := []struct {
		name   string
		prefix string
		want   int
		ok     bool
	}{
		{"root v4", "0.0.0.0/0", 5, true},
		{"root v6", "::/0", 8, true},
		{"stored /8", "10.0.0.0/8", 0, true},
		{"unmasked input is masked", "10.9.9.9/8", 0, true},
		{"stored /25", "10.1.2.128/25", 9, true},
		{"host route", "1.1.1.1/32", 11, true},
		{"glue node is not stored", "10.0.0.0/7", 0, false},
		{"between stored lengths", "10.1.0.0/20", 0, false},
		{"sibling of stored", "10.1.2.0/25", 0, false},
		{"v6 stored", "2001:db8:1::/48", 7, true},
		{"v6 not stored", "2001:db8:2::/48", 0, false},
		{"mapped v4 is not v4", "::ffff:10.0.0.0/104", 12, true},
		{"v4 is not mapped", "10.0.0.0/8", 0, true},
		{"longer than any", "10.1.2.129/32", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tr.Get(pfx(tc.prefix))
			if ok != tc.ok || got != tc.want {
				t.Errorf("Get(%s) = %d, %v; want %d, %v", tc.prefix, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCoveringAndLongest(t *testing.T) {
	tr := build(t, fixture...)
	tests := []struct {
		name    string
		prefix  string
		want    []string
		longest string // "" when none
	}{
		{"deep v4", "10.1.2.200/32",
			[]string{"0.0.0.0/0=5", "10.0.0.0/8=0", "10.1.0.0/16=1", "10.1.2.0/24=2", "10.1.2.128/25=9"}, "10.1.2.128/25"},
		{"exact included", "10.1.2.0/24",
			[]string{"0.0.0.0/0=5", "10.0.0.0/8=0", "10.1.0.0/16=1", "10.1.2.0/24=2"}, "10.1.2.0/24"},
		{"lower half of /24", "10.1.2.0/25",
			[]string{"0.0.0.0/0=5", "10.0.0.0/8=0", "10.1.0.0/16=1", "10.1.2.0/24=2"}, "10.1.2.0/24"},
		{"other branch", "10.200.0.0/16",
			[]string{"0.0.0.0/0=5", "10.0.0.0/8=0", "10.128.0.0/9=3"}, "10.128.0.0/9"},
		{"only default", "8.8.8.0/24", []string{"0.0.0.0/0=5"}, "0.0.0.0/0"},
		{"shorter than stored", "10.0.0.0/7", []string{"0.0.0.0/0=5"}, "0.0.0.0/0"},
		{"v6", "2001:db8:8001::/48",
			[]string{"::/0=8", "2001:db8::/32=6", "2001:db8:8000::/33=10"}, "2001:db8:8000::/33"},
		{"mapped stays v6", "::ffff:10.1.2.3/128",
			[]string{"::/0=8", "::ffff:10.0.0.0/104=12"}, "::ffff:10.0.0.0/104"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(tr.Covering(pfx(tc.prefix)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Covering(%s) = %v, want %v", tc.prefix, got, tc.want)
			}
			lp, _, ok := tr.LongestMatch(pfx(tc.prefix))
			if tc.longest == "" {
				if ok {
					t.Errorf("LongestMatch(%s) = %v, want none", tc.prefix, lp)
				}
			} else if !ok || lp != pfx(tc.longest) {
				t.Errorf("LongestMatch(%s) = %v, %v; want %s", tc.prefix, lp, ok, tc.longest)
			}
		})
	}
	var empty Trie[int]
	if _, _, ok := empty.LongestMatch(pfx("1.0.0.0/8")); ok {
		t.Error("LongestMatch on empty trie found something")
	}
}

func TestCovered(t *testing.T) {
	tr := build(t, fixture...)
	tests := []struct {
		name   string
		prefix string
		want   []string
	}{
		{"/8 subtree in order", "10.0.0.0/8",
			[]string{"10.0.0.0/8=0", "10.1.0.0/16=1", "10.1.2.0/24=2", "10.1.2.128/25=9", "10.128.0.0/9=3"}},
		{"unstored /12 above /16", "10.0.0.0/12",
			[]string{"10.1.0.0/16=1", "10.1.2.0/24=2", "10.1.2.128/25=9"}},
		{"below a glue split", "10.1.2.128/26", nil},
		{"upper half", "10.128.0.0/9", []string{"10.128.0.0/9=3"}},
		{"nothing", "172.16.0.0/12", nil},
		{"v6 /32", "2001:db8::/32",
			[]string{"2001:db8::/32=6", "2001:db8:1::/48=7", "2001:db8:8000::/33=10"}},
		{"v4 whole", "0.0.0.0/1",
			[]string{"1.1.1.1/32=11", "10.0.0.0/8=0", "10.1.0.0/16=1", "10.1.2.0/24=2", "10.1.2.128/25=9", "10.128.0.0/9=3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(tr.Covered(pfx(tc.prefix)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Covered(%s) = %v, want %v", tc.prefix, got, tc.want)
			}
		})
	}
	all := collect(tr.All())
	if len(all) != len(fixture) || !strings.HasPrefix(all[0], "0.0.0.0/0") || !strings.HasPrefix(all[len(all)-1], "2001:db8:8000::/33") {
		t.Errorf("All() = %v", all)
	}
	// Early stop must be honoured.
	n := 0
	for range tr.All() {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("break after 3 saw %d", n)
	}
}

func TestInsertOrderIndependent(t *testing.T) {
	// Every insertion order must give the same content: exercises the
	// "new node above", "glue" and "descend" cases of insert.
	ps := []string{"10.0.0.0/8", "10.0.0.0/16", "10.128.0.0/16", "10.64.0.0/10", "11.0.0.0/8", "10.0.0.0/7"}
	want := []string{"10.0.0.0/7", "10.0.0.0/8", "10.0.0.0/16", "10.64.0.0/10", "10.128.0.0/16", "11.0.0.0/8"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		perm := slices.Clone(ps)
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		tr := build(t, perm...)
		var got []string
		for p := range tr.All() {
			got = append(got, p.String())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("order %d %v: All = %v, want %v", i, perm, got, want)
		}
	}
}

func TestUpdateDelete(t *testing.T) {
	var tr Trie[[]uint32]
	p := pfx("192.0.2.0/24")
	for _, origin := range []uint32{64496, 64497, 64496} {
		if err := tr.Update(p, func(old []uint32, found bool) []uint32 {
			if found != (len(old) > 0) {
				t.Errorf("found = %v with old %v", found, old)
			}
			return append(old, origin)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := tr.Get(p); !slices.Equal(got, []uint32{64496, 64497, 64496}) {
		t.Errorf("history = %v", got)
	}
	if !tr.Delete(p) || tr.Delete(p) {
		t.Error("Delete should succeed once")
	}
	if _, ok := tr.Get(p); ok || tr.Len() != 0 {
		t.Errorf("after delete: ok=%v len=%d", ok, tr.Len())
	}
	if tr.Delete(pfx("198.51.100.0/24")) {
		t.Error("Delete of absent prefix reported true")
	}
	// The freed slot is reused.
	_ = tr.Insert(pfx("198.51.100.0/24"), []uint32{1})
	if st := tr.Stats(); len(tr.vals) != 1 || st.Prefixes != 1 {
		t.Errorf("slot not reused: vals=%d stats=%+v", len(tr.vals), st)
	}
	if covered := collect2(tr.Covering(pfx("192.0.2.1/32"))); len(covered) != 0 {
		t.Errorf("deleted prefix still covering: %v", covered)
	}
}

func collect2[V any](seq func(func(netip.Prefix, V) bool)) []netip.Prefix {
	var out []netip.Prefix
	for p := range seq {
		out = append(out, p)
	}
	return out
}

func TestInvalidPrefix(t *testing.T) {
	var tr Trie[int]
	if err := tr.Insert(netip.Prefix{}, 1); !errors.Is(err, ErrInvalidPrefix) {
		t.Errorf("Insert(zero) err = %v", err)
	}
	if err := tr.Update(netip.Prefix{}, func(int, bool) int { return 1 }); !errors.Is(err, ErrInvalidPrefix) {
		t.Errorf("Update(zero) err = %v", err)
	}
	if _, ok := tr.Get(netip.Prefix{}); ok {
		t.Error("Get(zero) found")
	}
	if tr.Len() != 0 {
		t.Error("invalid prefix was stored")
	}
}

// model is the obviously correct reference: a map and linear scans.
type model map[netip.Prefix]int

func (m model) covering(p netip.Prefix) []string {
	var ps []netip.Prefix
	for q := range m {
		if q.Addr().Is4() == p.Addr().Is4() && q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			ps = append(ps, q)
		}
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
	out := make([]string, 0, len(ps))
	for _, q := range ps {
		out = append(out, q.String()+"="+itoa(m[q]))
	}
	return out
}

func (m model) covered(p netip.Prefix) []string {
	var ps []netip.Prefix
	for q := range m {
		if q.Addr().Is4() == p.Addr().Is4() && q.Bits() >= p.Bits() && p.Contains(q.Addr()) {
			ps = append(ps, q)
		}
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	out := make([]string, 0, len(ps))
	for _, q := range ps {
		out = append(out, q.String()+"="+itoa(m[q]))
	}
	return out
}

// randPrefix draws prefixes from a small address space so that they
// overlap a lot.
func randPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(2) == 0 {
		a := [4]byte{10, byte(r.IntN(4)), byte(r.IntN(4) * 64), byte(r.IntN(256))}
		return netip.PrefixFrom(netip.AddrFrom4(a), r.IntN(33)).Masked()
	}
	var a [16]byte
	a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
	a[4] = byte(r.IntN(4))
	a[15] = byte(r.IntN(256))
	bits := []int{0, 16, 32, 33, 34, 40, 48, 64, 127, 128}[r.IntN(10)]
	return netip.PrefixFrom(netip.AddrFrom16(a), bits).Masked()
}

func checkAgainstModel(t *testing.T, tr *Trie[int], m model, probes []netip.Prefix) {
	t.Helper()
	if tr.Len() != len(m) {
		t.Fatalf("Len = %d, model %d", tr.Len(), len(m))
	}
	for _, p := range probes {
		v, ok := tr.Get(p)
		mv, mok := m[p]
		if ok != mok || v != mv {
			t.Fatalf("Get(%v) = %d,%v; model %d,%v", p, v, ok, mv, mok)
		}
		if got, want := collect(tr.Covering(p)), m.covering(p); !slices.Equal(got, want) {
			t.Fatalf("Covering(%v) = %v; model %v", p, got, want)
		}
		if got, want := collect(tr.Covered(p)), m.covered(p); !slices.Equal(got, want) {
			t.Fatalf("Covered(%v) = %v; model %v", p, got, want)
		}
		lp, lv, lok := tr.LongestMatch(p)
		cov := m.covering(p)
		if lok != (len(cov) > 0) || (lok && cov[len(cov)-1] != lp.String()+"="+itoa(lv)) {
			t.Fatalf("LongestMatch(%v) = %v=%d,%v; model %v", p, lp, lv, lok, cov)
		}
	}
}

func TestAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	var tr Trie[int]
	m := model{}
	var probes []netip.Prefix
	for i := range 3000 {
		p := randPrefix(r)
		probes = append(probes, p)
		switch r.IntN(5) {
		case 0:
			if tr.Delete(p) != (func() bool { _, ok := m[p]; return ok })() {
				t.Fatalf("Delete(%v) disagrees with model", p)
			}
			delete(m, p)
		default:
			_ = tr.Insert(p, i)
			m[p] = i
		}
	}
	for range 200 {
		probes = append(probes, randPrefix(r))
	}
	checkAgainstModel(t, &tr, m, probes)
}

// TestAgainstModelSorted inserts runs of prefixes in address order, as a
// table loads (the case the insert finger is for), between random
// inserts and deletes, with Entry and Insert.
func TestAgainstModelSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	var tr Trie[int]
	m := model{}
	var probes []netip.Prefix
	for round := range 20 {
		run := make([]netip.Prefix, 200)
		for i := range run {
			run[i] = randPrefix(r)
		}
		slices.SortFunc(run, func(a, b netip.Prefix) int {
			if c := a.Addr().Compare(b.Addr()); c != 0 {
				return c
			}
			return a.Bits() - b.Bits()
		})
		for i, p := range run {
			v := round*1000 + i
			if i%2 == 0 {
				e, found, err := tr.Entry(p)
				if _, ok := m[p]; err != nil || found != ok {
					t.Fatalf("Entry(%v) found %v, %v; model %v", p, found, err, ok)
				}
				*e = v
			} else {
				_ = tr.Insert(p, v)
			}
			m[p] = v
		}
		probes = append(probes, run...)
		for range 50 {
			p := randPrefix(r)
			if r.IntN(3) == 0 {
				tr.Delete(p)
				delete(m, p)
			} else {
				_ = tr.Insert(p, -round)
				m[p] = -round
			}
		}
	}
	for range 200 {
		probes = append(probes, randPrefix(r))
	}
	checkAgainstModel(t, &tr, m, probes)
}

// FuzzTrie interprets the input as a program of inserts and deletes of
// prefixes and checks every answer against the model.
func FuzzTrie(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 0, 8, 0, 10, 1, 0, 0, 16, 1, 10, 0, 0, 0, 8})
	f.Add([]byte{2, 0x20, 0x01, 0x0d, 0xb8, 32, 2, 0x20, 0x01, 0x0d, 0xb8, 48, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, prog []byte) {
		// The model is quadratic; 128 operations find the bugs.
		prog = prog[:min(len(prog), 6*128)]
		var tr Trie[int]
		m := model{}
		var probes []netip.Prefix
		for i := 0; i+6 <= len(prog); i += 6 {
			op, b := prog[i], prog[i+1:i+6]
			var p netip.Prefix
			if op&2 == 0 {
				p = netip.PrefixFrom(netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]}), int(b[4])%33).Masked()
			} else {
				var a [16]byte
				copy(a[:], b[:4])
				a[15] = b[3]
				p = netip.PrefixFrom(netip.AddrFrom16(a), int(b[4])%129).Masked()
			}
			probes = append(probes, p)
			switch {
			case op&1 == 1:
				tr.Delete(p)
				delete(m, p)
			case op&4 == 4:
				v, found, err := tr.Entry(p)
				if _, ok := m[p]; err != nil || found != ok || found && *v != m[p] || !found && *v != 0 {
					t.Fatalf("Entry(%v) = %v,%v,%v; model %v", p, *v, found, err, m[p])
				}
				*v = i
				m[p] = i
			default:
				_ = tr.Insert(p, i)
				m[p] = i
			}
		}
		checkAgainstModel(t, &tr, m, probes)
	})
}

// TestNodeSize pins the node sizes the package documentation promises;
// a field added carelessly costs 1.3M times.
func TestNodeSize(t *testing.T) {
	if s := unsafe.Sizeof(node[k32]{}); s != 20 {
		t.Errorf("IPv4 node is %d bytes, want 20", s)
	}
	if s := unsafe.Sizeof(node[k128]{}); s != 32 {
		t.Errorf("IPv6 node is %d bytes, want 32", s)
	}
}
