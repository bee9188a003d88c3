// Package atomicfile writes files whole or not at all: to a temporary
// file in the same directory, renamed over the target once written, so
// that a reader never sees half of one (and a file another process has
// mapped is replaced, never rewritten in place).
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// Write writes the file at path with write, through a buffer. With sync,
// the data is flushed to the disk before the rename (snapshots that must
// survive a crash); caches that can be rebuilt skip it. On an error the
// temporary file is removed and the target left as it was.
func Write(path string, sync bool, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a failure; a no-op after the rename
	bw := bufio.NewWriterSize(tmp, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && sync {
		err = tmp.Sync()
	}
	if err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
