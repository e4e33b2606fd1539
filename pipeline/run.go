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

// Run runs a config. The returned record is also written to the run folder.
// Lock errors are *LockError; stage failures are *StageError.
func (r *Runner) Run(ctx context.Context, cfg *configs.Loaded) (rec *RunRecord, err error) {
	if err := r.ensureDirs(); err != nil {
		return nil, err
	}
	lock, err := AcquireLock(r.layout.lock())
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, lock.Release()) }()
	if r.opts.Setup != nil {
		cleanup, err := r.opts.Setup(ctx)
		if err != nil {
			return nil, err
		}
		defer cleanup()
	}

	if r.opts.DryRun {
		steps, err := r.Plan(ctx, cfg)
		if err != nil {
			return nil, err
		}
		PrintPlan(r.opts.Out, steps)
		return &RunRecord{Config: cfg.Name, Steps: steps, Status: "dry-run"}, nil
	}

	rec, log, closeLog, err := r.startRun(cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeLog()) }()
	runErr := r.runCells(ctx, cfg, rec, log)
	return rec, r.finishRun(rec, log, runErr)
}

// startRun creates the run folder with the resolved config and the run's
// logger (also writing log.jsonl when Options.ExtraLog is set).
func (r *Runner) startRun(cfg *configs.Loaded) (rec *RunRecord, log *slog.Logger, closeLog func() error, err error) {
	rec = &RunRecord{
		ID:      r.now().UTC().Format("20060102T150405Z") + "-" + newID(),
		Config:  cfg.Name,
		File:    cfg.File,
		Started: r.now().UTC(),
		Version: buildinfo.Version,
		Commit:  buildinfo.Commit,
	}
	runDir := r.layout.run(rec.ID)
	closeLog = func() error { return nil }
	// A run folder that could not be set up (a full disk) is removed: it
	// would show in history as a killed run.
	defer func() {
		if err != nil {
			err = fmt.Errorf("run folder %s: %w", runDir, errors.Join(err, closeLog(), os.RemoveAll(runDir)))
		}
	}()
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, nil, closeLog, err
	}
	if err := atomicfile.WriteFile(filepath.Join(runDir, "config.yaml"), cfg.YAML(), 0o644); err != nil {
		return nil, nil, closeLog, err
	}
	log = r.log.With("run", rec.ID)
	if r.opts.ExtraLog != nil {
		h, closer, err := r.opts.ExtraLog(runDir)
		if err != nil {
			return nil, nil, closeLog, err
		}
		closeLog = closer.Close
		log = slog.New(teeHandler{r.log.Handler(), h}).With("run", rec.ID)
	}
	log.Info("run started", "config", cfg.Name, "file", cfg.File, "workdir", r.layout.root)
	return rec, log, closeLog, nil
}

// runCells runs every cell of cfg (one without a grid), stopping at the
// first failure, and writes the grid table of a grid config.
func (r *Runner) runCells(ctx context.Context, cfg *configs.Loaded, rec *RunRecord, log *slog.Logger) error {
	runDir := r.layout.run(rec.ID)
	var runErr error
	var gridRows []gridRow
	for _, cell := range cfg.Cells() {
		cellDir := runDir
		if cell.Key != "" {
			cellDir = filepath.Join(runDir, cell.Config.Name)
		}
		steps, err := r.runCell(ctx, cell, cellDir, log, rec.ID)
		rec.Steps = append(rec.Steps, steps...)
		if cell.Key != "" {
			gridRows = append(gridRows, gridRow{cell: cell, steps: steps})
		}
		if err != nil {
			runErr = err
			break
		}
	}
	if cfg.Grid != nil {
		rec.Grid = gridTable(cfg.Grid, gridRows)
		if err := atomicfile.WriteFile(filepath.Join(runDir, "grid.md"), []byte(rec.Grid), 0o644); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	return runErr
}

// finishRun records the outcome in run.json, points runs/latest at the run
// and logs it. Every error on the way joins the run's own.
func (r *Runner) finishRun(rec *RunRecord, log *slog.Logger, runErr error) error {
	rec.Finished = r.now().UTC()
	rec.Seconds = rec.Finished.Sub(rec.Started).Seconds()
	switch {
	case runErr == nil:
		rec.Status = "ok"
	case errors.Is(runErr, context.Canceled):
		rec.Status = "cancelled"
		rec.Error = CapText(runErr.Error())
	default:
		rec.Status = "failed"
		rec.Error = CapText(runErr.Error())
	}
	runDir := r.layout.run(rec.ID)
	if err := writeJSON(filepath.Join(runDir, "run.json"), rec); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("run record: %w", err))
	}
	// runs/latest is the newest run that made something (or failed): a
	// run that found everything up to date has no outputs in its folder.
	if !NothingRan(*rec) {
		if err := r.linkLatest(rec.ID); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	attrs := []any{"status", rec.Status, "seconds", round(rec.Seconds, 2), "ran", count(rec.Steps, "ran"), "up_to_date", count(rec.Steps, StatusUpToDate), "run_dir", runDir}
	if runErr != nil {
		attrs = append(attrs, "err", CapText(runErr.Error()))
	}
	log.Info("run finished", attrs...)
	return runErr
}

// linkLatest points runs/latest at the run, atomically.
func (r *Runner) linkLatest(id string) error {
	latest := filepath.Join(r.layout.runs(), "latest")
	tmp := latest + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("link runs/latest: %w", err)
	}
	if err := os.Symlink(id, tmp); err != nil {
		return fmt.Errorf("link runs/latest: %w", err)
	}
	if err := os.Rename(tmp, latest); err != nil {
		return fmt.Errorf("link runs/latest: %w", err)
	}
	return nil
}

// NothingRan reports a successful run that found every stage up to date:
// its folder holds only its record (run.json, config.yaml, log.jsonl).
func NothingRan(rec RunRecord) bool { return rec.Status == "ok" && count(rec.Steps, "ran") == 0 }

// Experiment reports a run that trained or evaluated something: what gc
// keeps (--keep N counts these) and exp lists.
func Experiment(rec RunRecord) bool {
	for _, s := range rec.Steps {
		if s.Status == "ran" && (s.Stage == stages.Train || s.Stage == stages.Evaluate) {
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
