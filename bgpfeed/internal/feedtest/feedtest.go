// Package feedtest holds what the tests of bgpfeed's readers share:
// writing an input file, plain or gzip, and reading a source to its end.
package feedtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"testing"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// WriteFile writes data to path, gzip-compressed if gz.
func WriteFile(t testing.TB, path string, data []byte, gz bool) {
	t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadAll reads src to its end; an error other than io.EOF fails the
// test, and so does a source still not at its end after 30 s.
func ReadAll(t testing.TB, src bgpfeed.Source) []bgpfeed.Update {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	us, err := bgpfeed.ReadAll(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	return us
}
