package rpki

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrMalformed is the sentinel every *ParseError unwraps to.
var ErrMalformed = errors.New("rpki: malformed input")

// ParseError is malformed input at a line of a file.
type ParseError struct {
	File string // the file name, or the name given to a Read function
	Line int    // 1-based; 0 when unknown
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("rpki: %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("rpki: %s: %v", e.File, e.Err)
}

// Unwrap returns ErrMalformed and the underlying cause.
func (e *ParseError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// readAll reads r whole, decompressing gzip or bzip2 input recognised by
// its magic bytes.
func readAll(r io.Reader, name string) ([]byte, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(3)
	var src io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ParseError{File: name, Err: fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		src = zr
	case bytes.Equal(magic, []byte("BZh")):
		src = bzip2.NewReader(br)
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("rpki: read %s: %w", name, err)
	}
	return data, nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("rpki: %w", err)
	}
	defer f.Close()
	return readAll(f, name)
}

// lines turns byte offsets into line numbers; offsets must not decrease
// between calls, which keeps a whole file's worth of lookups linear.
type lines struct {
	data []byte
	off  int
	line int
}

func newLines(data []byte) *lines { return &lines{data: data, line: 1} }

func (l *lines) at(off int64) int {
	o := int(min(max(off, 0), int64(len(l.data))))
	if o < l.off {
		l.off, l.line = 0, 1
	}
	l.line += bytes.Count(l.data[l.off:o], []byte{'\n'})
	l.off = o
	return l.line
}

// jsonErr locates a decoding error: syntax and type errors carry their own
// offset, others are placed at fallback.
func (l *lines) jsonErr(name string, err error, fallback int64) *ParseError {
	off := fallback
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		off = int64(len(l.data))
		err = errors.New("unexpected end of JSON input")
	}
	return &ParseError{File: name, Line: l.at(off), Err: err}
}
