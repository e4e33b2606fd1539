package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/stages"
)

// cellRun is the state of one config (one grid cell) while its stages run.
type cellRun struct {
	cell    configs.Cell
	built   map[string]stages.Stage
	state   configState
	outputs map[string]string // stage → OutputID of the output used
	outDirs map[string]string // stage → output folder used
	damaged []string          // unselected outputs not used because damaged: why
	log     *slog.Logger
	runID   string
}

// runCell runs the five stages of one config (one grid cell).
func (r *Runner) runCell(ctx context.Context, cell configs.Cell, cellDir string, log *slog.Logger, runID string) ([]Step, error) {
	built, err := r.build(cell.Config)
	if err != nil {
		return nil, err
	}
	state, err := r.loadState(cell.Config.Name, true)
	if err != nil {
		return nil, err
	}
	c := &cellRun{cell: cell, built: built, state: state, outputs: map[string]string{}, outDirs: map[string]string{}, log: log, runID: runID}
	var steps []Step
	for _, name := range stages.Order {
		step, err := r.runStep(ctx, c, built[name])
		if step != nil {
			steps = append(steps, *step)
		}
		if err != nil {
			return steps, err
		}
	}
	if count(steps, StatusRan) == 0 {
		// Nothing ran: the record (run.json) lists the outputs used, and
		// the run folder of the run that made them holds their files. A
		// cron run that finds everything up to date needs no space.
		return steps, nil
	}
	if err := linkRun(cellDir, c.outDirs, built); err != nil {
		return steps, err
	}
	return steps, writeCellSummary(cellDir, cell.Config.Name, steps)
}

// runStep plans one stage and then uses its output, skips it or runs it.
// The step is nil when the stage could not even be planned.
func (r *Runner) runStep(ctx context.Context, c *cellRun, st stages.Stage) (*Step, error) {
	name := st.Name()
	p, err := r.planStage(ctx, &c.cell.Config, st, c.outputs, c.state)
	if err != nil {
		return nil, &StageError{Stage: name, Err: err}
	}
	p.Cell = c.cell.Key
	log := c.log.With("stage", name)
	if c.cell.Key != "" {
		log = log.With("cell", c.cell.Key)
	}
	switch {
	case p.Status == StatusUpToDate:
		return r.useExisting(c, p, log)
	case p.Status == StatusNotSelected:
		// An unselected stage that is not up to date: later stages can't
		// run on it, nor on a damaged output.
		if p.Reason != "" {
			log.Warn("output damaged, and not selected: not used", "detail", p.Reason)
			c.damaged = append(c.damaged, name+" output damaged: "+p.Reason)
		} else if p.inputs != nil {
			out := r.layout.output(name, p.Fingerprint)
			if m, err := readStageManifest(out); err == nil {
				// What the output holds now, not what it held when it
				// committed: posters deleted since change scrape's.
				id, err := currentOutputID(st, out, m)
				if err != nil {
					return &p.Step, &StageError{Stage: name, Err: err}
				}
				c.outputs[name], c.outDirs[name] = id, out
			}
		}
		log.Info("not selected", "status", p.Status)
		return &p.Step, nil
	case p.inputs == nil:
		err := fmt.Errorf("its inputs %v are not available: run them first (without --only/--from)", stages.Inputs[name])
		if len(c.damaged) > 0 {
			err = fmt.Errorf("%w; %s", err, strings.Join(c.damaged, "; "))
		}
		return nil, &StageError{Stage: name, Err: err}
	}
	return r.buildLocked(ctx, c, p, log)
}

// buildLocked runs a due stage under its output's build lock. Another
// process building the same output (another cell of the grid, another
// config sharing the stage) is waited for; when it has committed the
// output meanwhile, that output is used instead of building it again
// (unless this run forces the stage).
func (r *Runner) buildLocked(ctx context.Context, c *cellRun, p stepPlan, log *slog.Logger) (step *Step, err error) {
	name := p.Stage
	lock, err := waitLock(ctx, r.layout.buildLock(name, p.Fingerprint), "build "+name+" "+p.Fingerprint, r.opts.Lease, func(holder string) {
		log.Info("waiting for another process building this output", "fingerprint", p.Fingerprint, "holder", holder)
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &p.Step, err
		}
		return &p.Step, &StageError{Stage: name, Err: err}
	}
	logTakeOver(log, lock)
	defer func() {
		if rerr := lock.Release(); rerr != nil {
			log.Warn("could not release a build lock", "err", rerr)
		}
	}()
	if w, ok := p.stage.(stages.PosterStoreWriter); ok && w.WritesPosterStore() {
		store, err := r.waitNamed(ctx, "poster-store", "write the poster store", log)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return &p.Step, err
			}
			return &p.Step, &StageError{Stage: name, Err: err}
		}
		defer store.Release()
	}
	if p.Status != StatusForced {
		status, err := r.outputStatus(&p, c.state)
		if err != nil {
			return &p.Step, &StageError{Stage: name, Err: err}
		}
		if status == StatusUpToDate {
			p.Status = status
			return r.useExisting(c, p, log.With("built_by", "another process, while this one waited"))
		}
	}
	return r.runPlanned(ctx, c, p, log)
}

// waitNamed takes a lock shared by every config (locks/<name>.lock),
// waiting for its holder.
func (r *Runner) waitNamed(ctx context.Context, name, purpose string, log *slog.Logger) (*Lock, error) {
	l, err := waitLock(ctx, r.layout.namedLock(name), purpose, r.opts.Lease, func(holder string) {
		log.Info("waiting for another process to "+purpose, "holder", holder)
	})
	if err == nil {
		logTakeOver(log, l)
	}
	return l, err
}

// useExisting uses a stage's completed, up-to-date output.
func (r *Runner) useExisting(c *cellRun, p stepPlan, log *slog.Logger) (*Step, error) {
	m, err := readStageManifest(p.dir)
	if err == nil {
		m.OutputID, err = currentOutputID(p.stage, p.dir, m)
	}
	if err != nil {
		return &p.Step, &StageError{Stage: p.Stage, Err: err}
	}
	c.use(&p, m)
	log.Info("up to date", "output", p.Output)
	// The state says what the config last used; a state rebuilt after
	// damage (or from before this output) learns it here.
	if old := c.state.Stages[p.Stage]; old.Fingerprint != p.Fingerprint || old.ConfigHash != p.configHash || old.OutputID != m.OutputID {
		c.state.Stages[p.Stage] = stageState{Fingerprint: p.Fingerprint, ConfigHash: p.configHash, OutputID: m.OutputID}
		if err := r.saveState(c.cell.Config.Name, c.state); err != nil {
			return &p.Step, err
		}
	}
	return &p.Step, nil
}

// runPlanned runs a stage that is due and records its output as the
// config's latest for that stage.
func (r *Runner) runPlanned(ctx context.Context, c *cellRun, p stepPlan, log *slog.Logger) (*Step, error) {
	name := p.Stage
	p.setOutput(r.layout, r.layout.output(name, p.Fingerprint))
	if p.Reason != "" {
		log.Warn("output damaged: rebuilding it", "detail", p.Reason)
	}
	log.Info("running", "reason", p.Status, "fingerprint", p.Fingerprint)
	m, err := r.execute(ctx, p, c.outDirs, log, c.runID, c.cell.Config)
	p.Seconds = round(m.Seconds, 3)
	if err != nil {
		if errors.Is(err, context.Canceled) && err.Error() == context.Canceled.Error() {
			// A bare "context canceled" says nothing: name the stage it stopped.
			err = fmt.Errorf("%s interrupted: %w", name, err)
		}
		p.Status = StatusFailed
		p.Error = CapText(err.Error())
		log.Error("stage failed", "err", p.Error)
		if errors.Is(err, context.Canceled) {
			return &p.Step, err
		}
		return &p.Step, &StageError{Stage: name, Err: err}
	}
	p.Status = StatusRan
	c.use(&p, m)
	c.state.Stages[name] = stageState{Fingerprint: p.Fingerprint, ConfigHash: p.configHash, OutputID: m.OutputID, Params: p.params}
	if err := r.saveState(c.cell.Config.Name, c.state); err != nil {
		return &p.Step, err
	}
	log.Info("stage done", "seconds", p.Seconds, "output", p.Output)
	return &p.Step, nil
}

// use makes a completed output the one later stages read, and copies what
// the run summary shows from its manifest into the step.
func (c *cellRun) use(p *stepPlan, m StageManifest) {
	c.outputs[p.Stage], c.outDirs[p.Stage] = m.OutputID, p.dir
	p.Summary, p.Headline = m.Summary, m.Headline
	if a, ok := p.stage.(stages.RowAccounter); ok {
		p.RowCountKeys = a.RowCountKeys()
	}
}
