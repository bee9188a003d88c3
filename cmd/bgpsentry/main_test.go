package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

const rrc06 = "../../testdata/mrt/ris.rrc06.updates.1427846400.gz"

func TestDumpStats(t *testing.T) {
	code, out, errOut := runCmd("dump", "--stats", rrc06)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// bgpdump -m: 1,561 lines = 1,435 A + 122 W + 4 STATE, 3 peers.
	for _, want := range []string{"elements         1561", "announcements  1435", "withdrawals    122", "state changes  4", "peers            3", "skipped records  0", "2015-04-01T00:00:04Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestDumpLines(t *testing.T) {
	code, out, _ := runCmd("dump", rrc06)
	if code != 0 {
		t.Fatal("exit", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1561 {
		t.Fatalf("%d lines, want 1561", len(lines))
	}
	if !strings.HasPrefix(lines[0], "BGP4MP|1427846404|") {
		t.Errorf("first line %q", lines[0])
	}
}

func TestHelpAndErrors(t *testing.T) {
	if code, _, e := runCmd("dump", "--help"); code != 0 || !strings.Contains(e, "-stats") || !strings.Contains(e, "bgpdump -m") {
		t.Errorf("dump --help: exit %d, output %q", code, e)
	}
	if code, out, _ := runCmd("--help"); code != 0 || !strings.Contains(out, "dump") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
	if code, _, _ := runCmd("nonsense"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := runCmd("dump"); code != 2 {
		t.Errorf("dump without files: exit %d, want 2", code)
	}
	if code, _, e := runCmd("dump", "--bogus-flag", rrc06); code != 2 || !strings.Contains(e, "bogus-flag") {
		t.Errorf("bad flag: exit %d, %q", code, e)
	}
	if code, _, e := runCmd("dump", "/nonexistent/file.gz"); code != 1 || !strings.Contains(e, "/nonexistent/file.gz") {
		t.Errorf("missing file: exit %d, %q", code, e)
	}
	junk := filepath.Join(t.TempDir(), "junk.gz")
	os.WriteFile(junk, []byte("hello, this is not MRT at all"), 0o644)
	if code, _, e := runCmd("dump", junk); code != 1 || !strings.Contains(e, "not an MRT file") || !strings.Contains(e, junk) {
		t.Errorf("junk file: exit %d, %q", code, e)
	}
}

func TestDumpReportsTruncation(t *testing.T) {
	code, _, e := runCmd("dump", "--stats", "../../testdata/mrt/updates.20100722.2015.truncated-20000B.gz")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(e, "truncated=1") || !strings.Contains(e, "offset 116577") {
		t.Errorf("stderr does not report the truncation with its offset: %q", e)
	}
}
