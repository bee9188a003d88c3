package asrel_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bgpsentry/bgpsentry/features/asrel"
)

// BenchmarkInferRIS: the relationship inference over the distinct paths
// of the RIS update file score is benchmarked on (README, Performance),
// as score runs it between its two passes; without ../shared/data, over
// a small one of testdata.
func BenchmarkInferRIS(b *testing.B) {
	file := filepath.Join(dataDir(), "mrt/jwbensley-dnas/rrc01.updates.20241001.0055.gz")
	if _, err := os.Stat(file); err != nil {
		file = "../../testdata/mrt/updates.20100722.2015.gz"
	}
	paths := distinctPaths(b, file)
	b.Logf("%s: %d distinct paths", file, len(paths))
	b.ReportAllocs()
	for b.Loop() {
		asrel.Infer(slices.Values(paths), asrel.InferConfig{})
	}
}
