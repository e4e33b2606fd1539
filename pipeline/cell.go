package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	log     *slog.Logger
	runID   string
}

// runCell runs the five stages of one config (one grid cell).
func (r *Runner) runCell(ctx context.Context, cell configs.Cell, cellDir string, log *slog.Logger, runID string) ([]Step, error) {
	built, err := r.build(cell.Config)
	if err != nil {
		return nil, err
	}
	state, err := r.loadState(cell.Config.Name)
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
	if count(steps, "ran") == 0 {
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
		m, err := readStageManifest(p.Output)
		if err == nil {
			m.OutputID, err = currentOutputID(st, p.Output, m)
		}
		if err != nil {
			return &p.Step, &StageError{Stage: name, Err: err}
		}
		c.use(&p, m)
		log.Info("up to date", "output", p.Output)
		return &p.Step, nil
	case p.Status == StatusNotSelected:
		// An unselected stage that is not up to date: later stages can't run on it.
		if p.inputs != nil {
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
		return nil, &StageError{Stage: name, Err: fmt.Errorf("its inputs %v are not available: run them first (without --only)", stages.Inputs[name])}
	}
	return r.runPlanned(ctx, c, p, log)
}

// runPlanned runs a stage that is due and records its output as the
// config's latest for that stage.
func (r *Runner) runPlanned(ctx context.Context, c *cellRun, p stepPlan, log *slog.Logger) (*Step, error) {
	name := p.Stage
	p.Output = r.layout.output(name, p.Fingerprint)
	log.Info("running", "reason", p.Status, "fingerprint", p.Fingerprint)
	m, err := r.execute(ctx, p, c.outDirs, log, c.runID, c.cell.Config)
	p.Seconds = round(m.Seconds, 3)
	if err != nil {
		p.Status = "failed"
		p.Error = CapText(err.Error())
		log.Error("stage failed", "err", p.Error)
		if errors.Is(err, context.Canceled) {
			return &p.Step, err
		}
		return &p.Step, &StageError{Stage: name, Err: err}
	}
	p.Status = "ran"
	c.use(&p, m)
	c.state.Stages[name] = stageState{Fingerprint: p.Fingerprint, ConfigHash: p.configHash, OutputID: m.OutputID, Params: p.params}
	if err := writeJSON(r.layout.state(c.cell.Config.Name), c.state); err != nil {
		return &p.Step, fmt.Errorf("pipeline: state of %s: %w", c.cell.Config.Name, err)
	}
	log.Info("stage done", "seconds", p.Seconds, "output", p.Output)
	return &p.Step, nil
}

// use makes a completed output the one later stages read, and copies what
// the run summary shows from its manifest into the step.
func (c *cellRun) use(p *stepPlan, m StageManifest) {
	c.outputs[p.Stage], c.outDirs[p.Stage] = m.OutputID, p.Output
	p.Summary, p.Headline = m.Summary, m.Headline
	if a, ok := p.stage.(stages.RowAccounter); ok {
		p.RowCountKeys = a.RowCountKeys()
	}
}
