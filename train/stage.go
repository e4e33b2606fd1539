package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/stages"
)

// Stage is the train stage: it reads the encode output, trains the network
// and writes model/, checkpoints/ and the history into env.OutDir.
//
// With env.Resume it continues from the last checkpoint in
// filepath.Join(env.Prev, "checkpoints") (the interrupted attempt's output
// folder), bringing that attempt's best model and history along; without a
// checkpoint there it starts over.
type Stage struct {
	Cfg Config
}

var (
	_ stages.Stage         = (*Stage)(nil)
	_ stages.StagingKeeper = (*Stage)(nil)
	_ stages.RunLinker     = (*Stage)(nil)
	_ stages.VolatileFiler = (*Stage)(nil)
)

// VolatileFiles are the epoch history files: besides the losses and
// metrics (which the checkpoints determine) they hold each epoch's
// seconds and images per second, which differ between two identical
// trainings and must not make evaluate rerun.
func (*Stage) VolatileFiles() []string { return []string{HistoryFile, HistoryCSV} }

// Name is stages.Train.
func (*Stage) Name() string { return stages.Train }

// Version is bumped when the output for the same config and inputs changes.
// 2: the model folder holds the calibrated poster detector.
func (*Stage) Version() string { return "2" }

// KeepsFailedAttempt is true: a failed or interrupted attempt's checkpoints
// are what --resume continues from (env.Prev).
var _ stages.Resumer = (*Stage)(nil)

func (*Stage) KeepsFailedAttempt() bool { return true }

// ResumePoint reads the last checkpoint of the attempt in prev.
func (*Stage) ResumePoint(prev string) (string, error) {
	st, err := readLatest(filepath.Join(prev, CheckpointDir))
	if errors.Is(err, os.ErrNotExist) {
		return "", errors.New("the previous attempt has no checkpoint")
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("the checkpoint of epoch %d", st.Epoch), nil
}

// RunLinks links the trained model into the run folder as <run>/model.
func (*Stage) RunLinks() []stages.RunLink {
	return []stages.RunLink{{Name: "model", Path: ModelDir}}
}

// Run trains.
func (s *Stage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	return Run(ctx, s.Cfg, env)
}

// Run trains a network as cfg says on the encode output in
// env.Inputs[stages.Encode].
func Run(ctx context.Context, cfg Config, env stages.Env) (stages.Result, error) {
	t, err := newTrainer(ctx, cfg, env)
	if err != nil {
		return stages.Result{}, err
	}
	defer t.close()
	if err := t.loop(ctx); err != nil {
		return stages.Result{}, err
	}
	res := t.summary()
	if t.state.BestEpoch > 0 {
		det, err := Calibrate(ctx, filepath.Join(env.OutDir, ModelDir), env.Inputs[stages.Encode], t.log)
		switch {
		case errors.Is(err, ErrTooFewPosters):
			// The model stays usable; predict and serve say it has no detector.
			t.log.Warn("no poster detector", "error", err)
		case err != nil:
			return stages.Result{}, fmt.Errorf("train: %w", err)
		default:
			res.Summary["poster_detector_validation_pass"] = det.ValidationPass
		}
	}
	return res, nil
}
