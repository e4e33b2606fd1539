package pipeline_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/pipeline"
)

// TestPlanNamesChangedParams: "params changed" says which values changed.
func TestPlanNamesChangedParams(t *testing.T) {
	h := newHarness(t)
	if _, _, err := h.run(pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rec, _, err := h.run(pipeline.Options{DryRun: true, Out: &out}, "train.epochs=3")
	if err != nil {
		t.Fatal(err)
	}
	train := stepOf(rec, "train")
	if train.Status != pipeline.StatusParamsChanged || !slices.ContainsFunc(train.Changed, func(c string) bool { return strings.HasPrefix(c, "train.epochs: ") && strings.HasSuffix(c, "→ 3") }) {
		t.Errorf("train: %s %v, want params changed naming train.epochs", train.Status, train.Changed)
	}
	if !strings.Contains(out.String(), "params changed: train.epochs:") {
		t.Errorf("plan:\n%s", out.String())
	}
}

// TestExpRows: one row per experiment (per cell of a grid), the params
// that differ found, nothing-ran runs left out unless asked for.
func TestExpRows(t *testing.T) {
	h := newHarness(t)
	for _, lr := range []string{"1e-3", "3e-3", "3e-3"} {
		if _, _, err := h.run(pipeline.Options{}, "train.optimizer.learning_rate="+lr); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := pipeline.ExpRows(h.workdir, false)
	if err != nil || len(rows) != 2 {
		t.Fatalf("experiments: %d rows, %v; want 2 (the third run ran nothing)", len(rows), err)
	}
	if all, _ := pipeline.ExpRows(h.workdir, true); len(all) != 3 || all[0].Status != pipeline.HistoryNothingRan {
		t.Errorf("--all: %d rows, newest %q", len(all), all[0].Status)
	}
	if p := pipeline.VaryingParams(rows); !slices.Equal(p, []string{"train.optimizer.learning_rate"}) {
		t.Errorf("varying params %v", p)
	}
	if v, ok := rows[0].Value("train.optimizer.learning_rate"); !ok || v != "0.003" {
		t.Errorf("newest row's learning rate %q %v", v, ok)
	}
	if m := pipeline.MetricKeys(rows); len(m) == 0 {
		t.Error("no metric columns")
	}
}

// TestGridCellRefs: a grid run needs its cell named; RUN/CELL takes the
// cell's folder name or key; a run id with an unknown cell is not found.
func TestGridCellRefs(t *testing.T) {
	h := newHarness(t)
	os.WriteFile(h.cfgFile, []byte("version: 1\nname: g\nscrape:\n  csv: movies.csv\ngrid:\n  shrink_percent: [30, 40]\n  learning_rate: [0.001]\n"), 0o644)
	rec, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pipeline.ResolveRunRef(h.workdir, rec.ID)
	if err == nil || !strings.Contains(err.Error(), "g-s30-lr0.001") || !strings.Contains(err.Error(), "grid of 2 cells") {
		t.Errorf("grid run without a cell: %v", err)
	}
	tests := []struct{ ref, cell string }{
		{rec.ID + "/g-s40-lr0.001", "40/0.001"},
		{rec.ID + "/30/0.001", "30/0.001"},
	}
	for _, tt := range tests {
		r, err := pipeline.ResolveRunRef(h.workdir, tt.ref)
		if err != nil || r.Cell != tt.cell || filepath.Base(r.CellDir()) != "g-s"+strings.Replace(tt.cell, "/", "-lr", 1) {
			t.Errorf("%s: cell %q dir %s, %v", tt.ref, r.Cell, r.CellDir(), err)
		}
	}
	if _, err := pipeline.ResolveRunRef(h.workdir, rec.ID+"/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown cell: %v", err)
	}
	a, _ := pipeline.ResolveRunRef(h.workdir, rec.ID+"/30/0.001")
	b, _ := pipeline.ResolveRunRef(h.workdir, rec.ID+"/40/0.001")
	d, err := pipeline.DiffRefs(a, b)
	if err != nil || len(d) != 1 || d[0].Key != "encode.image.shrink_percent" {
		t.Errorf("cells differ by %v, %v; want the shrink only", d, err)
	}
	if _, err := pipeline.SetTag(h.workdir, rec.ID+"/40/0.001", "best"); err != nil {
		t.Fatal(err)
	}
	if r, err := pipeline.ResolveRunRef(h.workdir, "best"); err != nil || r.Cell != "40/0.001" {
		t.Errorf("tag of a cell: %+v %v", r.Cell, err)
	}
}
