package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/evaluate/scoring"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
	"github.com/postergenre/postergenre/train/efficientnet"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// TestPredictMatchesEvaluate runs clean → encode → train (one step, real
// TensorFlow) for every fit and filter, then scores each validation and test
// poster twice: as evaluate does (the encode shards through Model.Predict)
// and as `pipeline predict` does (the poster file through predictOne). The
// two must agree: a model trained on padded or cropped posters must be
// served padded or cropped, with the same filter and scaling.
func TestPredictMatchesEvaluate(t *testing.T) {
	dir := t.TempDir()
	// Posters of three aspect ratios, so that stretch, crop and pad differ.
	sizes := [][2]int{{182, 268}, {300, 200}, {120, 260}}
	genres := []string{"Horror|Drama", "Romance", "Action|Romance", "Documentary"}
	var ms []cleantest.Movie
	for i := range 16 {
		s := sizes[i%len(sizes)]
		ms = append(ms, cleantest.Movie{ID: int64(100 + i), Title: fmt.Sprintf("Film %d (%d)", i, 2000+i%10), Score: "6",
			Genres: genres[i%len(genres)], Poster: cleantest.JPEG(s[0], s[1], i)})
	}
	ccfg := cleanconfig.Default()
	ccfg.VerifyImages = false
	cenv := cleantest.Clean(t, dir, ms, ccfg) // an encode Env over the clean output
	for _, fit := range []string{encodeconfig.FitStretch, encodeconfig.FitCrop, encodeconfig.FitPad} {
		for _, filter := range []string{encodeconfig.FilterCatmullRom, encodeconfig.FilterBilinear, encodeconfig.FilterNearest, encodeconfig.FilterBox} {
			t.Run(fit+"/"+filter, func(t *testing.T) {
				out := filepath.Join(t.TempDir())
				encDir, modelDir := encodeAndTrain(t, cenv, out, fit, filter, nil)
				comparePredictions(t, encDir, modelDir, cenv.PosterStore)
			})
		}
	}
	// A seed ensemble of three: evaluate and predict both load it through
	// train.LoadModel, so both score the mean of its members.
	t.Run("ensemble", func(t *testing.T) {
		encDir, modelDir := encodeAndTrain(t, cenv, t.TempDir(), encodeconfig.FitPad, encodeconfig.FilterCatmullRom, func(c *trainconfig.Config) {
			c.Ensemble = 3
		})
		comparePredictions(t, encDir, modelDir, cenv.PosterStore)
	})
	// A frozen pretrained backbone (features cached in training, the whole
	// graph in LoadModel) on raw 0..255 input: predict must still equal
	// evaluate. Cropped, so the resize is covered too.
	t.Run("backbone/"+encodeconfig.FitCrop, func(t *testing.T) {
		if _, err := os.Stat(filepath.Join("..", "..", efficientnet.Lite0.WeightsPath)); err != nil {
			t.Skipf("EfficientNet-Lite0 weights not installed (run `make deps`): %v", err)
		}
		out := filepath.Join(t.TempDir())
		encDir, modelDir := encodeAndTrain(t, cenv, out, encodeconfig.FitCrop, encodeconfig.FilterCatmullRom, func(c *trainconfig.Config) {
			c.Backbone, c.Dense, c.Standardize = trainconfig.BackboneEfficientNetLite0, []int{8}, false
		})
		comparePredictions(t, encDir, modelDir, cenv.PosterStore)
	})
}

// encodeAndTrain encodes the clean output at 16×24 with fit and filter and
// trains a one-step model on it (standardized input, so the scaling is
// covered too). It returns the encode folder and the model folder.
// edit, when set, changes the train config.
func encodeAndTrain(t *testing.T, cenv stages.Env, dir, fit, filter string, edit func(*trainconfig.Config)) (string, string) {
	t.Helper()
	ecfg := encodeconfig.Default()
	ecfg.Genres = []string{"Horror", "Romance", "Action", "Documentary"}
	ecfg.Image = encodeconfig.Image{Width: 16, Height: 24, Fit: fit, Filter: filter}
	ecfg.Split = encodeconfig.Split{Method: "hash", Train: 0.5, Validation: 0.25, Test: 0.25}
	encDir, trDir := filepath.Join(dir, "encode"), filepath.Join(dir, "train")
	for _, d := range []string{encDir, trDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	eenv := stages.Env{OutDir: encDir, Inputs: cenv.Inputs, PosterStore: cenv.PosterStore}
	if _, err := (&encode.Stage{Cfg: ecfg}).Run(context.Background(), eenv); err != nil {
		t.Fatal(err)
	}
	tcfg := trainconfig.Default()
	tcfg.ConvFilters, tcfg.Dense = []int{4}, []int{8}
	tcfg.Epochs, tcfg.MaxStepsPerEpoch, tcfg.BatchSize, tcfg.ShuffleBuffer = 1, 1, 8, 8
	tcfg.Standardize, tcfg.Deterministic, tcfg.Device = true, true, "cpu"
	if edit != nil {
		edit(&tcfg)
	}
	tenv := stages.Env{OutDir: trDir, Inputs: map[string]string{stages.Encode: encDir}}
	if _, err := train.Run(context.Background(), tcfg, tenv); err != nil {
		t.Fatal(err)
	}
	return encDir, filepath.Join(trDir, train.ModelDir)
}

func comparePredictions(t *testing.T, encDir, modelDir, store string) {
	t.Helper()
	man, err := encode.ReadManifest(encDir)
	if err != nil {
		t.Fatal(err)
	}
	model, err := train.LoadModel(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	res, err := scoring.Score(context.Background(), encDir, man, model, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sc := range []scoring.Scores{res.Val, res.Test} {
		for i, row := range sc.Rows {
			var pr prediction
			if err := predictOne(context.Background(), model, filepath.Join(store, fmt.Sprintf("%d.jpg", row.ImdbID)), "", &pr); err != nil {
				t.Fatal(err)
			}
			for j, p := range pr.Probs {
				if d := math.Abs(float64(p) - sc.S[i][j]); d > 1e-6 {
					t.Errorf("imdb %d genre %d: predict %g, evaluate %g", row.ImdbID, j, p, sc.S[i][j])
				}
			}
			n++
		}
	}
	if n < 4 {
		t.Fatalf("only %d posters scored: the comparison would prove little", n)
	}
}
