package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/atomicfile"
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
	Error    string    `json:"error,omitempty"`
	Steps    []Step    `json:"steps"`
	// Grid is the comparison table of a grid config (Markdown), also in grid.md.
	Grid string `json:"grid,omitempty"`
}

// StageError is a stage that failed; the CLI maps it to exit code 1.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// Run runs a config. The returned record is also written to the run folder.
// Lock errors are *LockError; stage failures are *StageError.
func (r *Runner) Run(ctx context.Context, cfg *configs.Loaded) (*RunRecord, error) {
	if err := r.ensureDirs(); err != nil {
		return nil, err
	}
	lock, err := AcquireLock(r.layout.lock())
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	if r.opts.DryRun {
		steps, err := r.Plan(ctx, cfg)
		if err != nil {
			return nil, err
		}
		PrintPlan(r.opts.Out, steps)
		return &RunRecord{Config: cfg.Name, Steps: steps, Status: "dry-run"}, nil
	}

	rec := &RunRecord{
		ID:      r.now().UTC().Format("20060102T150405Z") + "-" + newID(),
		Config:  cfg.Name,
		File:    cfg.File,
		Started: r.now().UTC(),
	}
	runDir := r.layout.run(rec.ID)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(runDir, "config.yaml"), cfg.YAML(), 0o644); err != nil {
		return nil, err
	}
	log := r.log.With("run", rec.ID)
	if r.opts.ExtraLog != nil {
		h, closer, err := r.opts.ExtraLog(runDir)
		if err != nil {
			return nil, err
		}
		defer closer.Close()
		log = slog.New(teeHandler{r.log.Handler(), h}).With("run", rec.ID)
	}
	log.Info("run started", "config", cfg.Name, "file", cfg.File, "workdir", r.layout.root)

	var runErr error
	cells := cfg.Cells()
	var gridRows []gridRow
	for _, cell := range cells {
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
		if err := atomicfile.WriteFile(filepath.Join(runDir, "grid.md"), []byte(rec.Grid), 0o644); err != nil && runErr == nil {
			runErr = err
		}
	}

	rec.Finished = r.now().UTC()
	rec.Seconds = rec.Finished.Sub(rec.Started).Seconds()
	switch {
	case runErr == nil:
		rec.Status = "ok"
	case errors.Is(runErr, context.Canceled):
		rec.Status = "cancelled"
		rec.Error = runErr.Error()
	default:
		rec.Status = "failed"
		rec.Error = runErr.Error()
	}
	if err := writeJSON(filepath.Join(runDir, "run.json"), rec); err != nil && runErr == nil {
		runErr = err
	}
	latest := filepath.Join(r.layout.runs(), "latest")
	tmp := latest + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(rec.ID, tmp); err == nil {
		os.Rename(tmp, latest)
	}
	attrs := []any{"status", rec.Status, "seconds", round(rec.Seconds, 2), "ran", count(rec.Steps, "ran"), "up_to_date", count(rec.Steps, StatusUpToDate), "run_dir", runDir}
	if runErr != nil {
		attrs = append(attrs, "err", runErr)
	}
	log.Info("run finished", attrs...)
	return rec, runErr
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

// runCell runs the five stages of one config (one grid cell).
func (r *Runner) runCell(ctx context.Context, cell configs.Cell, cellDir string, log *slog.Logger, runID string) ([]Step, error) {
	c := cell.Config
	built := r.opts.Build(c)
	state := r.loadState(c.Name)
	outputs := map[string]string{}
	outDirs := map[string]string{}
	var steps []Step
	for _, name := range stages.Order {
		st := built[name]
		p, err := r.planStage(ctx, &c, st, outputs, state)
		if err != nil {
			return steps, &StageError{Stage: name, Err: err}
		}
		p.Cell = cell.Key
		slog := log.With("stage", name)
		if cell.Key != "" {
			slog = slog.With("cell", cell.Key)
		}
		switch {
		case p.Status == StatusUpToDate:
			m, err := readStageManifest(p.Output)
			if err != nil {
				return steps, &StageError{Stage: name, Err: err}
			}
			outputs[name], outDirs[name] = m.OutputID, p.Output
			p.Summary = m.Summary
			slog.Info("up to date", "output", p.Output)
			steps = append(steps, p.Step)
			continue
		case p.Status == StatusNotSelected:
			// An unselected stage that is not up to date: later stages can't run on it.
			if p.inputs != nil {
				if m, err := readStageManifest(r.layout.output(name, p.Fingerprint)); err == nil {
					outputs[name], outDirs[name] = m.OutputID, r.layout.output(name, p.Fingerprint)
				}
			}
			slog.Info("not selected", "status", p.Status)
			steps = append(steps, p.Step)
			continue
		}
		if p.inputs == nil {
			return steps, &StageError{Stage: name, Err: fmt.Errorf("its inputs %v are not available: run them first (without --only)", stages.Inputs[name])}
		}
		reason := p.Status
		p.Output = r.layout.output(name, p.Fingerprint)
		slog.Info("running", "reason", reason, "fingerprint", p.Fingerprint)
		m, err := r.execute(ctx, st, p, outDirs, slog, runID, c)
		p.Seconds = round(m.Seconds, 3)
		if err != nil {
			p.Status = "failed"
			p.Error = err.Error()
			steps = append(steps, p.Step)
			slog.Error("stage failed", "err", err)
			if errors.Is(err, context.Canceled) {
				return steps, err
			}
			return steps, &StageError{Stage: name, Err: err}
		}
		p.Status = "ran"
		p.Summary = m.Summary
		outputs[name], outDirs[name] = m.OutputID, p.Output
		state.Stages[name] = stageState{Fingerprint: p.Fingerprint, ConfigHash: p.configHash, OutputID: m.OutputID}
		if err := writeJSON(r.layout.state(c.Name), state); err != nil {
			return steps, err
		}
		slog.Info("stage done", "seconds", p.Seconds, "output", p.Output)
		steps = append(steps, p.Step)
	}
	if err := r.linkRun(cellDir, outDirs); err != nil {
		return steps, err
	}
	return steps, writeCellSummary(cellDir, c.Name, steps)
}

// execute runs one stage into a staging folder and moves it into place.
func (r *Runner) execute(ctx context.Context, st stages.Stage, p stepPlan, inputs map[string]string, log *slog.Logger, runID string, cfg configs.Config) (StageManifest, error) {
	name := st.Name()
	staging := r.layout.staging(name, p.Fingerprint)
	interrupted := r.layout.interrupted(name, p.Fingerprint)
	// A staging folder present now was left by a crashed or killed run (we
	// hold the lock): it is never trusted. Train may resume from it.
	if _, err := os.Stat(staging); err == nil {
		os.RemoveAll(interrupted)
		if err := os.Rename(staging, interrupted); err != nil {
			return StageManifest{}, err
		}
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return StageManifest{}, err
	}
	env := stages.Env{
		OutDir:      staging,
		Inputs:      map[string]string{},
		PosterStore: r.layout.posters(),
		Workdir:     r.layout.root,
		Logger:      log,
		Progress:    r.opts.Progress,
		Resume:      r.opts.Resume,
	}
	for _, in := range stages.Inputs[name] {
		env.Inputs[in] = inputs[in]
	}
	if r.opts.Resume {
		if _, err := os.Stat(interrupted); err == nil {
			env.Prev = interrupted
		} else if p.prevOutput != "" {
			env.Prev = p.prevOutput
		}
	}
	m := StageManifest{
		Stage: name, Version: st.Version(), Fingerprint: p.Fingerprint,
		ConfigHash: p.configHash, Inputs: p.inputs, Config: cfg.Section(name),
		Started: r.now().UTC(), Run: runID,
	}
	res, err := runStage(ctx, st, env)
	m.Finished = r.now().UTC()
	m.Seconds = m.Finished.Sub(m.Started).Seconds()
	if err != nil {
		// Keep a failed train attempt's checkpoints for --resume; drop anything else.
		if name == stages.Train {
			os.RemoveAll(interrupted)
			os.Rename(staging, interrupted)
		} else {
			os.RemoveAll(staging)
		}
		return m, err
	}
	m.Summary = res.Summary
	m.OutputID = newID()
	if name == stages.Scrape {
		// Downstream depends on what the store holds, not on how it got
		// there: a rerun that fetched nothing new keeps the same identity.
		id, err := scrapeContentID(staging)
		if err != nil {
			os.RemoveAll(staging)
			return m, err
		}
		m.OutputID = id
	}
	if err := writeJSON(filepath.Join(staging, StageManifestFile), m); err != nil {
		os.RemoveAll(staging)
		return m, err
	}
	final := r.layout.output(name, p.Fingerprint)
	old := final + ".old-" + newID()
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return m, err
		}
	}
	if err := atomicfile.RenameDir(staging, final); err != nil {
		os.Rename(old, final)
		return m, err
	}
	os.RemoveAll(old)
	os.RemoveAll(interrupted)
	return m, nil
}

// runStage calls a stage, turning a panic into an error so one bad stage
// cannot take the run folder and lock handling down with it.
func runStage(ctx context.Context, st stages.Stage, env stages.Env) (res stages.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return st.Run(ctx, env)
}

// linkRun points the run folder at the outputs it used: the report is
// copied (small, and it must survive later reruns), the model linked.
func (r *Runner) linkRun(dir string, outDirs map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, out := range outDirs {
		link := filepath.Join(dir, name)
		os.Remove(link)
		if err := os.Symlink(out, link); err != nil {
			return err
		}
	}
	if ev, ok := outDirs[stages.Evaluate]; ok {
		if err := copyDir(ev, filepath.Join(dir, "report")); err != nil {
			return err
		}
	}
	if tr, ok := outDirs[stages.Train]; ok {
		link := filepath.Join(dir, "model")
		os.Remove(link)
		if err := os.Symlink(filepath.Join(tr, "model"), link); err != nil {
			return err
		}
	}
	return nil
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = atomicfile.WriteFrom(target, in, 0o644)
		return err
	})
}

// csvIdentity is the sha256 of the scrape stage's CSV: its real input.
func csvIdentity(ctx context.Context, cfg *configs.Config) (string, error) {
	data, err := loadCSV(ctx, cfg)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:]), nil
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
