package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/stages"
)

// execute runs one stage into a staging folder and moves it into place.
func (r *Runner) execute(ctx context.Context, p stepPlan, inputs map[string]string, log *slog.Logger, runID string, cfg configs.Config) (StageManifest, error) {
	st, name := p.stage, p.Stage
	a := attempt{
		staging:     r.layout.staging(name, p.Fingerprint),
		interrupted: r.layout.interrupted(name, p.Fingerprint),
		final:       r.layout.output(name, p.Fingerprint),
	}
	a.old = a.final + ".old-" + newID()
	m := StageManifest{
		Stage: name, Version: st.Version(), Fingerprint: p.Fingerprint,
		ConfigHash: p.configHash, Inputs: p.inputs, Config: cfg.Section(name),
		Started: r.now().UTC(), Run: runID,
	}
	if err := a.prepare(); err != nil {
		return m, err
	}
	env := r.env(p, a, inputs, log)
	env.TensorBoardDir = filepath.Join(r.layout.run(runID), "tb", cfg.Name)
	res, err := runStage(ctx, st, env)
	m.Finished = r.now().UTC()
	m.Seconds = m.Finished.Sub(m.Started).Seconds()
	if err != nil {
		k, ok := st.(stages.StagingKeeper)
		return m, errors.Join(err, a.discard(ok && k.KeepsFailedAttempt()))
	}
	m.Summary, m.Headline = res.Summary, res.Headline
	if m.Files, err = scanOutput(a.staging, volatileOf(st)); err != nil {
		return m, errors.Join(fmt.Errorf("record the output's files: %w", err), a.discard(false))
	}
	if m.OutputID, err = outputID(st, a.staging, m.Files); err != nil {
		return m, errors.Join(err, a.discard(false))
	}
	if err := writeJSON(filepath.Join(a.staging, StageManifestFile), m); err != nil {
		return m, errors.Join(err, a.discard(false))
	}
	if err := a.commit(); err != nil {
		return m, err
	}
	a.removeLeftovers(log)
	return m, nil
}

// env is what the stage gets for one attempt.
func (r *Runner) env(p stepPlan, a attempt, inputs map[string]string, log *slog.Logger) stages.Env {
	env := stages.Env{
		OutDir:      a.staging,
		Inputs:      map[string]string{},
		PosterStore: r.layout.posters(),
		Workdir:     r.layout.root,
		Logger:      log,
		Progress:    r.opts.Progress,
		Resume:      r.opts.Resume,
	}
	for _, in := range stages.Inputs[p.Stage] {
		env.Inputs[in] = inputs[in]
	}
	if r.opts.Resume {
		if _, err := os.Stat(a.interrupted); err == nil {
			env.Prev = a.interrupted
		} else if p.prevOutput != "" {
			env.Prev = p.prevOutput
		}
	}
	return env
}

// outputID identifies a completed output: as the stage says
// (stages.OutputIdentifier), else by the content of its files.
func outputID(st stages.Stage, dir string, files []OutputFile) (string, error) {
	if id, ok := st.(stages.OutputIdentifier); ok {
		return id.OutputIdentity(dir)
	}
	return contentID(files), nil
}

// currentOutputID is the identity of a completed output as it stands now:
// a stage that identifies its output by content (stages.OutputIdentifier;
// scrape, whose output includes the poster store) is asked again, since
// that content can change after the commit; any other output keeps the
// OutputID its manifest recorded.
func currentOutputID(st stages.Stage, dir string, m StageManifest) (string, error) {
	if id, ok := st.(stages.OutputIdentifier); ok {
		return id.OutputIdentity(dir)
	}
	return m.OutputID, nil
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

// attempt is the folders of one try at a stage output.
type attempt struct {
	staging     string // where the stage writes; never read by anyone else
	interrupted string // a failed or killed attempt kept for --resume
	final       string // the completed output
	old         string // where commit moves a replaced output aside
}

// prepare makes an empty staging folder. One present now was left by a
// crashed or killed run (we hold the lock): it is never trusted, only kept
// as the interrupted attempt a stage may resume from.
func (a attempt) prepare() error {
	if _, err := os.Stat(a.staging); err == nil {
		if err := a.keep(); err != nil {
			return err
		}
	}
	return os.MkdirAll(a.staging, 0o755)
}

// keep moves the staging folder to the interrupted attempt's place.
func (a attempt) keep() error {
	if err := os.RemoveAll(a.interrupted); err != nil {
		return fmt.Errorf("keep failed attempt: %w", err)
	}
	if err := os.Rename(a.staging, a.interrupted); err != nil {
		return fmt.Errorf("keep failed attempt: %w", err)
	}
	return nil
}

// discard drops a failed attempt, or keeps it for --resume.
func (a attempt) discard(keep bool) error {
	if keep {
		return a.keep()
	}
	if err := os.RemoveAll(a.staging); err != nil {
		return fmt.Errorf("remove failed attempt: %w", err)
	}
	return nil
}

// commit moves the staging folder into place. An output already there (a
// forced rerun) is moved aside first and put back if the move fails.
func (a attempt) commit() error {
	var undo rollback
	if _, err := os.Stat(a.final); err == nil {
		old := a.old
		if err := os.Rename(a.final, old); err != nil {
			return fmt.Errorf("move aside the previous output: %w", err)
		}
		undo.Append(func() error { return os.Rename(old, a.final) })
	}
	if err := atomicfile.RenameDir(a.staging, a.final); err != nil {
		return errors.Join(fmt.Errorf("move the output into place: %w", err), undo.Execute())
	}
	return nil
}

// removeLeftovers deletes what a committed attempt no longer needs. The
// output is in place, so a failure here is a warning, not a failed stage.
func (a attempt) removeLeftovers(log *slog.Logger) {
	for _, dir := range []string{a.old, a.interrupted} {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("could not remove a leftover folder", "dir", dir, "err", err)
		}
	}
}

// rollback collects the undo steps of a multi-step change so a failure
// part-way can put everything back, reporting every undo that failed too
// (Conduit's pkg/foundation/rollback).
type rollback struct{ steps []func() error }

// Append adds an undo step; Execute runs them last first.
func (r *rollback) Append(f func() error) { r.steps = append(r.steps, f) }

// Execute undoes in reverse order and returns every error.
func (r *rollback) Execute() error {
	var errs []error
	for i := len(r.steps) - 1; i >= 0; i-- {
		if err := r.steps[i](); err != nil {
			errs = append(errs, fmt.Errorf("undo: %w", err))
		}
	}
	r.steps = nil
	return errors.Join(errs...)
}
