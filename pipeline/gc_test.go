package pipeline_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/pipeline"
)

func gcPaths(items []pipeline.GCItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Path)
	}
	return out
}

func runPaths(ids ...string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, filepath.Join("runs", id))
	}
	return out
}

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

	would, err := pipeline.GC(h.workdir, pipeline.GCOptions{Keep: 2, DryRun: true})
	if err != nil || !slices.Equal(gcPaths(would), runPaths(ids[:2]...)) {
		t.Fatalf("dry run: %v, %v; want %v", gcPaths(would), err, ids[:2])
	}
	if left, _ := os.ReadDir(filepath.Join(h.workdir, "runs")); len(left) != 5 { // 4 + latest
		t.Fatalf("dry run removed something: %d entries", len(left))
	}
	// runs/latest pointed at an old run (as after a manual repoint): kept.
	latest := filepath.Join(h.workdir, "runs", "latest")
	os.Remove(latest)
	os.Symlink(ids[0], latest)
	removed, err := pipeline.GC(h.workdir, pipeline.GCOptions{Keep: 2})
	if err != nil || !slices.Equal(gcPaths(removed), runPaths(ids[1])) {
		t.Fatalf("gc: %v, %v; want %v", gcPaths(removed), err, ids[1:2])
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
	if _, err := pipeline.GC(h.workdir, pipeline.GCOptions{Keep: -1}); err == nil {
		t.Error("keep -1 accepted")
	}
}

// TestGCCountsExperiments is issue 21's reproduction: two learning rates,
// then two unchanged runs, then gc --keep 2 keeps both experiments. The
// unchanged runs' folders hold only their record.
func TestGCCountsExperiments(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for _, lr := range []string{"1e-3", "3e-3", "3e-3", "3e-3"} {
		rec, _, err := h.run(pipeline.Options{}, "train.optimizer.learning_rate="+lr)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	noop, _ := os.ReadDir(filepath.Join(h.workdir, "runs", ids[3]))
	var names []string
	for _, e := range noop {
		names = append(names, e.Name())
	}
	if slices.Contains(names, "train") || slices.Contains(names, "report") || !slices.Contains(names, "run.json") {
		t.Errorf("a run that ran nothing holds %v, want only its record", names)
	}
	if l, _ := os.Readlink(filepath.Join(h.workdir, "runs", "latest")); l != ids[1] {
		t.Errorf("runs/latest -> %s, want the last run that made something %s", l, ids[1])
	}
	removed, err := pipeline.GC(h.workdir, pipeline.GCOptions{Keep: 2})
	if err != nil || len(removed) != 0 {
		t.Fatalf("gc --keep 2 removed %v (%v), want nothing: both experiments are the newest 2", gcPaths(removed), err)
	}
	removed, err = pipeline.GC(h.workdir, pipeline.GCOptions{Keep: 1})
	if err != nil || !slices.Equal(gcPaths(removed), runPaths(ids[0])) {
		t.Errorf("gc --keep 1 removed %v (%v), want the first experiment only", gcPaths(removed), err)
	}
}

// TestGCKeepsTaggedAndOutputs: a tagged run survives gc --keep 0, and
// gc --outputs --dry-run lists exactly the outputs no kept run and no
// config state uses.
func TestGCKeepsTaggedAndOutputs(t *testing.T) {
	h := newHarness(t)
	a, _, err := h.run(pipeline.Options{}, "train.optimizer.learning_rate=1e-3")
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := h.run(pipeline.Options{}, "train.optimizer.learning_rate=3e-3")
	c, _, _ := h.run(pipeline.Options{}, "train.optimizer.learning_rate=1e-2")
	if _, err := pipeline.SetTag(h.workdir, a.ID[:20], "champion"); err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.SetTag(h.workdir, b.ID, "latest"); err == nil {
		t.Error(`tag "latest" accepted`)
	}
	// An interrupted attempt left over for an output that completed since.
	stale := filepath.Join(h.workdir, "stages", "train", ".interrupted-"+stepOf(a, "train").Fingerprint)
	os.MkdirAll(stale, 0o755)

	items, err := pipeline.GC(h.workdir, pipeline.GCOptions{Keep: 0, Outputs: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join("runs", b.ID),
		filepath.Join("stages", "train", ".interrupted-"+stepOf(a, "train").Fingerprint),
		// b's train and evaluate: a is tagged, c is latest and the state.
		filepath.Join("stages", "train", stepOf(b, "train").Fingerprint),
		filepath.Join("stages", "evaluate", stepOf(b, "evaluate").Fingerprint),
	}
	got := gcPaths(items)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("gc --keep 0 --outputs --dry-run:\n got %v\nwant %v", got, want)
	}
	if _, err := pipeline.GC(h.workdir, pipeline.GCOptions{Keep: 0, Outputs: true}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, c.ID} {
		if _, err := os.Stat(filepath.Join(h.workdir, "runs", id)); err != nil {
			t.Errorf("kept run %s: %v", id, err)
		}
	}
	// The tagged run still resolves, and what c's config needs is reused.
	if r, err := pipeline.ResolveRunRef(h.workdir, "champion"); err != nil || r.Record.ID != a.ID {
		t.Errorf("tag champion: %v, %v", r.Record.ID, err)
	}
	if _, ran, err := h.run(pipeline.Options{}, "train.optimizer.learning_rate=1e-2"); err != nil || len(ran) != 0 {
		t.Errorf("after gc --outputs the current config reran %v (%v)", ran, err)
	}
	if err := pipeline.DeleteTag(h.workdir, "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("delete unknown tag: %v", err)
	}
}

func stepOf(rec *pipeline.RunRecord, stage string) pipeline.Step {
	for _, s := range rec.Steps {
		if s.Stage == stage {
			return s
		}
	}
	return pipeline.Step{}
}
