package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/features"
)

// TestLoadTablesInOrder: tables parsed at once are learned in the order
// given (a prefix of two tables gets the first one's origin first), lazily
// or not, with their entries counted; a missing or empty table is an
// error in its turn, after the tables before it were learned.
func TestLoadTablesInOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var big []string
	for i := range 20000 { // several batches
		big = append(big, fmt.Sprintf("10.%d.%d.0/24\t%d", i>>8, i&255, 64500+i%7))
	}
	a := write("a.dat", append(big, "192.0.2.0/24\t64496")...)
	b := write("b.dat", "192.0.2.0/24\t64497", "2001:db8::/32\t64498")
	empty := write("empty.dat", "; nothing")
	for _, lazy := range []bool{false, true} {
		st := features.NewState(features.Config{})
		n, err := loadBaselines(context.Background(), st, []string{a, b}, bgpfeed.NewInterner(0), lazy, "", io.Discard, io.Discard)
		if err != nil || n != 20003 {
			t.Fatalf("lazy %v: %d entries, %v", lazy, n, err)
		}
		if got := st.OriginsOf(netip.MustParsePrefix("192.0.2.0/24")); !slices.Equal(got, []uint32{64496, 64497}) {
			t.Fatalf("lazy %v: origins %v", lazy, got)
		}
		if st.Prefixes() != 20002 {
			t.Fatalf("lazy %v: %d prefixes", lazy, st.Prefixes())
		}
		for _, bad := range []string{filepath.Join(dir, "missing.dat"), empty} {
			st := features.NewState(features.Config{})
			n, err := loadBaselines(context.Background(), st, []string{b, bad, a}, bgpfeed.NewInterner(0), lazy, "", io.Discard, io.Discard)
			if err == nil || n != 2 || !strings.Contains(err.Error(), filepath.Base(bad)) {
				t.Fatalf("lazy %v, %s: %d entries, %v", lazy, bad, n, err)
			}
		}
	}
}
