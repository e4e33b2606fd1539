package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RunRef is a run, or one cell of a grid run, as a person named it.
type RunRef struct {
	Dir    string    // the run folder
	Record RunRecord // its run.json (an interrupted run: what readRun infers)
	// Cell is the grid cell's key ("40/0.0001"), "" for a run without a grid.
	Cell string
}

// Name is how the ref is shown: the run id, with "/cell" for a grid cell.
func (r RunRef) Name() string {
	if r.Cell == "" {
		return r.Record.ID
	}
	return r.Record.ID + "/" + cellFolder(r.Record.Config, r.Cell)
}

// Steps are the ref's steps (one cell's for a grid cell).
func (r RunRef) Steps() []Step { return stepsOf(r.Record.Steps, r.Cell) }

// CellDir is the folder that holds the ref's stage links and report: the
// run folder, or its cell's sub-folder.
func (r RunRef) CellDir() string {
	if r.Cell == "" {
		return r.Dir
	}
	return filepath.Join(r.Dir, cellFolder(r.Record.Config, r.Cell))
}

// StageDir is where the ref's output of a stage is: its run folder's own
// copy, or for a run that ran nothing (whose folder holds only its record)
// the stage output it used, while that still exists.
func (r RunRef) StageDir(workdir, stage string) (string, error) {
	own := filepath.Join(r.CellDir(), stage)
	if _, err := os.Stat(own); err == nil {
		return own, nil
	}
	for _, s := range r.Steps() {
		if s.Stage != stage || s.Fingerprint == "" {
			continue
		}
		out := layout{root: workdir}.output(stage, s.Fingerprint)
		if _, err := os.Stat(out); err == nil {
			return out, nil
		}
	}
	return "", fmt.Errorf("%s: no %s output (the run did not get that far, or gc removed the output it used): %w", r.Name(), stage, fs.ErrNotExist)
}

// cellFolder is the sub-folder of a grid cell in its run folder: the
// cell's config name, as configs.Config.Cells names it.
func cellFolder(config, key string) string {
	return config + "-" + strings.NewReplacer("/", "-lr").Replace("s"+key)
}

// ResolveRunRef finds a run or a grid cell from what a person types: a
// ref ResolveRun takes, a tag (see SetTag), or either followed by
// "/CELL", CELL being the cell's folder name or key ("40/0.0001"). A
// grid run named without a cell is an error listing its cells.
func ResolveRunRef(workdir, ref string) (RunRef, error) {
	if _, err := os.Stat(ref); err != nil {
		// Not a run folder's path: a name in the working folder.
		if _, err := os.Stat(workdir); err != nil {
			return RunRef{}, fmt.Errorf("working folder %s: %w", workdir, err)
		}
	}
	runPart, cell := ref, ""
	if t, ok, err := lookupTag(workdir, ref); err != nil {
		return RunRef{}, err
	} else if ok {
		runPart, cell = t.Run, t.Cell
	} else if _, err := os.Stat(ref); err != nil {
		if i := strings.IndexByte(ref, '/'); i > 0 {
			runPart, cell = ref[:i], ref[i+1:]
			if t, ok, _ := lookupTag(workdir, runPart); ok {
				runPart = t.Run
			}
		}
	}
	dir, err := ResolveRun(workdir, runPart)
	if err != nil {
		return RunRef{}, err
	}
	rec, err := readRun(dir)
	if err != nil {
		return RunRef{}, err
	}
	if rec.ID == "" {
		rec.ID = filepath.Base(dir)
	}
	r := RunRef{Dir: dir, Record: rec}
	cells := cellsOf(rec.Steps)
	if cell == "" {
		if len(cells) > 1 || (len(cells) == 1 && cells[0] != "") {
			return r, fmt.Errorf("run %s is a grid of %d cells: name one as %s/CELL (cells: %s)", rec.ID, len(cells), rec.ID, strings.Join(cellNames(rec.Config, cells), ", "))
		}
		return r, nil
	}
	for _, c := range cells {
		if c != "" && (c == cell || cellFolder(rec.Config, c) == cell) {
			r.Cell = c
			return r, nil
		}
	}
	return r, fmt.Errorf("run %s has no cell %q (cells: %s): %w", rec.ID, cell, strings.Join(cellNames(rec.Config, cells), ", "), fs.ErrNotExist)
}

func cellNames(config string, cells []string) []string {
	var out []string
	for _, c := range cells {
		if c != "" {
			out = append(out, cellFolder(config, c))
		}
	}
	if len(out) == 0 {
		return []string{"none: not a grid run"}
	}
	return out
}
