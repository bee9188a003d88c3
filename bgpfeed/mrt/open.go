package mrt

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Compression is the container format of an input file.
type Compression int

// Compressions detected from magic bytes.
const (
	Plain Compression = iota
	Gzip
	Bzip2
)

func (c Compression) String() string {
	return [...]string{"plain", "gzip", "bzip2"}[c]
}

// Sniff detects the compression of a stream from its first bytes (not from
// the file name).
func Sniff(head []byte) Compression {
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return Gzip
	case len(head) >= 3 && bytes.Equal(head[:3], []byte("BZh")):
		return Bzip2
	}
	return Plain
}

// Decompress wraps r in the decompressor its magic bytes call for.
func Decompress(r io.Reader) (io.Reader, Compression, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, Plain, err
	}
	switch c := Sniff(head); c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, err
		}
		return zr, c, nil
	case Bzip2:
		return bzip2.NewReader(br), c, nil
	default:
		return br, c, nil
	}
}

// OpenFile opens the file at path for reading its decompressed bytes
// (Decompress). An error opening it is os.Open's; a compressed stream
// that does not start right is reported with the path.
func OpenFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, _, err := Decompress(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return decompressed{zr, f}, nil
}

type decompressed struct {
	io.Reader
	f *os.File
}

func (d decompressed) Close() error { return d.f.Close() }

// skipExt are file name endings a directory walk passes over: documentation
// and data that sit beside archives.
var skipExt = []string{".md", ".rst", ".txt", ".json", ".jsonl", ".csv", ".html", ".sha256", ".md5"}

// Expand turns files, directories (walked recursively, hidden entries and
// documentation files skipped) and glob patterns into a sorted, de-duplicated
// list of files. It fails when an argument names nothing.
func Expand(args []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		matches := []string{a}
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("mrt: bad pattern %q: %w", a, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("mrt: %q matches no file: %w", a, ErrNoInput)
			}
			matches = m
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, fmt.Errorf("mrt: %w", err)
			}
			if !st.IsDir() {
				add(m)
				continue
			}
			var files []string
			err = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				name := d.Name()
				if p != m && strings.HasPrefix(name, ".") {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if !d.Type().IsRegular() {
					return nil
				}
				lower := strings.ToLower(name)
				for _, e := range skipExt {
					if strings.HasSuffix(lower, e) {
						return nil
					}
				}
				files = append(files, p)
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("mrt: walk %s: %w", m, err)
			}
			sort.Strings(files)
			for _, f := range files {
				add(f)
			}
		}
	}
	if len(out) == 0 {
		return nil, ErrNoInput
	}
	return out, nil
}
