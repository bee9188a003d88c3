package mrt

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var sinkUpdates int

// benchFile is the RIS rrc01 update file of 2024-10-01 00:55 (185,198
// elements, 158 peers) from ../shared/data, or the bundled ET excerpt.
func benchFile(b *testing.B) string {
	p := filepath.Join("..", "..", "..", "shared", "data", "mrt", "jwbensley-dnas", "rrc01.updates.20241001.0055.gz")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	b.Logf("../shared/data absent: benchmarking the bundled testdata/mrt/updates.et-header.2015.first3000.gz instead")
	return filepath.Join("..", "..", "testdata", "mrt", "updates.et-header.2015.first3000.gz")
}

// BenchmarkDecode measures decompress + frame + decode of a whole real
// update file into Updates, reported as elements/s, per worker count.
func BenchmarkDecode(b *testing.B) {
	file := benchFile(b)
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			b.ReportAllocs()
			var elements int
			for b.Loop() {
				r, err := Open([]string{file}, Options{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					_, err := r.Next(context.Background())
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				r.Close()
				elements = n
				sinkUpdates += n
			}
			b.ReportMetric(float64(elements)*float64(b.N)/b.Elapsed().Seconds(), "elements/s")
		})
	}
}
