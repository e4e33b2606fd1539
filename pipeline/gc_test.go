package pipeline_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/postergenre/postergenre/pipeline"
)

// TestGCKeepsNewestAndLatest: gc --keep N removes the oldest run folders,
// never the one runs/latest points at, never a stage output; history
// still reads what is left.
func TestGCKeepsNewestAndLatest(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := range 4 {
		rec, _, err := h.run(pipeline.Options{Force: i > 0})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	outputs, _ := filepath.Glob(filepath.Join(h.workdir, "stages", "*", "*", "_stage.json"))

	would, err := pipeline.GC(h.workdir, 2, true)
	if err != nil || !slices.Equal(would, ids[:2]) {
		t.Fatalf("dry run: %v, %v; want %v", would, err, ids[:2])
	}
	if left, _ := os.ReadDir(filepath.Join(h.workdir, "runs")); len(left) != 5 { // 4 + latest
		t.Fatalf("dry run removed something: %d entries", len(left))
	}
	// runs/latest pointed at an old run (as after a manual repoint): kept.
	latest := filepath.Join(h.workdir, "runs", "latest")
	os.Remove(latest)
	os.Symlink(ids[0], latest)
	removed, err := pipeline.GC(h.workdir, 2, false)
	if err != nil || !slices.Equal(removed, ids[1:2]) {
		t.Fatalf("gc: %v, %v; want %v", removed, err, ids[1:2])
	}
	for i, id := range ids {
		_, err := os.Stat(filepath.Join(h.workdir, "runs", id))
		if gone := err != nil; gone != (i == 1) {
			t.Errorf("run %d (%s): removed %v", i, id, gone)
		}
	}
	if now, _ := filepath.Glob(filepath.Join(h.workdir, "stages", "*", "*", "_stage.json")); !slices.Equal(now, outputs) {
		t.Errorf("gc touched stage outputs: %d before, %d after", len(outputs), len(now))
	}
	if runs, err := pipeline.History(h.workdir); err != nil || len(runs) != 3 {
		t.Errorf("history after gc: %d runs, %v", len(runs), err)
	}
	if _, err := pipeline.GC(h.workdir, 0, false); err == nil {
		t.Error("keep 0 accepted")
	}
}
