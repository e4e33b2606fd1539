// Package evaluate is the last stage: it scores the validation and test
// splits with the trained model and writes the report (report.json,
// report.md, report.html, examples.md, plots, predictions.parquet) into its output folder. The metrics,
// baselines and report live in the pure-Go subpackages metrics, report and
// scoring; this file only wires them to the model (TensorFlow).
package evaluate

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate/report"
	"github.com/postergenre/postergenre/evaluate/scoring"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
)

// Stage evaluates a trained model.
type Stage struct{ Cfg Config }

var (
	_ stages.Stage     = (*Stage)(nil)
	_ stages.RunLinker = (*Stage)(nil)
)

// Name implements stages.Stage.
func (s *Stage) Name() string { return stages.Evaluate }

// Version implements stages.Stage.
// Version 2: example titles no longer repeat the year.
// Version 3: the stage manifest carries the typed headline (Result.Headline);
// report.html, predictions.parquet and three more plots.
// Version 4: report.html's gallery shows Grad-CAM heatmaps.
func (s *Stage) Version() string { return "4" }

// RunLinks copies the report into the run folder as <run>/report: it must
// survive later reruns that replace this output.
func (s *Stage) RunLinks() []stages.RunLink {
	return []stages.RunLink{{Name: "report", Copy: true}}
}

// predictBatch is the number of images per Predict call.
const predictBatch = 64

// Run implements stages.Stage.
func (s *Stage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	encDir, trDir := env.Inputs[stages.Encode], env.Inputs[stages.Train]
	if encDir == "" || trDir == "" {
		return stages.Result{}, fmt.Errorf("evaluate: inputs %v lack encode or train", env.Inputs)
	}
	man, err := encode.ReadManifest(encDir)
	if err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: encode output: %w", err)
	}
	hist, err := train.ReadHistory(trDir)
	if err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: training history: %w", err)
	}
	model, err := train.LoadModel(filepath.Join(trDir, train.ModelDir))
	if err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: %w", err)
	}
	defer model.Close()
	meta := model.Meta()
	if !slices.Equal(meta.Genres, man.Genres) {
		return stages.Result{}, fmt.Errorf("evaluate: model genres %v differ from the encode manifest's %v", meta.Genres, man.Genres)
	}
	if meta.Height != man.Height || meta.Width != man.Width {
		return stages.Result{}, fmt.Errorf("evaluate: model input %d×%d, shards %d×%d", meta.Width, meta.Height, man.Width, man.Height)
	}

	log := env.Logger
	if log != nil {
		log.Info("scoring", "validation", man.Splits[encode.SplitValidation], "test", man.Splits[encode.SplitTest])
	}
	task := stages.StartTask(env.Progress, "evaluate", int64(man.Splits[encode.SplitValidation]+man.Splits[encode.SplitTest]))
	sc, err := scoring.Score(ctx, encDir, man, countingPredictor{model, task}, scoring.Options{BatchSize: predictBatch, Examples: s.Cfg.Examples, Seed: s.Cfg.Seed})
	task.Done()
	if err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: %w", err)
	}

	rep, err := report.Build(Input(s.Cfg, man.Genres, sc, man.Splits, man.GenreCounts, ModelInfo(meta), History(hist)))
	if err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: %w", err)
	}
	heatmaps, err := GalleryHeatmaps(ctx, encDir, man, model, rep)
	if err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: gallery heatmaps: %w", err)
	}
	if err := report.Write(env.OutDir, rep, report.WriteOptions{Plots: s.Cfg.Plots, Thumbnails: true, HTML: true,
		Posters: PosterReader(env.PosterStore), Heatmaps: heatmaps}); err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: %w", err)
	}
	if err := WritePredictions(env.OutDir, man.Genres, PredictionRows(sc)); err != nil {
		return stages.Result{}, fmt.Errorf("evaluate: %w", err)
	}
	headline := Headline(rep)
	sum := Summary(rep, headline)
	for k, v := range sc.Skipped {
		sum["skipped_"+k] = v
	}
	if log != nil {
		log.Info("evaluated", "test_rows", sum["test_rows"], "paper_accuracy", sum["paper_accuracy"], "baseline", sum["paper_accuracy_baseline"])
	}
	return stages.Result{Summary: sum, Headline: headline}, nil
}

// ModelInfo copies the provenance of model.json into the report.
func ModelInfo(m train.Meta) report.ModelInfo {
	return report.ModelInfo{Loss: m.Loss, Height: m.Height, Width: m.Width, BestEpoch: m.BestEpoch, Threshold: m.Threshold,
		ConfigSHA256: m.ConfigSHA256, ManifestSHA256: m.ManifestSHA256, TFVersion: m.TFVersion, Device: m.Device}
}

// History converts the training history for the report.
func History(h []train.EpochStats) []report.Epoch {
	out := make([]report.Epoch, len(h))
	for i, e := range h {
		out[i] = report.Epoch{Epoch: e.Epoch, LearningRate: e.LearningRate, TrainLoss: report.Num(e.TrainLoss),
			TrainPaperAcc: report.Num(e.TrainPaperAcc), ValLoss: report.Num(e.ValLoss), ValPaperAcc: report.Num(e.ValPaperAcc),
			ValTop3Hit: report.Num(e.ValTop3Hit), ValMacroAUC: report.Num(e.ValMacroAUC), Seconds: e.Seconds, Best: e.Best}
	}
	return out
}

// countingPredictor counts the images scored on the progress display.
type countingPredictor struct {
	scoring.Predictor
	task stages.Task
}

func (c countingPredictor) Predict(pixels []byte, n int) ([][]float32, error) {
	defer c.task.Add(int64(n))
	return c.Predictor.Predict(pixels, n)
}
