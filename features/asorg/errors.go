package asorg

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed is the sentinel every *ParseError unwraps to.
var ErrMalformed = errors.New("asorg: malformed input")

// ParseError is malformed input at a line of a file.
type ParseError struct {
	File string // the file name, or the name given to Read
	Line int    // 1-based; 0 when unknown
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("asorg: %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("asorg: %s: %v", e.File, e.Err)
}

// Unwrap returns ErrMalformed and the underlying cause.
func (e *ParseError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// decompress returns r's content, decompressed when its magic bytes say
// gzip or bzip2.
func decompress(r io.Reader, name string) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(3)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, &ParseError{File: name, Err: fmt.Errorf("gzip: %w", err)}
		}
		return zr, func() { zr.Close() }, nil
	case bytes.Equal(magic, []byte("BZh")):
		return bzip2.NewReader(br), func() {}, nil
	}
	return br, func() {}, nil
}
