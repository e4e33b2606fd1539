package pipeline_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// Layout.Outputs lists only completed outputs: a staging folder, a set-aside
// old output and a folder without its manifest (an interrupted build) are
// not outputs a reader may use.
func TestLayoutOutputsAreCompleteOnly(t *testing.T) {
	h := newHarness(t)
	if _, _, err := h.run(pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	l := pipeline.Layout{Root: h.workdir}
	done, err := l.Outputs(stages.Encode)
	if err != nil || len(done) != 1 {
		t.Fatalf("outputs %v, %v; want the one built", done, err)
	}
	for _, name := range []string{".staging-x", "abc.old-1", "halfbuilt"} {
		dir := filepath.Join(l.StageDir(stages.Encode), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if name != "halfbuilt" { // the others even carry a manifest
			os.WriteFile(filepath.Join(dir, pipeline.StageManifestFile), []byte("{}"), 0o644)
		}
	}
	got, err := l.Outputs(stages.Encode)
	if err != nil || !slices.Equal(got, done) {
		t.Errorf("outputs %v, %v; want only %v", got, err, done)
	}
	if m, err := pipeline.ReadStageManifest(done[0]); err != nil || m.Stage != stages.Encode {
		t.Errorf("manifest of %s: %+v, %v", done[0], m, err)
	}
	if _, err := l.Outputs("nope"); err == nil {
		t.Error("outputs of an unknown stage: no error")
	}
}

// A run folder without run.json is a run that died: ReadRun names it
// interrupted, with its config's name and its start from its id.
func TestReadRunInterrupted(t *testing.T) {
	h := newHarness(t)
	rec, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := pipeline.Layout{Root: h.workdir}
	if err := os.Remove(filepath.Join(l.Run(rec.ID), "run.json")); err != nil {
		t.Fatal(err)
	}
	got, err := pipeline.ReadRun(h.workdir, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != pipeline.HistoryInterrupted || got.Config != "t" || got.Started.IsZero() ||
		got.Started.Format("20060102T150405Z") != strings.SplitN(rec.ID, "-", 2)[0] {
		t.Errorf("interrupted run read as %+v", got)
	}
	if byDir, err := pipeline.ReadRunDir(l.Run(rec.ID)); err != nil || byDir.Status != got.Status {
		t.Errorf("ReadRunDir: %+v, %v", byDir, err)
	}
	if _, err := pipeline.ReadRun(h.workdir, "20260101T000000Z-00000000"); err == nil {
		t.Error("ReadRun of a run that never was: no error")
	}
}

func TestGCRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name, workdir string
		keep          int
		want          string
	}{
		{"negative keep", t.TempDir(), -1, "keep must be >= 0"},
		{"no working folder", filepath.Join(t.TempDir(), "missing"), 1, "working folder"},
		{"a file", file, 1, "not a folder"},
	} {
		if _, err := pipeline.GC(tc.workdir, pipeline.GCOptions{Keep: tc.keep}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: GC: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A working folder without runs has nothing to collect.
	if ids, err := pipeline.GC(t.TempDir(), pipeline.GCOptions{Keep: 1}); err != nil || len(ids) != 0 {
		t.Errorf("empty working folder: %v, %v", ids, err)
	}
}
