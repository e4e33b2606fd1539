package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/buildinfo"
	"github.com/postergenre/postergenre/stages"
)

// RunRecord is runs/<id>/run.json.
type RunRecord struct {
	ID       string    `json:"id"`
	Config   string    `json:"config"`
	File     string    `json:"file"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
	Status   string    `json:"status"` // ok, failed, cancelled
	// Version and Commit are the program's (internal/buildinfo).
	Version string `json:"version,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Error   string `json:"error,omitempty"`
	Steps   []Step `json:"steps"`
	// Grid is the comparison table of a grid config (Markdown), also in grid.md.
	Grid string `json:"grid,omitempty"`
}

// StageError is a stage that failed; the CLI maps it to exit code 1.
type StageError struct {
	Stage string
	Err   error
}

// Error names the stage once: stages name themselves in their errors
// ("encode: shard 3: ..."), and those are not prefixed again.
func (e *StageError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Stage+":") {
		return msg
	}
	return e.Stage + ": " + msg
}

func (e *StageError) Unwrap() error { return e.Err }

// Run runs a config (or, with Options.Cell, one of its grid cells). The
// returned record is also written to the run folder. Lock errors are
// *LockError; stage failures are *StageError; a --cell naming no cell is
// *CellError.
func (r *Runner) Run(ctx context.Context, cfg *configs.Loaded) (rec *RunRecord, err error) {
	cells, err := SelectCells(cfg, r.opts.Cell)
	if err != nil {
		return nil, err
	}
	if err := r.ensureDirs(); err != nil {
		return nil, err
	}
	release, err := r.lockCells(cfg, cells)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, release()) }()
	if r.opts.Setup != nil {
		cleanup, err := r.setup(ctx)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		// Setup may change the config (the demo points scrape at its
		// server): the cells are copies, made again.
		if cells, err = SelectCells(cfg, r.opts.Cell); err != nil {
			return nil, err
		}
	}

	if r.opts.DryRun {
		steps, err := r.Plan(ctx, cfg)
		if err != nil {
			return nil, err
		}
		PrintPlan(r.opts.Out, steps)
		return &RunRecord{Config: cfg.Name, Steps: steps, Status: "dry-run"}, nil
	}

	rec, log, closeLog, err := r.startRun(cfg, cells)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeLog()) }()
	runErr := r.runCells(ctx, cfg, cells, rec, log)
	return rec, r.finishRun(rec, log, runErr)
}

// lockCells takes the run lock of every cell this run runs (of the config
// itself when it has no grid), without waiting: a second run of the same
// config (cell) is refused with a *LockError naming the holder, while
// runs of other configs and other cells go on side by side.
func (r *Runner) lockCells(cfg *configs.Loaded, cells []configs.Cell) (release func() error, err error) {
	var held []*Lock
	release = func() error {
		var errs []error
		for _, l := range held {
			errs = append(errs, l.Release())
		}
		return errors.Join(errs...)
	}
	for _, c := range cells {
		purpose := "run " + cfg.Name
		if c.Key != "" {
			purpose += " cell " + c.Key
		}
		l, err := tryLock(r.layout.runLock(c.Config.Name), purpose, r.opts.Lease)
		if err != nil {
			return nil, errors.Join(err, release())
		}
		logTakeOver(r.log, l)
		held = append(held, l)
	}
	return release, nil
}

// setup runs Options.Setup under a lock shared by every config, waiting
// for another process's setup to finish first (the demo generates its data
// once, whichever cell comes first).
func (r *Runner) setup(ctx context.Context) (func(), error) {
	l, err := r.waitNamed(ctx, "setup", "set up (the demo's data)", r.log)
	if err != nil {
		return nil, err
	}
	cleanup, err := r.opts.Setup(ctx)
	return cleanup, errors.Join(err, l.Release())
}

// startRun creates the run folder with the resolved config and the run's
// logger (also writing log.jsonl when Options.ExtraLog is set). With
// Options.RunID the run folder is shared with other processes: it is
// created if absent and the log goes into the cell's own folder.
func (r *Runner) startRun(cfg *configs.Loaded, cells []configs.Cell) (rec *RunRecord, log *slog.Logger, closeLog func() error, err error) {
	rec = &RunRecord{
		Config:  cfg.Name,
		File:    cfg.File,
		Started: r.now().UTC(),
		Version: buildinfo.Version,
		Commit:  buildinfo.Commit,
	}
	closeLog = func() error { return nil }
	runDir, logDir := "", ""
	if r.opts.RunID != "" {
		rec.ID = r.opts.RunID
		runDir = r.layout.run(rec.ID)
		logDir = runDir
		if len(cells) == 1 && cells[0].Key != "" {
			logDir = filepath.Join(runDir, cells[0].Config.Name)
		}
		err = os.MkdirAll(logDir, 0o755)
	} else {
		rec.ID, err = r.newRunFolder()
		runDir, logDir = r.layout.run(rec.ID), r.layout.run(rec.ID)
	}
	if err != nil {
		return nil, nil, closeLog, fmt.Errorf("run folder: %w", err)
	}
	// A run folder that could not be set up (a full disk) is removed: it
	// would show in history as a killed run. A shared one is left alone.
	defer func() {
		if err != nil {
			rm := error(nil)
			if r.opts.RunID == "" {
				rm = os.RemoveAll(runDir)
			}
			err = fmt.Errorf("run folder %s: %w", runDir, errors.Join(err, closeLog(), rm))
		}
	}()
	if err := atomicfile.WriteFile(filepath.Join(runDir, "config.yaml"), cfg.YAML(), 0o644); err != nil {
		return nil, nil, closeLog, err
	}
	log = r.log.With("run", rec.ID)
	if r.opts.ExtraLog != nil {
		h, closer, err := r.opts.ExtraLog(logDir)
		if err != nil {
			return nil, nil, closeLog, err
		}
		closeLog = closer.Close
		log = slog.New(teeHandler{r.log.Handler(), h}).With("run", rec.ID)
	}
	log.Info("run started", "config", cfg.Name, "file", cfg.File, "workdir", r.layout.root, "cell", r.opts.Cell)
	return rec, log, closeLog, nil
}

// newRunFolder creates runs/<id> for a new run. The id is the start time
// and a random suffix; the folder is made with Mkdir, not MkdirAll, so two
// processes starting in the same second can never share one.
func (r *Runner) newRunFolder() (string, error) {
	for {
		id := r.now().UTC().Format("20060102T150405Z") + "-" + newID()
		err := os.Mkdir(r.layout.run(id), 0o755)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}

// runCells runs the selected cells of cfg (one without a grid), stopping
// at the first failure, and writes the grid table of a grid config (left to
// CollectRun when the run folder is shared).
func (r *Runner) runCells(ctx context.Context, cfg *configs.Loaded, cells []configs.Cell, rec *RunRecord, log *slog.Logger) error {
	runDir := r.layout.run(rec.ID)
	var runErr error
	var gridRows []gridRow
	for _, cell := range cells {
		cellDir := runDir
		if cell.Key != "" {
			cellDir = filepath.Join(runDir, cell.Config.Name)
		}
		started := r.now().UTC()
		steps, err := r.runCell(ctx, cell, cellDir, log, rec.ID)
		rec.Steps = append(rec.Steps, steps...)
		if r.opts.RunID != "" {
			err = errors.Join(err, r.writeCellRecord(cell, rec, steps, started, err))
		}
		if cell.Key != "" {
			gridRows = append(gridRows, gridRow{cell: cell, steps: steps})
		}
		if err != nil {
			runErr = err
			break
		}
	}
	if cfg.Grid != nil && r.opts.RunID == "" {
		rec.Grid = gridTable(cfg.Grid, gridRows)
		if err := atomicfile.WriteFile(filepath.Join(runDir, "grid.md"), []byte(rec.Grid), 0o644); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	return runErr
}

// finishRun records the outcome in run.json, points runs/latest at the run
// and logs it. Every error on the way joins the run's own. A run attached
// to a shared run folder (Options.RunID) has written each cell's record
// instead (<cell>/cell.json, see runCells), for CollectRun.
func (r *Runner) finishRun(rec *RunRecord, log *slog.Logger, runErr error) error {
	rec.Finished = r.now().UTC()
	rec.Seconds = rec.Finished.Sub(rec.Started).Seconds()
	rec.Status, rec.Error = outcome(runErr)
	runDir := r.layout.run(rec.ID)
	if r.opts.RunID == "" {
		if err := writeJSON(filepath.Join(runDir, RunFile), rec); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("run record: %w", err))
		}
	}
	// runs/latest is the newest run that made something (or failed): a
	// run that found everything up to date has no outputs in its folder.
	if r.opts.RunID == "" && !NothingRan(*rec) {
		if err := r.linkLatest(rec.ID); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	attrs := []any{"status", rec.Status, "seconds", round(rec.Seconds, 2), "ran", count(rec.Steps, StatusRan), "up_to_date", count(rec.Steps, StatusUpToDate), "run_dir", runDir}
	if runErr != nil {
		attrs = append(attrs, "err", CapText(runErr.Error()))
	}
	log.Info("run finished", attrs...)
	return runErr
}

// outcome is a run's (or cell's) status and error message.
func outcome(err error) (status, msg string) {
	switch {
	case err == nil:
		return RunOK, ""
	case errors.Is(err, context.Canceled):
		return RunCancelled, CapText(err.Error())
	}
	return RunFailed, CapText(err.Error())
}

// linkLatest points runs/latest at the run, atomically.
func (r *Runner) linkLatest(id string) error {
	return linkLatest(r.layout, id)
}

// linkLatest points runs/latest at run id through a temporary symlink of
// this process's own and a rename, so concurrent runs never see it
// missing and never trip over each other's temporary link.
func linkLatest(l layout, id string) error {
	latest := filepath.Join(l.runs(), "latest")
	tmp := latest + ".tmp-" + newID()
	if err := os.Symlink(id, tmp); err != nil {
		return fmt.Errorf("link runs/latest: %w", err)
	}
	if err := os.Rename(tmp, latest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link runs/latest: %w", err)
	}
	return nil
}

// NothingRan reports a successful run that found every stage up to date:
// its folder holds only its record (run.json, config.yaml, log.jsonl).
func NothingRan(rec RunRecord) bool { return rec.Status == RunOK && count(rec.Steps, StatusRan) == 0 }

// Experiment reports a run that trained or evaluated something: what gc
// keeps (--keep N counts these) and exp lists.
func Experiment(rec RunRecord) bool {
	for _, s := range rec.Steps {
		if s.Status == StatusRan && (s.Stage == stages.Train || s.Stage == stages.Evaluate) {
			return true
		}
	}
	return false
}

func count(steps []Step, status string) int {
	n := 0
	for _, s := range steps {
		if s.Status == status {
			n++
		}
	}
	return n
}

func round(x float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

// teeHandler sends every record to two handlers (terminal or cron log, and
// the run's log.jsonl).
type teeHandler [2]slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t[0].Enabled(ctx, l) || t[1].Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, rec slog.Record) error {
	var errs []error
	for _, h := range t {
		if h.Enabled(ctx, rec.Level) {
			errs = append(errs, h.Handle(ctx, rec.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t[0].WithAttrs(as), t[1].WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t[0].WithGroup(name), t[1].WithGroup(name)}
}

// JSONLogFile opens <runDir>/log.jsonl for Options.ExtraLog.
func JSONLogFile(runDir string) (slog.Handler, io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(runDir, "log.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}), f, nil
}
