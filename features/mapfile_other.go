//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package features

import "os"

// mapFile reads the file at path (no mapping on this system).
func mapFile(path string) ([]byte, func([]byte), error) {
	b, err := os.ReadFile(path)
	return b, nil, err
}
