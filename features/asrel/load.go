package asrel

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrMalformed is the sentinel every *ParseError unwraps to.
var ErrMalformed = errors.New("asrel: malformed input")

// ParseError is malformed input at a line of a file.
type ParseError struct {
	File string // the file name, or the name given to Read
	Line int    // 1-based; 0 when unknown
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("asrel: %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("asrel: %s: %v", e.File, e.Err)
}

// Unwrap returns ErrMalformed and the underlying cause.
func (e *ParseError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// Load reads a CAIDA AS-relationship file (serial-1 or serial-2; plain,
// gzip or bzip2).
func Load(name string) (*Graph, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("asrel: %w", err)
	}
	defer f.Close()
	size := 0
	if st, err := f.Stat(); err == nil {
		size = int(st.Size())
	}
	return read(f, name, size)
}

// Read reads a CAIDA AS-relationship file from r; name labels errors.
func Read(r io.Reader, name string) (*Graph, error) { return read(r, name, 0) }

func read(r io.Reader, name string, size int) (*Graph, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	magic, _ := br.Peek(3)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ParseError{File: name, Err: fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		src, size = zr, size*4
	case bytes.Equal(magic, []byte("BZh")):
		src, size = bzip2.NewReader(br), size*5
	}
	// A line of serial-1 is about 14 bytes.
	g := newGraph(size / 14)
	sc := bufio.NewScanner(src)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Bytes()
		if len(s) > 0 && s[len(s)-1] == '\r' {
			s = s[:len(s)-1]
		}
		if len(s) == 0 || s[0] == '#' {
			continue
		}
		a, b, rel, err := parseLine(s)
		if err != nil {
			return nil, &ParseError{File: name, Line: line, Err: err}
		}
		if ok, old := g.set(a, b, rel); !ok {
			if old == rel {
				g.stats.Duplicates++
			} else {
				g.stats.Conflicts++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{File: name, Line: line + 1, Err: err}
	}
	g.finish()
	return g, nil
}

// parseLine parses "a|b|rel" or "a|b|rel|source".
func parseLine(s []byte) (a, b uint32, rel Relation, err error) {
	var f [4][]byte
	n := 0
	for {
		i := bytes.IndexByte(s, '|')
		if n == 3 || i < 0 {
			f[n] = s
			n++
			break
		}
		f[n] = s[:i]
		s = s[i+1:]
		n++
	}
	if n < 3 {
		return 0, 0, 0, fmt.Errorf("%d fields, want a|b|rel or a|b|rel|source", n)
	}
	if n == 4 && bytes.IndexByte(f[3], '|') >= 0 {
		return 0, 0, 0, errors.New("more than 4 fields, want a|b|rel or a|b|rel|source")
	}
	var ok bool
	if a, ok = parseASN(f[0]); !ok {
		return 0, 0, 0, fmt.Errorf("bad AS number %q", f[0])
	}
	if b, ok = parseASN(f[1]); !ok {
		return 0, 0, 0, fmt.Errorf("bad AS number %q", f[1])
	}
	if a == b {
		return 0, 0, 0, fmt.Errorf("link from AS%d to itself", a)
	}
	switch string(f[2]) {
	case "-1":
		rel = Provider
	case "0":
		rel = Peer
	default:
		return 0, 0, 0, fmt.Errorf("relationship %q, want -1 (a is provider of b) or 0 (peers)", f[2])
	}
	return a, b, rel, nil
}

func parseASN(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return uint32(n), n <= 0xffffffff
}
