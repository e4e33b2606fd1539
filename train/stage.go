package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// VolatileFiles are the epoch history files (an ensemble's members' too):
// besides the losses and metrics (which the checkpoints determine) they
// hold each epoch's seconds and images per second, which differ between
// two identical trainings and must not make evaluate rerun.
func (*Stage) VolatileFiles() []string {
	return []string{HistoryFile, HistoryCSV, MembersDir + "/*/" + HistoryFile, MembersDir + "/*/" + HistoryCSV}
}

// Name is stages.Train.
func (*Stage) Name() string { return stages.Train }

// Version is bumped when the output for the same config and inputs changes.
// 2: the model folder holds the calibrated poster detector.
func (*Stage) Version() string { return "2" }

// KeepsFailedAttempt is true: a failed or interrupted attempt's checkpoints
// are what --resume continues from (env.Prev).
var _ stages.Resumer = (*Stage)(nil)

func (*Stage) KeepsFailedAttempt() bool { return true }

// ResumePoint reads the last checkpoint of the attempt in prev (of an
// ensemble, of its last member that has one).
func (s *Stage) ResumePoint(prev string) (string, error) {
	if s.Cfg.Ensemble > 1 {
		return ensembleResumePoint(prev, s.Cfg.Ensemble)
	}
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
// env.Inputs[stages.Encode] (with cfg.Ensemble > 1, a seed ensemble:
// members.go), then calibrates the model's poster detector.
func Run(ctx context.Context, cfg Config, env stages.Env) (stages.Result, error) {
	res, kept, err := trainModel(ctx, cfg, env)
	if err != nil || !kept {
		return res, err
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	det, err := Calibrate(ctx, filepath.Join(env.OutDir, ModelDir), env.Inputs[stages.Encode], log)
	switch {
	case errors.Is(err, ErrTooFewPosters):
		// The model stays usable; predict and serve say it has no detector.
		log.Warn("no poster detector", "error", err)
	case err != nil:
		return stages.Result{}, fmt.Errorf("train: %w", err)
	default:
		res.Summary["poster_detector_validation_pass"] = det.ValidationPass
	}
	return res, nil
}

// trainModel trains the model (or the ensemble) and reports whether its
// model folder holds one: whether an epoch was kept.
func trainModel(ctx context.Context, cfg Config, env stages.Env) (stages.Result, bool, error) {
	if cfg.Ensemble > 1 {
		res, err := runEnsemble(ctx, cfg, env)
		return res, err == nil, err
	}
	t, err := newTrainer(ctx, cfg, env)
	if err != nil {
		return stages.Result{}, false, err
	}
	defer t.close()
	if err := t.loop(ctx); err != nil {
		return stages.Result{}, false, err
	}
	return t.summary(), t.state.BestEpoch > 0, nil
}
