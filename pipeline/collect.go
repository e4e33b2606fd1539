package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/atomicfile"
)

// Records in a run folder.
const (
	// RunFile is runs/<id>/run.json, the run's record.
	RunFile = "run.json"
	// CellFile is runs/<id>/<cell config>/cell.json: the record of one
	// grid cell run by a process attached to a shared run folder
	// (Options.RunID), until CollectRun gathers the cells into run.json.
	CellFile = "cell.json"
)

// writeCellRecord writes cell.json for a cell this attached run ran, with
// the cell's own steps and outcome, so a collector knows how it ended.
func (r *Runner) writeCellRecord(c configs.Cell, rec *RunRecord, steps []Step, started time.Time, cellErr error) error {
	cr := RunRecord{ID: rec.ID, Config: rec.Config, File: rec.File, Started: started, Finished: r.now().UTC(),
		Version: rec.Version, Commit: rec.Commit, Steps: steps}
	cr.Seconds = cr.Finished.Sub(cr.Started).Seconds()
	cr.Status, cr.Error = outcome(cellErr)
	return WriteCellRecord(r.layout.root, rec.ID, c, cr)
}

// cellRecordPath is runs/<id>/<cell config>/cell.json (runs/<id>/cell.json
// for a config without a grid).
func cellRecordPath(workdir, id string, cell configs.Cell) string {
	dir := layout{root: workdir}.run(id)
	if cell.Key != "" {
		dir = filepath.Join(dir, cell.Config.Name)
	}
	return filepath.Join(dir, CellFile)
}

// WriteCellRecord writes the record of one cell of run id (a collector
// writes one for a cell whose process died without, saying why).
func WriteCellRecord(workdir, id string, cell configs.Cell, rec RunRecord) error {
	return writeJSON(cellRecordPath(workdir, id, cell), rec)
}

// ReadCellRecord reads the record an attached process wrote for one cell
// of run id (fs.ErrNotExist while the cell has not finished).
func ReadCellRecord(workdir, id string, cell configs.Cell) (RunRecord, error) {
	var rec RunRecord
	path := cellRecordPath(workdir, id, cell)
	if err := readJSON(path, &rec); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return rec, err
		}
		return rec, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// CollectRun gathers the cells that attached processes ran into run id
// (Options.RunID) into one run record: run.json with every cell's steps in
// grid order, grid.md, runs/latest. A cell without a record (never ran, or
// its process was killed) fails the run and is named in its error; the
// run is ok only when every cell is. started is when the collector
// submitted the cells (the zero time: the earliest cell's start).
func CollectRun(workdir string, cfg *configs.Loaded, id string, started time.Time) (*RunRecord, error) {
	l := layout{root: workdir}
	runDir := l.run(id)
	if _, err := os.Stat(runDir); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	rec := &RunRecord{ID: id, Config: cfg.Name, File: cfg.File, Started: started, Status: RunOK}
	var problems []string
	var gridRows []gridRow
	for _, c := range cfg.Cells() {
		name := c.Key
		if name == "" {
			name = cfg.Name
		}
		cr, err := ReadCellRecord(workdir, id, c)
		if err != nil {
			rec.Status = RunFailed
			problems = append(problems, "cell "+name+": no record (never ran, or its process was killed)")
			if !errors.Is(err, fs.ErrNotExist) {
				problems[len(problems)-1] = "cell " + name + ": " + err.Error()
			}
			continue
		}
		rec.Steps = append(rec.Steps, cr.Steps...)
		gridRows = append(gridRows, gridRow{cell: c, steps: cr.Steps})
		if rec.Started.IsZero() || cr.Started.Before(rec.Started) {
			rec.Started = cr.Started
		}
		if cr.Finished.After(rec.Finished) {
			rec.Finished = cr.Finished
		}
		rec.Version, rec.Commit = cr.Version, cr.Commit
		if cr.Status != RunOK {
			if rec.Status != RunFailed {
				rec.Status = cr.Status
			}
			problems = append(problems, "cell "+name+": "+cr.Status+": "+cr.Error)
		}
	}
	if rec.Finished.IsZero() {
		rec.Finished = time.Now().UTC()
	}
	rec.Seconds = rec.Finished.Sub(rec.Started).Seconds()
	rec.Error = CapText(strings.Join(problems, "; "))
	var errs []error
	if cfg.Grid != nil {
		rec.Grid = gridTable(cfg.Grid, gridRows)
		errs = append(errs, atomicfile.WriteFile(filepath.Join(runDir, "grid.md"), []byte(rec.Grid), 0o644))
	}
	errs = append(errs, writeJSON(filepath.Join(runDir, RunFile), rec), linkLatest(l, id))
	return rec, errors.Join(errs...)
}
