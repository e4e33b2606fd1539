package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// gridYAML is a 2×2 grid: two image sizes (two encodes) by two learning
// rates, four cells.
const gridYAML = "version: 1\nname: g\nscrape:\n  csv: movies.csv\ngrid:\n  shrink_percent: [30, 40]\n  learning_rate: [0.001, 0.0001]\n"

// attached runs what an executor's array task runs: one cell of cfg,
// attached to the submitted run folder id. failCell, when it is the cell's
// key, makes that cell's train stage fail.
func (h *harness) attached(cfg *configs.Loaded, cell int, id, failCell string) error {
	h.t.Helper()
	key := cfg.Cells()[cell].Key
	build := func(c configs.Config) map[string]stages.Stage {
		m := h.build(c)
		if key == failCell {
			m[stages.Train] = &fakeStage{name: stages.Train, cfg: c.Section(stages.Train), runs: h.runs, fail: true}
		}
		return m
	}
	r, err := pipeline.NewRunner(pipeline.Options{Workdir: h.workdir, Build: build, Cell: strconv.Itoa(cell), RunID: id})
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = r.Run(context.Background(), cfg)
	return err
}

func (h *harness) submitter() *pipeline.Runner {
	h.t.Helper()
	r, err := pipeline.NewRunner(pipeline.Options{Workdir: h.workdir, Build: h.build})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// submitGrid writes gridYAML as the harness's config and submits it.
func (h *harness) submitGrid() (*configs.Loaded, *pipeline.Submitted) {
	h.t.Helper()
	os.WriteFile(h.cfgFile, []byte(gridYAML), 0o644)
	cfg, err := configs.Load(h.cfgFile, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	sub, err := h.submitter().Submit(context.Background(), cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return cfg, sub
}

// TestSubmitThenCollect follows a grid through an executor the way the
// Slurm executor drives it, in one process: Submit builds what the cells
// share, each cell runs attached to the run folder and leaves cell.json,
// CollectRun gathers them into one run record.
func TestSubmitThenCollect(t *testing.T) {
	tests := []struct {
		name       string
		run        []int  // the cells whose processes ran
		failCell   string // the cell whose train stage fails
		wantStatus string
		wantErr    []string // in the run's error
		wantTrain  int      // train steps in run.json
	}{
		{name: "every cell ok", run: []int{0, 1, 2, 3}, wantStatus: "ok", wantTrain: 4},
		{name: "one cell fails alone", run: []int{0, 1, 2, 3}, failCell: "40/0.001", wantStatus: "failed",
			wantErr: []string{"cell 40/0.001: failed", "boom"}, wantTrain: 4},
		{name: "a cell never ran", run: []int{0, 2, 3}, wantStatus: "failed",
			wantErr: []string{"cell 30/0.0001: no record"}, wantTrain: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			cfg, sub := h.submitGrid()
			if got := h.runs.get(); got[stages.Encode] != 2 || got[stages.Scrape] != 1 || got[stages.Train] != 0 {
				t.Fatalf("Submit ran %v, want scrape once, encode per size, no train", got)
			}
			for _, i := range tc.run {
				err := h.attached(cfg, i, sub.ID, tc.failCell)
				if failed := cfg.Cells()[i].Key == tc.failCell; failed != (err != nil) {
					t.Fatalf("cell %d: err %v", i, err)
				}
			}
			if got := h.runs.get(); got[stages.Encode] != 2 || got[stages.Train] != len(tc.run) {
				t.Fatalf("after the cells: ran %v, want the shared stages not rebuilt and one train per cell", got)
			}
			rec, err := pipeline.CollectRun(h.workdir, cfg, sub.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if err := sub.Record(rec); err != nil {
				t.Fatal(err)
			}
			if err := sub.Release(); err != nil {
				t.Fatal(err)
			}
			if rec.Status != tc.wantStatus {
				t.Errorf("status %q, want %q (error %q)", rec.Status, tc.wantStatus, rec.Error)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(rec.Error, w) {
					t.Errorf("run error %q lacks %q", rec.Error, w)
				}
			}
			read, err := pipeline.ReadRun(h.workdir, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			var trains, encodesRan int
			for _, s := range read.Steps {
				switch {
				case s.Stage == stages.Train:
					trains++
				case s.Stage == stages.Encode && s.Status == "ran":
					encodesRan++
				}
			}
			if trains != tc.wantTrain {
				t.Errorf("run.json has %d train steps, want %d", trains, tc.wantTrain)
			}
			// Record credits the submitter's builds to the cells that found
			// them up to date, as a local grid run counts them.
			if encodesRan != 2 {
				t.Errorf("run.json counts %d encodes as ran, want 2 (one per size)", encodesRan)
			}
			if _, err := os.Stat(filepath.Join(sub.Dir, "grid.md")); err != nil {
				t.Errorf("grid.md: %v", err)
			}
		})
	}
}

func TestSecondSubmissionRefused(t *testing.T) {
	h := newHarness(t)
	cfg, first := h.submitGrid()
	_, err := h.submitter().Submit(context.Background(), cfg)
	var lockErr *pipeline.LockError
	if !errors.As(err, &lockErr) || !strings.Contains(lockErr.Holder, "submission of g") {
		t.Fatalf("second submission: err %v, want a LockError naming the first", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := h.submitter().Submit(context.Background(), cfg)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	again.Release()
}

// TestCellRecordDamaged: a cell.json that is not JSON is named with its
// path in the collected run's error, not taken for a missing cell.
func TestCellRecordDamaged(t *testing.T) {
	h := newHarness(t)
	cfg, sub := h.submitGrid()
	defer sub.Release()
	for i := range cfg.Cells() {
		if err := h.attached(cfg, i, sub.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	damaged := filepath.Join(sub.Dir, cfg.Cells()[1].Config.Name, pipeline.CellFile)
	if err := os.WriteFile(damaged, []byte("{half"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := pipeline.CollectRun(h.workdir, cfg, sub.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != "failed" || !strings.Contains(rec.Error, damaged) || strings.Contains(rec.Error, "no record") {
		t.Errorf("status %q, error %q: want failed, naming %s", rec.Status, rec.Error, damaged)
	}
}

func TestCollectRunNeedsTheRunFolder(t *testing.T) {
	h := newHarness(t)
	os.WriteFile(h.cfgFile, []byte(gridYAML), 0o644)
	cfg, err := configs.Load(h.cfgFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.CollectRun(h.workdir, cfg, "20260101T000000Z-none", time.Time{}); err == nil || !strings.Contains(err.Error(), "run folder") {
		t.Errorf("err %v, want one about the run folder", err)
	}
}
