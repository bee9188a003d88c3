package lgbm

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestLoadDir(t *testing.T) {
	m, err := LoadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Meta()
	if meta == nil {
		t.Fatal("Meta() = nil after LoadDir")
	}
	if meta.SchemaVersion != 1 || len(meta.ClassNames) != 5 || meta.ClassNames[4] != "route_leak" ||
		!strings.HasPrefix(meta.LightGBMVersion, "4.") || !strings.HasPrefix(meta.DataFingerprint, "sha256:") ||
		meta.Thresholds["route_leak"] != 0.5 || meta.Metrics["valid_multi_logloss"] <= 0 {
		t.Errorf("meta = %+v", meta)
	}
	if !slices.Equal(m.FeatureNames(), meta.FeatureNames) || m.FeatureNames()[29] != "f29" {
		t.Errorf("FeatureNames() = %v", m.FeatureNames())
	}
	if m.File() != filepath.Join(fixtureDir, ModelFile) {
		t.Errorf("File() = %s", m.File())
	}
}

// writeDir writes a model directory with the fixture model.txt and the
// fixture model.json changed by edit.
func writeDir(t *testing.T, edit func(meta map[string]any), text []byte) string {
	t.Helper()
	var meta map[string]any
	if err := json.Unmarshal(readFixture(t, MetaFile), &meta); err != nil {
		t.Fatal(err)
	}
	edit(meta)
	js, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if text == nil {
		text = readFixture(t, ModelFile)
	}
	if err := os.WriteFile(filepath.Join(dir, ModelFile), text, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, MetaFile), js, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadDirRefusesBadMeta(t *testing.T) {
	renamed := func(meta map[string]any) {
		names := meta["feature_names"].([]any)
		names[7] = "as_path_len"
	}
	cases := []struct {
		name string
		edit func(map[string]any)
		text []byte
		msg  string
	}{
		{"no schema_version", func(m map[string]any) { delete(m, "schema_version") }, nil, "schema_version 0, want >= 1"},
		{"no lightgbm_version", func(m map[string]any) { delete(m, "lightgbm_version") }, nil, "no lightgbm_version"},
		{"no data_fingerprint", func(m map[string]any) { m["data_fingerprint"] = "" }, nil, "no data_fingerprint"},
		{"other model", func(m map[string]any) { m["model_sha256"] = strings.Repeat("0", 64) }, nil, "model.json was written for another model"},
		{"feature renamed", func(m map[string]any) { renamed(m); delete(m, "model_sha256") }, nil,
			`feature_names differ from model.txt (model: model.txt, want: model.json): first difference at index 7: model "f07", want "as_path_len"; missing from model: "as_path_len"; extra in model: "f07"`},
		{"too few classes", func(m map[string]any) { m["class_names"] = []string{"benign", "hijack"} }, nil, "2 class_names, the multiclass model has 5 classes"},
		{"repeated class", func(m map[string]any) { m["class_names"] = []string{"a", "b", "c", "d", "a"} }, nil, `class_names: "a" empty or repeated`},
		{"threshold of unknown class", func(m map[string]any) { m["thresholds"] = map[string]float64{"squat": 0.5} }, nil, `thresholds: unknown class "squat"`},
		{"threshold out of range", func(m map[string]any) { m["thresholds"] = map[string]float64{"route_leak": 1.5} }, nil, `thresholds: "route_leak" is 1.5`},
		{"wrong type", func(m map[string]any) { m["schema_version"] = "1" }, nil, "cannot unmarshal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeDir(t, c.edit, c.text)
			_, err := LoadDir(dir)
			if !errors.Is(err, ErrMeta) {
				t.Fatalf("LoadDir: %v, want ErrMeta", err)
			}
			want := "lgbm: load " + filepath.Join(dir, MetaFile) + ": bad model.json: "
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error\n%s\nwant prefix %q and %q", err, want, c.msg)
			}
		})
	}
}

func TestLoadDirMissingFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadDir(dir); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), ModelFile) {
		t.Errorf("LoadDir(empty dir): %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ModelFile), readFixture(t, ModelFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), MetaFile) {
		t.Errorf("LoadDir(no model.json): %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "nope.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile(missing): %v", err)
	}
}

func TestCheckSchema(t *testing.T) {
	m, err := LoadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	names := m.FeatureNames()
	with := func(edit func([]string) []string) []string { return edit(slices.Clone(names)) }
	file := filepath.Join(fixtureDir, MetaFile)
	prefix := "lgbm: check schema " + file + ": feature schema mismatch: "

	if err := m.CheckSchema(names, 1); err != nil {
		t.Fatalf("CheckSchema(own names, 1): %v", err)
	}
	cases := []struct {
		name    string
		want    []string
		version int
		msg     string
	}{
		{"version", names, 2, "schema version 1, want 2"},
		{"renamed", with(func(n []string) []string { n[7] = "as_path_len"; return n }), 1,
			`first difference at index 7: model "f07", want "as_path_len"; missing from model: "as_path_len"; extra in model: "f07"`},
		{"appended", append(slices.Clone(names), "rpki_invalid"), 1,
			`model has 30 features, want 31; first difference at index 30: model (end of list), want "rpki_invalid"; missing from model: "rpki_invalid"`},
		{"dropped", names[:29], 1,
			`model has 30 features, want 29; first difference at index 29: model "f29", want (end of list); extra in model: "f29"`},
		{"inserted", slices.Insert(slices.Clone(names), 3, "new"), 1,
			`model has 30 features, want 31; first difference at index 3: model "f03", want "new"; missing from model: "new"`},
		{"swapped", with(func(n []string) []string { n[4], n[5] = n[5], n[4]; return n }), 1,
			`first difference at index 4: model "f04", want "f05"; same names in another order`},
		{"version and names", with(func(n []string) []string { n[0] = "x"; return n }), 3,
			`schema version 1, want 3; first difference at index 0: model "f00", want "x"; missing from model: "x"; extra in model: "f00"`},
		{"many missing", nil, 1,
			`model has 30 features, want 0; first difference at index 0: model "f00", want (end of list); extra in model: "f00", "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09" (and 20 more)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := m.CheckSchema(c.want, c.version)
			var se *SchemaError
			if !errors.Is(err, ErrSchema) || !errors.As(err, &se) {
				t.Fatalf("CheckSchema: %v, want a *SchemaError", err)
			}
			if err.Error() != prefix+c.msg {
				t.Errorf("message\n got %s\nwant %s", err, prefix+c.msg)
			}
		})
	}

	// A model loaded without model.json has no schema version to compare.
	bare, err := Load("model.txt", readFixture(t, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	err = bare.CheckSchema(names, 1)
	if !errors.Is(err, ErrSchema) || err.Error() !=
		"lgbm: check schema model.txt: feature schema mismatch: no schema version (model loaded without model.json), want 1" {
		t.Errorf("CheckSchema without model.json: %v", err)
	}
}

func TestLoadBytes(t *testing.T) {
	text, js := readFixture(t, ModelFile), readFixture(t, MetaFile)
	fromDir, err := LoadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadBytes("embedded:model.txt", text, js)
	if err != nil {
		t.Fatal(err)
	}
	if m.File() != "embedded:model.txt" || m.Meta() == nil || !reflect.DeepEqual(m.Meta(), fromDir.Meta()) {
		t.Fatalf("File() = %q, Meta() = %+v", m.File(), m.Meta())
	}
	// LoadBytes keeps nothing of its arguments.
	clear(text)
	clear(js)
	_, rows := readCSV(t, "predictions.csv")
	got, want := make([]float64, 5), make([]float64, 5)
	for _, row := range rows[:100] {
		if err := m.PredictRaw(row[:30], got); err != nil {
			t.Fatal(err)
		}
		if err := fromDir.PredictRaw(row[:30], want); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("LoadBytes model predicts %v, LoadDir model %v", got, want)
		}
	}
	if err := m.CheckSchema(m.FeatureNames(), 2); err == nil ||
		err.Error() != "lgbm: check schema embedded:model.json: feature schema mismatch: schema version 1, want 2" {
		t.Errorf("CheckSchema: %v", err)
	}
}

func TestLoadBytesErrors(t *testing.T) {
	text, js := readFixture(t, ModelFile), readFixture(t, MetaFile)
	other := []byte(strings.Replace(string(js), `"schema_version": 1`, `"schema_version": 0`, 1))
	if string(other) == string(js) {
		t.Fatal("fixture model.json has no schema_version 1")
	}
	for _, c := range []struct {
		name       string
		text, meta []byte
		kind       error
		msg        string
	}{
		{"default", text, other, ErrMeta, "lgbm: load default (model.json): bad model.json: schema_version 0, want >= 1"},
		{"dir/model.txt", text, other, ErrMeta, "lgbm: load dir/model.json: bad model.json: schema_version 0"},
		{"embedded:model.txt", text, nil, ErrMeta, "lgbm: load embedded:model.json: bad model.json: EOF"},
		{"embedded:model.txt", text, []byte("{} {}"), ErrMeta, "data after the JSON object"},
		{"embedded:model.txt", []byte("tree\nversion=v4\n"), js, ErrFormat, "lgbm: load embedded:model.txt:1: malformed model: header has no num_class"},
		{"embedded:model.txt", readFixture(t, "binary_model.txt"), js, ErrMeta, "model.json was written for another model"},
	} {
		_, err := LoadBytes(c.name, c.text, c.meta)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("LoadBytes(%q): %v, want %v with %q", c.name, err, c.kind, c.msg)
		}
	}
}
