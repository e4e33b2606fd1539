package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// SubmitLock is the lock one submission of a config holds while its cells
// run elsewhere: a second submission of the same config exits 3.
func (l layout) submitLock(config string) string {
	return filepath.Join(l.root, "locks", "submit-"+config+".lock")
}

// Submit prepares cfg's run for an executor: takes the config's submission
// lock, runs Options.Setup, creates the run folder and builds, for every
// cell, the stages before train (scrape, clean, and encode once per image
// size): the outputs the cells share are built once, here, and no cell
// waits on a cluster slot for another to build them. The cells' own
// processes find them up to date.
func (r *Runner) Submit(ctx context.Context, cfg *configs.Loaded) (sub *Submitted, err error) {
	if err := r.ensureDirs(); err != nil {
		return nil, err
	}
	path := r.layout.submitLock(cfg.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	lock, err := AcquireLock(path)
	if err != nil {
		return nil, err
	}
	cleanup := func() {}
	sub = &Submitted{done: func() error { cleanup(); return lock.Release() }}
	defer func() {
		if err != nil {
			err = errors.Join(err, sub.done())
		}
	}()
	if r.opts.Setup != nil {
		if cleanup, err = r.opts.Setup(ctx); err != nil {
			return nil, err
		}
	}
	if sub.ID, err = r.createRunFolder(cfg); err != nil {
		return nil, err
	}
	sub.Dir = r.layout.run(sub.ID)
	log := r.log.With("run", sub.ID)
	before := indexOf(stages.Order, stages.Train)
	for _, cell := range cfg.Cells() {
		built, err := r.build(cell.Config)
		if err != nil {
			return nil, err
		}
		state, err := r.loadState(cell.Config.Name)
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

// createRunFolder makes runs/<id> (Mkdir: never shared with another run
// started in the same second) with the resolved config.
func (r *Runner) createRunFolder(cfg *configs.Loaded) (string, error) {
	for {
		id := r.now().UTC().Format("20060102T150405Z") + "-" + newID()
		dir := r.layout.run(id)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("run folder: %w", err)
		}
		return id, atomicfile.WriteFile(filepath.Join(dir, "config.yaml"), cfg.YAML(), 0o644)
	}
}
