package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/stages"
)

// Training a seed ensemble: the members train one after another, member i
// with seed Seed+i, each in MembersDir/member-i as a single model trains in
// the output folder (its checkpoints, history and model folder, so
// --resume continues each where it stopped; its logs carry member= and
// seed=, its progress tasks and TensorBoard folder its name). Early
// stopping and the kept epoch are each member's own, on validation. Then
// the ensemble's model folder is assembled: the members' model folders
// copied in, and model.json (format 2) with the members and a threshold
// tuned on their mean validation probabilities.

// trainedMember is what the ensemble keeps of a trained member.
type trainedMember struct {
	rec           Member
	meta          Meta // its model.json
	summary       stages.Result
	steps         int64
	probs, labels []float32 // the kept epoch's validation probabilities and labels
}

// runEnsemble trains cfg.Ensemble members and assembles their ensemble.
func runEnsemble(ctx context.Context, cfg Config, env stages.Env) (stages.Result, error) {
	share := &backboneShare{}
	var ms []trainedMember
	for i := range cfg.Ensemble {
		tm, err := trainMember(ctx, cfg, env, i, share)
		if err != nil {
			return stages.Result{}, fmt.Errorf("ensemble member %d of %d: %w", i+1, cfg.Ensemble, err)
		}
		ms = append(ms, tm)
	}
	meta, vm, err := writeEnsemble(cfg, env, ms)
	if err != nil {
		return stages.Result{}, err
	}
	if env.Logger != nil {
		env.Logger.Info("ensemble", "members", len(ms), "val_paper_accuracy", round4(metrics.Num(vm.PaperAcc)),
			"val_macro_auc", round4(metrics.Num(vm.MacroAUC)), "threshold", meta.Threshold)
	}
	return ensembleSummary(ms, meta, vm), nil
}

// memberEnv is env for member i: its own output folder, previous attempt,
// TensorBoard folder and logger.
func memberEnv(env stages.Env, i int, seed int64) stages.Env {
	name := memberName(i)
	menv := env
	menv.OutDir = filepath.Join(env.OutDir, MembersDir, name)
	if env.Prev != "" {
		menv.Prev = filepath.Join(env.Prev, MembersDir, name)
	}
	if env.TensorBoardDir != "" {
		menv.TensorBoardDir = filepath.Join(env.TensorBoardDir, name)
	}
	if env.Logger != nil {
		menv.Logger = env.Logger.With("member", i+1, "seed", seed)
	}
	return menv
}

// trainMember trains member i (0-based) of cfg's ensemble.
func trainMember(ctx context.Context, cfg Config, env stages.Env, i int, share *backboneShare) (trainedMember, error) {
	mcfg := cfg
	mcfg.Seed, mcfg.Ensemble = memberSeed(cfg.Seed, i), 1
	menv := memberEnv(env, i, mcfg.Seed)
	t, err := openTrainer(ctx, mcfg, menv, memberRole{label: fmt.Sprintf("member %d/%d ", i+1, cfg.Ensemble), share: share})
	if err != nil {
		return trainedMember{}, err
	}
	defer t.close()
	if err := t.loop(ctx); err != nil {
		return trainedMember{}, err
	}
	if t.state.BestEpoch == 0 {
		return trainedMember{}, errors.New("no epoch was kept: the selection metric was never defined on validation")
	}
	probs, labels, err := t.bestValidation(ctx)
	if err != nil {
		return trainedMember{}, err
	}
	meta, err := readMeta(filepath.Join(menv.OutDir, ModelDir))
	if err != nil {
		return trainedMember{}, fmt.Errorf("train: %w", err)
	}
	h, _ := t.bestStats()
	rec := Member{Seed: mcfg.Seed, Dir: memberName(i), BestEpoch: meta.BestEpoch, Threshold: meta.Threshold,
		ValLoss: h.ValLoss, ValPaperAcc: h.ValPaperAcc, ValTop3Hit: h.ValTop3Hit, ValMacroAUC: h.ValMacroAUC}
	return trainedMember{rec: rec, meta: meta, summary: t.summary(), steps: t.state.Step, probs: probs, labels: labels}, nil
}

// bestValidation returns the kept epoch's validation probabilities and
// labels: those the loop kept, or, when the kept epoch is from before a
// resume, the kept model's, restored and scored again.
func (t *trainer) bestValidation(ctx context.Context) (probs, labels []float32, err error) {
	if t.bestProbs != nil || t.ds.count(encode.SplitValidation) == 0 {
		return t.bestProbs, t.bestLabels, nil
	}
	dir := filepath.Join(t.env.OutDir, ModelDir)
	meta, err := readMeta(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	if err := t.runWithPrefix(t.net.restoreModel, filepath.Join(dir, meta.CheckpointPrefix)); err != nil {
		return nil, nil, fmt.Errorf("train: restore the kept model: %w", err)
	}
	probs, labels, _, err = t.evaluate(ctx, encode.SplitValidation)
	return probs, labels, err
}

// writeEnsemble copies the members' model folders into the ensemble's,
// member 1's history to the output folder (evaluate's report reads it),
// and writes model.json last.
func writeEnsemble(cfg Config, env stages.Env, ms []trainedMember) (Meta, valMetrics, error) {
	dir := filepath.Join(env.OutDir, ModelDir)
	var parts [][]float32
	var recs []Member
	for _, tm := range ms {
		if err := copyDir(filepath.Join(env.OutDir, MembersDir, tm.rec.Dir, ModelDir), filepath.Join(dir, tm.rec.Dir)); err != nil {
			return Meta{}, valMetrics{}, fmt.Errorf("train: ensemble: %w", err)
		}
		if len(tm.probs) != len(ms[0].probs) {
			return Meta{}, valMetrics{}, fmt.Errorf("train: ensemble: member %s scored %d validation values, member 1 %d", tm.rec.Dir, len(tm.probs), len(ms[0].probs))
		}
		parts, recs = append(parts, tm.probs), append(recs, tm.rec)
	}
	for _, f := range []string{HistoryFile, HistoryCSV} {
		if err := atomicfile.CopyFile(filepath.Join(env.OutDir, f), filepath.Join(env.OutDir, MembersDir, ms[0].rec.Dir, f)); err != nil && !os.IsNotExist(err) {
			return Meta{}, valMetrics{}, fmt.Errorf("train: ensemble: %w", err)
		}
	}
	m := ms[0].meta
	vm := validationMetrics(mean32(parts), ms[0].labels, len(m.Genres))
	m.Format, m.Members, m.CheckpointPrefix = 2, recs, ""
	m.Threshold, m.ConfigSHA256 = vm.Threshold, configSHA256(cfg)
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Meta{}, valMetrics{}, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, MetaFile), append(raw, '\n'), 0o644); err != nil {
		return Meta{}, valMetrics{}, fmt.Errorf("train: %w", err)
	}
	return m, vm, nil
}

// ensembleSummary is member 1's summary (its epochs, early stopping and
// kept epoch) with the ensemble's threshold and validation metrics (no
// val_loss: the mean's loss is not computed), every member's kept epoch
// and the steps of all.
func ensembleSummary(ms []trainedMember, meta Meta, vm valMetrics) stages.Result {
	res := ms[0].summary
	s := res.Summary
	var steps int64
	var best []int
	for _, tm := range ms {
		steps += tm.steps
		best = append(best, tm.rec.BestEpoch)
	}
	s["ensemble"], s["member_best_epochs"], s["steps"] = len(ms), best, steps
	s["threshold"], s["config_sha"] = meta.Threshold, meta.ConfigSHA256
	s["val_paper_accuracy"] = summaryValue(metrics.Num(vm.PaperAcc))
	s["val_macro_auc"] = summaryValue(metrics.Num(vm.MacroAUC))
	s["val_top3_hit"] = summaryValue(metrics.Num(vm.TopKHit))
	s["val_loss"] = nil
	return res
}

// ensembleResumePoint names the checkpoint a resumed ensemble of n members
// continues from: that of the last member with one (the members before it
// are complete).
func ensembleResumePoint(prev string, n int) (string, error) {
	for i := n - 1; i >= 0; i-- {
		st, err := readLatest(filepath.Join(prev, MembersDir, memberName(i), CheckpointDir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("member %d's checkpoint of epoch %d", i+1, st.Epoch), nil
	}
	return "", errors.New("the previous attempt has no checkpoint")
}
