package asrel

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/mrt"
)

// risUpdates is the RIS update file score is benchmarked on (README,
// Performance), or, without ../shared/data, a small one of testdata.
func risUpdates(b *testing.B) string {
	for _, f := range []string{"../../../shared/data/mrt/jwbensley-dnas/rrc01.updates.20241001.0055.gz", "../../testdata/mrt/updates.20100722.2015.gz"} {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	b.Skip("no RIS update file: neither ../shared/data nor testdata/mrt")
	return ""
}

// BenchmarkInferRIS: the relationship inference over the distinct paths
// of a RIS update file, as score runs it between its two passes.
func BenchmarkInferRIS(b *testing.B) {
	file := risUpdates(b)
	r, err := mrt.Open([]string{file}, mrt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	seen := map[*bgpfeed.Path]bool{}
	var paths [][]uint32
	for {
		u, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if p := u.Attrs; u.Kind == bgpfeed.KindAnnounce && p != nil && p.Path != nil && !seen[p.Path] {
			seen[p.Path] = true
			paths = append(paths, p.Path.ASNs(nil))
		}
	}
	b.Logf("%s: %d distinct paths", file, len(paths))
	b.ReportAllocs()
	for b.Loop() {
		Infer(seq(paths...), InferConfig{})
	}
}
