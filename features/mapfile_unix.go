//go:build linux || darwin || freebsd || netbsd || openbsd

package features

import (
	"os"
	"syscall"
)

// mapFile maps the file at path into memory, private and writable (a
// write copies the page: the file never changes), with the function that
// unmaps it; it reads the file instead (no function) where it cannot map
// it. The file must not shrink while mapped: caches are replaced by
// renaming a new file over them, never rewritten in place.
func mapFile(path string) ([]byte, func([]byte), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		b, err := os.ReadFile(path)
		return b, nil, err
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil { // a file system that cannot map it: read it
		b, err := os.ReadFile(path)
		return b, nil, err
	}
	return b, func(b []byte) { syscall.Munmap(b) }, nil
}
