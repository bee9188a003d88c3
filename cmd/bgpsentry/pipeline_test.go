package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// TestInjectFeaturizeScore is the whole pipeline on a small committed
// scenario: attacks and look-alikes injected into a real RIS background
// (rrc06, 2015-04-01, with the TopoScope links of its ASes), featurized
// with their labels, and scored with the embedded model.
func TestInjectFeaturizeScore(t *testing.T) {
	dir := t.TempDir()
	inj := filepath.Join(dir, "rrc06")
	rel := "../../testdata/scenario/asrel_201806.rrc06-excerpt.txt"
	if code, _, e := runCmd("inject", "--background", rrc06, "--asrel", rel, "--out", inj, "--per-class", "3", "--seed", "7"); code != 0 {
		t.Fatalf("inject: exit %d: %s", code, e)
	}
	labels, err := os.ReadFile(filepath.Join(inj, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	nLabels := strings.Count(string(labels), "\n") - 1
	rows := filepath.Join(dir, "rows.csv")
	code, _, e := runCmd("featurize", "--asrel", rel, "--rpki", filepath.Join(inj, "vrps.json"), "--labels", filepath.Join(inj, "labels.csv"),
		"--warmup", "1m", "--collector", "rrc06", "-o", rows, rrc06, filepath.Join(inj, "injected.mrt"))
	if code != 0 {
		t.Fatalf("featurize: exit %d: %s", code, e)
	}
	if !strings.Contains(e, "matched") {
		t.Fatalf("featurize summary: %s", e)
	}
	f, err := os.Open(rows)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	byLabel := map[string]int{}
	for _, r := range recs[1:] {
		byLabel[r[col["label"]]]++
	}
	for _, l := range []string{"origin_hijack", "subprefix_hijack", "path_hijack", "route_leak", "benign"} {
		if byLabel[l] == 0 {
			t.Errorf("no %s rows (rows by label: %v)", l, byLabel)
		}
	}
	labelled := len(recs) - 1 - byLabel["benign"]
	if labelled <= 0 || labelled > nLabels {
		t.Errorf("%d labelled attack rows for %d label lines", labelled, nLabels)
	}
	// Every labelled announcement is matched: the summary says so.
	if !strings.Contains(e, "labels: "+strconv.Itoa(nLabels)+" in file, "+strconv.Itoa(nLabels)+" matched") {
		t.Errorf("not every label matched: %s", e)
	}
	out := filepath.Join(dir, "events.jsonl")
	code, _, e = runCmd("score", "--asrel", rel, "--rpki", filepath.Join(inj, "vrps.json"), "--warmup", "1m", "--collector", "rrc06",
		"--events", "all", "-o", out, rrc06, filepath.Join(inj, "injected.mrt"))
	if code != 0 {
		t.Fatalf("score: exit %d: %s", code, e)
	}
	evs := readEvents(t, out)
	for _, ev := range evs {
		if ev.Id == "" || ev.Type == pb.AlertType_ALERT_TYPE_UNSPECIFIED || ev.Sequence == 0 {
			t.Errorf("malformed event %v", ev)
		}
	}
	t.Logf("%d labels, rows by label %v, %d alert events", nLabels, byLabel, len(evs))
}
