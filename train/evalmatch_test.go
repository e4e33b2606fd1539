package train

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate/scoring"
	"github.com/postergenre/postergenre/internal/metrics"
)

// TestValidationMetricsMatchEvaluate trains briefly on noisy synthetic
// posters (so no metric saturates), then scores the validation split the way
// the evaluate stage does (LoadModel + scoring.Score + internal/metrics). The
// kept epoch's history line and model.json's threshold must equal what
// evaluate computes on the same rows.
func TestValidationMetricsMatchEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"softmax", func(c *Config) {}},
		{"sigmoid_standardized_bn", func(c *Config) {
			c.Loss, c.Standardize, c.BatchNorm = "sigmoid_bce", true, true
			c.EarlyStopping.Metric = "val_macro_auc"
		}},
		// The regularisers and inference options of issue 14: with
		// tta_flip the flip averaging lives in the inference graph that
		// LoadModel rebuilds from model.json, and with ema_decay the kept
		// model holds the averaged weights that validation scored.
		{"smoothing_decay_flip_ema", func(c *Config) {
			c.LabelSmoothing, c.WeightDecay, c.TTAFlip, c.EMADecay = 0.1, 0.05, true, 0.9
			c.EarlyStopping.Metric = "val_paper_accuracy"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := t.TempDir()
			writeSynth(t, enc, synthSpec{Height: 24, Width: 16, Noise: 110, Seed: 5,
				PerClass: map[string]int{encode.SplitTrain: 24, encode.SplitValidation: 15, encode.SplitTest: 2}})
			cfg := smallConfig()
			cfg.Epochs = 3
			tc.edit(&cfg)
			env := testEnv(t, enc)
			if _, err := Run(context.Background(), cfg, env); err != nil {
				t.Fatal(err)
			}
			hist, err := ReadHistory(env.OutDir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := LoadModel(filepath.Join(env.OutDir, ModelDir))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var kept EpochStats
			for _, h := range hist {
				if h.Epoch == m.Meta().BestEpoch {
					kept = h
				}
			}
			if kept.Epoch == 0 {
				t.Fatalf("history has no line for the kept epoch %d", m.Meta().BestEpoch)
			}
			man, err := encode.ReadManifest(enc)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scoring.Score(context.Background(), enc, man, m, scoring.Options{})
			if err != nil {
				t.Fatal(err)
			}
			y, s := res.Val.Y, res.Val.S
			auc, _ := metrics.MacroAUC(y, s)
			thr, _ := metrics.TuneThreshold(y, s, metrics.Grid())
			t.Logf("kept epoch %d: acc %.4f top3 %.4f auc %.4f threshold %.2f", kept.Epoch, kept.ValPaperAcc, kept.ValTop3Hit, kept.ValMacroAUC, m.Meta().Threshold)
			for _, c := range []struct {
				name            string
				train, evaluate float64
			}{
				{"paper accuracy", float64(kept.ValPaperAcc), metrics.PaperAccuracy(y, s)},
				{"top-3 hit", float64(kept.ValTop3Hit), metrics.TopKHit(y, s, 3)},
				{"macro AUC", float64(kept.ValMacroAUC), auc},
				{"threshold", m.Meta().Threshold, thr},
			} {
				if math.Abs(c.train-c.evaluate) > 1e-9 {
					t.Errorf("%s: train %v, evaluate %v", c.name, c.train, c.evaluate)
				}
			}
		})
	}
}
