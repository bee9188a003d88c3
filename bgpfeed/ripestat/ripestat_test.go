package ripestat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
	"github.com/bgpsentry/bgpsentry/bgpfeed/internal/feedtest"
)

func write(t *testing.T, name, text string, gz bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	feedtest.WriteFile(t, p, []byte(text), gz)
	return p
}

const sample = `{"status": "ok", "data": {"resource": "192.0.2.0/24", "updates": [
 {"seq": 2, "timestamp": "2026-06-16T07:00:05", "type": "W", "attrs": {"source_id": "00-198.51.100.1", "target_prefix": "192.0.2.0/24"}},
 {"seq": 1, "timestamp": "2026-06-16T07:00:01", "type": "A", "attrs": {"source_id": "00-198.51.100.1", "target_prefix": "192.0.2.0/24", "path": [64500, 64501, 64501, [64510, 64511]], "community": ["64500:1", "64500:1:2", "x"]}},
 {"seq": 3, "timestamp": "2026-06-16T07:00:05", "type": "A", "attrs": {"source_id": "21-2001:db8::1", "target_prefix": "2001:db8:1::/48", "path": [64502, 64503]}},
 {"seq": 4, "timestamp": "2026-06-16T07:00:06", "type": "W", "attrs": {"source_id": "21-2001:db8::2", "target_prefix": "2001:db8:1::/48"}},
 {"seq": 5, "timestamp": "2026-06-16T07:00:07", "type": "A", "attrs": {"source_id": "00-198.51.100.1", "target_prefix": "192.0.2.1/24", "path": [64500]}},
 {"seq": 6, "timestamp": "bad", "type": "A", "attrs": {"source_id": "00-198.51.100.1", "target_prefix": "192.0.2.0/24", "path": [64500]}},
 {"seq": 7, "timestamp": "2026-06-16T07:00:08", "type": "A", "attrs": {"source_id": "00-198.51.100.1", "target_prefix": "192.0.2.0/24", "path": []}},
 {"seq": 8, "timestamp": "2026-06-16T07:00:08", "type": "A", "attrs": {"source_id": "00-198.51.100.1", "target_prefix": "192.0.2.0/24", "path": ["AS1"]}},
 {"seq": 9, "timestamp": "2026-06-16T07:00:08", "type": "X", "attrs": {"source_id": "00-198.51.100.1", "target_prefix": "192.0.2.0/24", "path": [1]}},
 {"seq": 10, "timestamp": "2026-06-16T07:00:08", "type": "A", "attrs": {"source_id": "nopeer", "target_prefix": "192.0.2.0/24", "path": [1]}}
]}}`

// TestRead: announcements and withdrawals become Updates in time order
// (seq within a second); the collector from source_id, the peer's AS
// from its announcements (withdrawals too), AS sets and communities kept;
// every malformed entry (host bits, timestamp, empty or non-numeric
// path, type, source_id) skipped and counted; gzip read the same.
func TestRead(t *testing.T) {
	for _, gz := range []bool{false, true} {
		r, err := Open([]string{write(t, "x.json", sample, gz)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		us := feedtest.ReadAll(t, r)
		var got []string
		for _, u := range us {
			s := fmt.Sprintf("%s %s %s %s AS%d %s", u.Time.Format("15:04:05"), u.Source, u.Kind, u.PeerAddr, u.PeerASN, u.Prefix)
			if u.Attrs != nil {
				s += fmt.Sprintf(" [%v] %v", u.Attrs.Path, u.Attrs.Communities)
			}
			got = append(got, s)
		}
		want := []string{
			"07:00:01 rrc00 A 198.51.100.1 AS64500 192.0.2.0/24 [64500 64501 64501 {64510,64511}] [4227072001]",
			"07:00:05 rrc00 W 198.51.100.1 AS64500 192.0.2.0/24",
			"07:00:05 rrc21 A 2001:db8::1 AS64502 2001:db8:1::/48 [64502 64503] []",
			"07:00:06 rrc21 W 2001:db8::2 AS0 2001:db8:1::/48",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("gzip %v: got\n%s\nwant\n%s", gz, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		st := r.Stats()
		if st.Records != 10 || st.Skipped["update"] != 6 || len(st.Samples) != 6 || st.Files != 1 {
			t.Fatalf("stats %+v", st)
		}
		if done, total := r.Progress(); done != 4 || total != 4 {
			t.Errorf("progress %d/%d", done, total)
		}
		for _, want := range []string{"target_prefix \"192.0.2.1/24\"", "timestamp \"bad\"", "without a path", "\"AS1\"", "type \"X\"", "source_id \"nopeer\""} {
			found := false
			for _, s := range st.Samples {
				found = found || strings.Contains(s.Error(), want)
			}
			if !found {
				t.Errorf("no skip sample says %s", want)
			}
		}
	}
}

// TestMerge: several responses come out as one stream in time order, and
// a path both files carry is one interned *Path.
func TestMerge(t *testing.T) {
	a := write(t, "a.json", `{"data": {"updates": [
 {"seq": 1, "timestamp": "2026-06-16T07:00:01", "type": "A", "attrs": {"source_id": "00-192.0.2.1", "target_prefix": "10.0.0.0/8", "path": [1, 2]}},
 {"seq": 3, "timestamp": "2026-06-16T07:00:03", "type": "A", "attrs": {"source_id": "00-192.0.2.1", "target_prefix": "10.0.0.0/8", "path": [1, 3]}}]}}`, false)
	b := write(t, "b.json", `{"data": {"updates": [
 {"seq": 2, "timestamp": "2026-06-16T07:00:02", "type": "A", "attrs": {"source_id": "00-192.0.2.1", "target_prefix": "11.0.0.0/8", "path": [1, 2]}}]}}`, true)
	r, err := Open([]string{a, b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	us := feedtest.ReadAll(t, r)
	if len(us) != 3 || us[0].Prefix.String() != "10.0.0.0/8" || us[1].Prefix.String() != "11.0.0.0/8" || us[2].Attrs.Path.String() != "1 3" {
		t.Fatalf("merged %v", us)
	}
	if us[0].Attrs.Path != us[1].Attrs.Path {
		t.Error("one path of two files is two *Paths")
	}
}

// TestNotAResponse: JSON of another shape, garbage and a missing file are
// errors that say so; Is tells JSON from MRT.
func TestNotAResponse(t *testing.T) {
	for name, text := range map[string]string{
		"other.json":   `{"data": {"prefixes": []}}`,
		"array.json":   `[1, 2]`,
		"garbage.json": `{"data": {"updates": [`,
	} {
		_, err := Open([]string{write(t, name, text, false)}, Options{})
		if err == nil || !strings.Contains(err.Error(), "ripestat") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Open([]string{filepath.Join(t.TempDir(), "none.json")}, Options{}); err == nil {
		t.Error("a missing file opened")
	}
	if ok, err := Is(write(t, "j.json.gz", "  \n"+sample, true)); !ok || err != nil {
		t.Errorf("Is(gzip JSON) = %v, %v", ok, err)
	}
	if ok, err := Is(filepath.Join("..", "..", "testdata", "mrt", "bird_bgp")); ok || err != nil {
		t.Errorf("Is(MRT) = %v, %v", ok, err)
	}
}

// TestTelegram2026: the committed RIPEstat response for Telegram's
// 149.154.160.0/22 on 2026-06-16 (RIS peers): 168 updates, none skipped,
// AS18101's ten announcements of the prefix at 07:18-07:19 UTC.
func TestTelegram2026(t *testing.T) {
	r, err := Open([]string{filepath.Join("..", "..", "testdata", "ripestat", "149.154.160.0_22_full.json")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	us := feedtest.ReadAll(t, r)
	n18101 := 0
	peers := map[string]bool{}
	for _, u := range us {
		peers[u.Source+" "+u.PeerAddr.String()] = true
		if u.Kind == bgpfeed.KindAnnounce && u.OriginASN() == 18101 {
			n18101++
			if h := u.Time.Format("15:04"); h != "07:18" && h != "07:19" {
				t.Errorf("AS18101 at %s", u.Time)
			}
		}
	}
	if len(us) != 168 || r.Stats().Skipped["update"] != 0 || n18101 != 10 || len(peers) < 50 {
		t.Fatalf("%d updates (%d skipped), %d by AS18101, %d peers", len(us), r.Stats().Skipped["update"], n18101, len(peers))
	}
}

// FuzzOpen: any file either fails to open with an error or reads to its
// end, every entry an Update or a counted skip.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"data": {"updates": [{"type": "A", "attrs": {"path": [[1, 2], 3]}}]}}`))
	f.Add([]byte(`{"data": {"updates": null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open([]string{p}, Options{})
		if err != nil {
			return
		}
		us := feedtest.ReadAll(t, r)
		st := r.Stats()
		if int64(len(us))+st.Skipped["update"] != st.Records {
			t.Fatalf("%d updates + %d skipped != %d entries", len(us), st.Skipped["update"], st.Records)
		}
		for _, u := range us {
			if !u.Prefix.IsValid() || (u.Kind == bgpfeed.KindAnnounce) != (u.Attrs != nil) {
				t.Fatalf("bad update %+v", u)
			}
		}
	})
}
