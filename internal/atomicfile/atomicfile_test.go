package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWrite: the file holds what was written, with sync or without; a
// failing writer leaves the old file and no temporary file behind.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, sync := range []bool{false, true} {
		want := "written " + map[bool]string{false: "unsynced", true: "synced"}[sync]
		if err := Write(path, sync, func(w io.Writer) error { _, err := io.WriteString(w, want); return err }); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Fatalf("sync %v: %q, %v", sync, b, err)
		}
	}
	boom := errors.New("boom")
	err := Write(path, true, func(w io.Writer) error { io.WriteString(w, "half"); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "written synced" {
		t.Fatalf("a failed write changed the file: %q", b)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("files left: %v", es)
	}
	if err := Write(filepath.Join(dir, "no", "such", "dir"), false, func(io.Writer) error { return nil }); err == nil {
		t.Fatal("no error for a missing directory")
	}
}
