package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
)

// Card is the model card: what the model is, what it was trained on and how
// it scored on the test split (evaluate's headline, with 95% intervals and
// the baseline). /api/model answers it and the page shows it.
type Card struct {
	// ID is the first 12 hex digits of the SHA-256 of model.json and the
	// checkpoint files: two servers answer the same ID iff they load the
	// same weights.
	ID        string   `json:"id"`
	Config    string   `json:"config,omitempty"` // the config name of the run that trained it
	Run       string   `json:"run,omitempty"`
	Alias     string   `json:"alias,omitempty"`   // the tag it was served by (pipeline tag), e.g. champion
	Trained   string   `json:"trained,omitempty"` // RFC 3339, when training finished
	Genres    []string `json:"genres"`
	Loss      string   `json:"loss"`
	Threshold float64  `json:"threshold"`
	// Decision says in words which genres the API lists as predicted.
	Decision  string   `json:"decision"`
	Input     string   `json:"input"` // e.g. "73×107, stretch, catmull-rom, standardized"
	BestEpoch int      `json:"best_epoch"`
	TFVersion string   `json:"tf_version,omitempty"`
	Device    string   `json:"device,omitempty"`
	Data      CardData `json:"data"`
	Metrics   []Metric `json:"metrics,omitempty"` // evaluate's headline on test; empty when no report was found
	Report    string   `json:"report,omitempty"`  // the evaluate output the metrics come from
	Notes     []string `json:"notes,omitempty"`   // why something is missing
	// PosterCheck says how the poster-or-not detector was calibrated ("" for
	// a model without one; Notes then says so).
	PosterCheck string    `json:"poster_check,omitempty"`
	loadedAt    time.Time // for /healthz's uptime; not part of the card
}

// CardData counts the rows the model was trained and judged on.
type CardData struct {
	TrainRows      int    `json:"train_rows,omitempty"`
	ValidationRows int    `json:"validation_rows,omitempty"`
	TestRows       int    `json:"test_rows,omitempty"`
	Baseline       string `json:"baseline,omitempty"` // e.g. "prior: always Romance"
}

// Metric is one headline metric (stages.Metric: value, 95% interval,
// baseline on the same split).
type Metric = stages.Metric

// decisionThreshold is the threshold the API applies: model.json's (tuned on
// validation, as evaluate applies it), or 0.5 for a model.json without one.
func decisionThreshold(m train.Meta) float64 {
	if m.Threshold > 0 && m.Threshold < 1 {
		return m.Threshold
	}
	return 0.5
}

// buildCard describes the model in modelDir. reportDir, when set, is the
// evaluate output (or the run folder's report/ copy) holding the metrics;
// otherwise they are looked for beside the model (see findReport). A model
// outside a pipeline working folder still gets a card, with Notes saying
// what is missing.
func buildCard(modelDir, reportDir string, meta train.Meta) (*Card, error) {
	id, err := modelID(modelDir, meta)
	if err != nil {
		return nil, err
	}
	c := &Card{
		ID: id, Genres: meta.Genres, Loss: meta.Loss, Threshold: decisionThreshold(meta), BestEpoch: meta.BestEpoch,
		TFVersion: meta.TFVersion, Device: meta.Device, loadedAt: time.Now(),
	}
	c.Decision = fmt.Sprintf("genres with probability ≥ %.2f (the threshold tuned on validation, as evaluate applies it)", c.Threshold)
	pp := meta.Preprocess.WithDefaults()
	c.Input = fmt.Sprintf("%d×%d, %s, %s", pp.Width, pp.Height, pp.Fit, pp.Filter)
	if meta.Standardize {
		c.Input += ", standardized"
	}
	if d := meta.PosterDetector; d != nil {
		c.PosterCheck = fmt.Sprintf("Mahalanobis distance to %d training posters (%d features); %.1f%% of %d validation posters pass",
			d.TrainPosters, d.Dim, 100*d.ValidationPass, d.ValidationPosters)
	} else {
		c.Notes = append(c.Notes, "no poster detector: "+train.ErrNoDetector.Error())
	}

	// The train output holding the model: <workdir>/stages/train/<fp>/model.
	// A run folder's model entry is a symlink to it.
	real, err := filepath.EvalSymlinks(modelDir)
	if err != nil {
		return nil, fmt.Errorf("model card: %w", err)
	}
	trainOut := filepath.Dir(real)
	trainMan, err := pipeline.ReadStageManifest(trainOut)
	if err != nil {
		c.Notes = append(c.Notes, "no train stage manifest beside the model (not a pipeline output): config, training date and data unknown")
		if fi, err := os.Stat(filepath.Join(modelDir, train.MetaFile)); err == nil {
			c.Trained = fi.ModTime().UTC().Format(time.RFC3339)
		}
	} else {
		c.Run = trainMan.Run
		c.Trained = trainMan.Finished.UTC().Format(time.RFC3339)
		c.Data.TrainRows, _ = train.SummaryTrainRows.Int(trainMan.Summary)
		if wd, ok := pipeline.WorkdirOf(trainOut); ok {
			if rec, err := pipeline.ReadRun(wd, trainMan.Run); err == nil {
				c.Config = rec.Config
			}
		}
	}

	if reportDir == "" {
		reportDir = findReport(modelDir, trainOut, trainMan.OutputID)
	}
	if reportDir == "" {
		c.Notes = append(c.Notes, "no evaluate output found for this model: run `pipeline run` through evaluate, or pass --report DIR")
		return c, nil
	}
	evMan, err := pipeline.ReadStageManifest(reportDir)
	if err != nil {
		return nil, fmt.Errorf("model card: report: %w", err)
	}
	if evMan.Stage != stages.Evaluate {
		return nil, fmt.Errorf("model card: %s is a %s output, not an evaluate one", reportDir, evMan.Stage)
	}
	if got := evMan.Inputs[stages.Train]; trainMan.OutputID != "" && got != trainMan.OutputID {
		return nil, fmt.Errorf("model card: %s evaluated train output %s, but the model is from %s", reportDir, got, trainMan.OutputID)
	}
	c.Report = reportDir
	c.Metrics = evMan.Headline
	c.Data.ValidationRows, _ = evaluate.SummaryValidationRows.Int(evMan.Summary)
	c.Data.TestRows, _ = evaluate.SummaryTestRows.Int(evMan.Summary)
	c.Data.Baseline, _ = evaluate.SummaryBaseline.Text(evMan.Summary)
	if len(c.Metrics) == 0 {
		c.Notes = append(c.Notes, "the evaluate output predates typed headline metrics (evaluate version < 3): rerun evaluate")
	}
	return c, nil
}

// findReport finds the evaluate output of the train output trainOut (whose
// output id is trainID): first the run folder's report/ beside a
// <run>/model path, then the newest evaluate output in the working folder
// whose train input is trainID. "" when there is none.
func findReport(modelDir, trainOut, trainID string) string {
	if trainID == "" {
		return ""
	}
	matches := func(dir string) (time.Time, bool) {
		m, err := pipeline.ReadStageManifest(dir)
		if err != nil || m.Stage != stages.Evaluate || m.Inputs[stages.Train] != trainID {
			return time.Time{}, false
		}
		return m.Finished, true
	}
	beside := filepath.Join(filepath.Dir(filepath.Clean(modelDir)), "report")
	if _, ok := matches(beside); ok {
		return beside
	}
	wd, ok := pipeline.WorkdirOf(trainOut)
	if !ok {
		return ""
	}
	evDirs, _ := pipeline.Layout{Root: wd}.Outputs(stages.Evaluate)
	var best string
	var bestT time.Time
	for _, d := range evDirs {
		if t, ok := matches(d); ok && t.After(bestT) {
			best, bestT = d, t
		}
	}
	return best
}

// modelID hashes model.json and the checkpoint's files (prefix.index,
// prefix.data-*), in name order.
func modelID(dir string, meta train.Meta) (string, error) {
	files := []string{filepath.Join(dir, train.MetaFile)}
	ckpt, err := filepath.Glob(filepath.Join(dir, meta.CheckpointPrefix) + ".*")
	if err != nil {
		return "", err
	}
	sort.Strings(ckpt)
	files = append(files, ckpt...)
	h := sha256.New()
	for _, f := range files {
		fh, err := regular.Open(f)
		if err != nil {
			return "", fmt.Errorf("model id: %w", err)
		}
		io.WriteString(h, filepath.Base(f)+"\x00")
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("model id: %s: %w", f, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
