package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/stages"
)

// Submitted is a run whose cells execute in other processes (an executor:
// Slurm): this process holds the config's submission lock, has built the
// outputs every cell shares and made the run folder the cells attach to
// (Options.RunID), and collects them at the end (CollectRun).
type Submitted struct {
	ID    string
	Dir   string
	Steps []Step // the shared stages, as this process found or built them
	done  func() error
}

// Release drops the submission lock and stops what Options.Setup started.
func (s *Submitted) Release() error { return s.done() }

// Submit prepares cfg's run for an executor: takes the config's submission
// lock (a second submission of the same config is refused with a
// *LockError, as is one while a local run of it holds its cells' locks),
// runs Options.Setup, creates the run folder and builds, for every
// cell, the stages before train (scrape, clean, and encode once per image
// size): the outputs the cells share are built once, here, and no cell
// waits on a cluster slot for another to build them. The cells' own
// processes find them up to date.
func (r *Runner) Submit(ctx context.Context, cfg *configs.Loaded) (sub *Submitted, err error) {
	if err := r.ensureDirs(); err != nil {
		return nil, err
	}
	lock, err := tryLock(r.layout.namedLock("submit-"+cfg.Name), "submission of "+cfg.Name, r.opts.Lease)
	if err != nil {
		return nil, err
	}
	logTakeOver(r.log, lock)
	cleanup := func() {}
	sub = &Submitted{done: func() error { cleanup(); return lock.Release() }}
	defer func() {
		if err != nil {
			err = errors.Join(err, sub.done())
		}
	}()
	// A local run of the config holds its cells' locks: the cells' tasks
	// would be refused one by one; refuse the submission instead.
	release, err := r.lockCells(cfg, cfg.Cells())
	if err != nil {
		return nil, err
	}
	if err := release(); err != nil {
		return nil, err
	}
	if r.opts.Setup != nil {
		if cleanup, err = r.setup(ctx); err != nil {
			return nil, err
		}
	}
	if sub.ID, err = r.newRunFolder(); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(r.layout.run(sub.ID), "config.yaml"), cfg.YAML(), 0o644); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	sub.Dir = r.layout.run(sub.ID)
	log := r.log.With("run", sub.ID)
	before := indexOf(stages.Order, stages.Train)
	for _, cell := range cfg.Cells() {
		built, err := r.build(cell.Config)
		if err != nil {
			return nil, err
		}
		state, err := r.loadState(cell.Config.Name, true)
		if err != nil {
			return nil, err
		}
		c := &cellRun{cell: cell, built: built, state: state, outputs: map[string]string{}, outDirs: map[string]string{}, log: log, runID: sub.ID}
		for _, name := range stages.Order[:before] {
			step, err := r.runStep(ctx, c, built[name])
			if step != nil {
				sub.Steps = append(sub.Steps, *step)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return sub, nil
}

// Record puts the shared stages this process ran into the collected run
// record — in the cells whose own processes then found them up to date —
// so run.json and history count them as a local run of the grid does, and
// rewrites run.json.
func (s *Submitted) Record(rec *RunRecord) error {
	for _, st := range s.Steps {
		if st.Status != StatusRan {
			continue
		}
		for i := range rec.Steps {
			r := &rec.Steps[i]
			if r.Cell == st.Cell && r.Stage == st.Stage && r.Fingerprint == st.Fingerprint && r.Status == StatusUpToDate {
				*r = st
				break
			}
		}
	}
	return writeJSON(filepath.Join(s.Dir, RunFile), rec)
}
