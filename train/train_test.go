package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/tfinfo"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/stages/stagestest"
	"github.com/postergenre/postergenre/train/trainconfig"
)

func testEnv(t *testing.T, encDir string) stages.Env {
	out := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return stages.Env{
		OutDir: out, Inputs: map[string]string{stages.Encode: encDir},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
}

func TestFeatureSize(t *testing.T) {
	for _, tc := range []struct {
		h, w  int
		convs []int
		wantH int
		wantW int
		err   bool
	}{
		{107, 73, []int{32, 32, 32, 64}, 4, 2, false}, // the paper: 4×2×64 = 512
		{24, 16, []int{8, 16}, 4, 2, false},
		{24, 16, []int{8, 8, 8, 8}, 0, 0, true},
	} {
		h, w, err := featureSize(tc.h, tc.w, tc.convs)
		if (err != nil) != tc.err || h != tc.wantH || w != tc.wantW {
			t.Errorf("featureSize(%d, %d, %v) = %d, %d, %v", tc.h, tc.w, tc.convs, h, w, err)
		}
	}
	g, err := buildGraph(netSpec{Height: 107, Width: 73, Genres: 4, ConvFilters: []int{32, 32, 32, 64},
		Dense: []int{64, 32}, Dropout: 0.5, Loss: "softmax_ce", Optimizer: trainconfig.Default().Optimizer, Training: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.flatDim != 512 {
		t.Errorf("paper network flattens to %d, want 512", g.flatDim)
	}
	params := 0
	for _, v := range g.vars {
		if v.train {
			s, _ := constShape(v)
			n := 1
			for _, d := range s {
				n *= int(d)
			}
			params += n
		}
	}
	// conv: 896+9248+9248+18496, dense: 32832+2080, out: 132.
	if want := 896 + 9248 + 9248 + 18496 + 32832 + 2080 + 132; params != want {
		t.Errorf("paper network has %d trainable parameters, want %d", params, want)
	}
}

// TestTrainSynthetic trains on four colour-coded classes and checks the
// accuracy, the outputs, and that LoadModel + Predict reproduce the
// validation predictions of the training session at the best epoch.
func TestTrainSynthetic(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"softmax", func(c *Config) {}},
		{"sigmoid_bn_augment_balanced", func(c *Config) {
			c.Loss = "sigmoid_bce"
			c.BatchNorm = true
			c.ClassWeights = "balanced"
			c.Standardize = true
			c.Augment = Augment{Flip: true, ShiftPx: 2, Brightness: 0.05}
			c.Schedule = "cosine"
			c.WarmupEpochs = 1
			c.EarlyStopping = EarlyStopping{Metric: "val_macro_auc", Patience: 3}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := t.TempDir()
			rows := writeSynth(t, enc, synthSpec{Height: 24, Width: 16, Noise: 40, Seed: 3,
				PerClass: map[string]int{encode.SplitTrain: 60, encode.SplitValidation: 20, encode.SplitTest: 5}})
			cfg := smallConfig()
			tc.edit(&cfg)
			env := testEnv(t, enc)
			var prog stagestest.Progress
			env.Progress = &prog
			tr, err := newTrainer(context.Background(), cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.close()
			if err := tr.loop(context.Background()); err != nil {
				t.Fatal(err)
			}
			hist, err := ReadHistory(env.OutDir)
			if err != nil {
				t.Fatal(err)
			}
			last := hist[len(hist)-1]
			t.Logf("%d epochs (%d steps): train loss %.4f acc %.3f, val loss %.4f acc %.3f top3 %.3f auc %.3f, best epoch %d",
				len(hist), tr.state.Step, last.TrainLoss, last.TrainPaperAcc, last.ValLoss, last.ValPaperAcc, last.ValTop3Hit, last.ValMacroAUC, tr.state.BestEpoch)
			if last.ValPaperAcc < 0.95 {
				t.Errorf("validation paper accuracy %.3f, want >= 0.95", last.ValPaperAcc)
			}
			if notes := fmt.Sprint(prog.Tasks()); !strings.Contains(notes, "loss ") {
				t.Errorf("no loss in the progress notes: %s", notes)
			}
			for _, f := range []string{HistoryCSV, filepath.Join(CheckpointDir, LatestFile), filepath.Join(ModelDir, MetaFile)} {
				if _, err := os.Stat(filepath.Join(env.OutDir, f)); err != nil {
					t.Error(err)
				}
			}

			m, err := LoadModel(filepath.Join(env.OutDir, ModelDir))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			meta := m.Meta()
			if meta.BestEpoch != tr.state.BestEpoch || meta.TFVersion != tf.Version() || meta.Device != "CPU" || len(meta.ConfigSHA256) != 64 || len(meta.ManifestSHA256) != 64 {
				t.Errorf("meta = %+v", meta)
			}
			val := rows[encode.SplitValidation]
			var pix []byte
			for _, r := range val {
				pix = append(pix, r.Pixels...)
			}
			got, err := m.Predict(pix, len(val))
			if err != nil {
				t.Fatal(err)
			}
			G := len(synthGenres)
			if len(got) != len(val) || len(tr.bestProbs) != len(val)*G {
				t.Fatalf("Predict returned %d rows, training kept %d values for %d rows", len(got), len(tr.bestProbs), len(val))
			}
			var worst float64
			for i := range got {
				var sum float64
				for j, p := range got[i] {
					worst = math.Max(worst, math.Abs(float64(p-tr.bestProbs[i*G+j])))
					sum += float64(p)
				}
				if cfg.Loss == "softmax_ce" && math.Abs(sum-1) > 1e-5 {
					t.Errorf("row %d: softmax sums to %g", i, sum)
				}
			}
			if worst > 1e-5 {
				t.Errorf("LoadModel predictions differ from training's by up to %g", worst)
			}
			// PredictImage on the same pixels as an image (same size: resizing is the identity).
			img := image.NewRGBA(image.Rect(0, 0, meta.Width, meta.Height))
			for i := range meta.Width * meta.Height {
				copy(img.Pix[i*4:i*4+3], val[0].Pixels[i*3:i*3+3])
				img.Pix[i*4+3] = 255
			}
			one, err := m.PredictImage(img)
			if err != nil {
				t.Fatal(err)
			}
			for j := range one {
				if math.Abs(float64(one[j]-got[0][j])) > 1e-6 {
					t.Errorf("PredictImage = %v, Predict = %v", one, got[0])
					break
				}
			}
		})
	}
}

// readVars restores a full checkpoint into a fresh training graph and
// returns every variable's value by name.
func readVars(t *testing.T, cfg Config, prefix string) map[string]any {
	t.Helper()
	g, err := buildGraph(netSpec{Height: 24, Width: 16, Genres: 4, ConvFilters: cfg.ConvFilters, Dense: cfg.Dense,
		Dropout: cfg.Dropout, BatchNorm: cfg.BatchNorm, Loss: cfg.Loss, Seed: cfg.Seed, Optimizer: cfg.Optimizer, Training: true})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g.graph, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	p, _ := tf.NewTensor(prefix)
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{g.prefix: p}, nil, []*tf.Operation{g.restoreAll}); err != nil {
		t.Fatal(err)
	}
	var reads []tf.Output
	for _, v := range g.vars {
		reads = append(reads, v.read)
	}
	out, err := sess.Run(nil, reads, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	for i, v := range g.vars {
		vals[v.name] = out[i].Value()
	}
	return vals
}

func latestPrefix(t *testing.T, out string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, CheckpointDir, LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	var st ckptState
	if err := jsonUnmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(out, CheckpointDir, st.Prefix)
}

// TestResumeMatchesUninterrupted: 2 epochs, then resume to 4, gives the same
// variables (weights, Adam slots, step, BN statistics) as 4 epochs straight.
func TestResumeMatchesUninterrupted(t *testing.T) {
	enc := t.TempDir()
	writeSynth(t, enc, synthSpec{Height: 24, Width: 16, Noise: 40, Seed: 5,
		PerClass: map[string]int{encode.SplitTrain: 24, encode.SplitValidation: 6}})
	cfg := smallConfig()
	cfg.BatchNorm = true
	cfg.Dropout = 0.3
	cfg.Augment = Augment{Flip: true, ShiftPx: 1}
	cfg.ShuffleBuffer = 16

	cfg.Epochs = 2
	first := testEnv(t, enc)
	if _, err := Run(context.Background(), cfg, first); err != nil {
		t.Fatal(err)
	}
	cfg.Epochs = 4
	resumed := testEnv(t, enc)
	resumed.Resume, resumed.Prev = true, first.OutDir
	if _, err := Run(context.Background(), cfg, resumed); err != nil {
		t.Fatal(err)
	}
	straight := testEnv(t, enc)
	if _, err := Run(context.Background(), cfg, straight); err != nil {
		t.Fatal(err)
	}

	a := readVars(t, cfg, latestPrefix(t, resumed.OutDir))
	b := readVars(t, cfg, latestPrefix(t, straight.OutDir))
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d vs %d variables", len(a), len(b))
	}
	for name, va := range a {
		if !deepEqualValues(va, b[name]) {
			t.Errorf("variable %s differs between resumed and uninterrupted runs", name)
		}
	}
	if a["global_step"].(int64) != 24 {
		t.Errorf("global_step = %v, want 24 (4 epochs × 6 steps)", a["global_step"])
	}
	ha, err := ReadHistory(resumed.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := ReadHistory(straight.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ha) != 4 || len(hb) != 4 {
		t.Fatalf("history has %d and %d epochs, want 4", len(ha), len(hb))
	}
	for i := range ha {
		if ha[i].TrainLoss != hb[i].TrainLoss || ha[i].ValLoss != hb[i].ValLoss {
			t.Errorf("epoch %d: resumed losses %g/%g, straight %g/%g", i+1, ha[i].TrainLoss, ha[i].ValLoss, hb[i].TrainLoss, hb[i].ValLoss)
		}
	}
}

// TestDeviceGPU asks for device gpu: without a visible GPU the run fails
// naming the devices and the fix; with one (a GPU machine, the GPU build)
// it trains on it.
func TestDeviceGPU(t *testing.T) {
	ds, err := tfinfo.Devices()
	if err != nil {
		t.Fatal(err)
	}
	enc := t.TempDir()
	writeSynth(t, enc, synthSpec{Height: 24, Width: 16, Seed: 1, PerClass: map[string]int{encode.SplitTrain: 2}})
	cfg := smallConfig()
	cfg.Device = "gpu"
	res, err := (&Stage{Cfg: cfg}).Run(context.Background(), testEnv(t, enc))
	if tfinfo.HasGPU(ds) {
		t.Logf("a GPU is visible (%v): checking the GPU path", ds)
		if err != nil {
			t.Fatalf("device gpu with a GPU visible: %v", err)
		}
		if dev, _ := res.Summary["device"].(string); !strings.HasPrefix(dev, "GPU ") {
			t.Errorf("summary device %q, want GPU <name>", dev)
		}
		return
	}
	if !errors.Is(err, ErrNoGPU) || !strings.Contains(err.Error(), "TF_VARIANT=gpu make deps") || !strings.Contains(err.Error(), "CPU:0") {
		t.Fatalf("err = %v, want the no-GPU error listing the devices", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cfg := smallConfig()
	cfg.Loss = "mse"
	cfg.BatchSize = 0
	_, err := Run(context.Background(), cfg, stages.Env{})
	if err == nil || !strings.Contains(err.Error(), "/train/loss") || !strings.Contains(err.Error(), "/train/batch_size") {
		t.Fatalf("err = %v", err)
	}
}

func TestLRSchedule(t *testing.T) {
	c := trainconfig.Default()
	c.Optimizer.LearningRate = 1
	c.Epochs = 10
	for _, tc := range []struct {
		schedule string
		warmup   int
		epoch    int
		want     float64
	}{
		{"constant", 0, 7, 1},
		{"constant", 3, 1, 0.25},
		{"constant", 3, 3, 0.75},
		{"constant", 3, 4, 1},
		{"cosine", 0, 1, 1},
		{"cosine", 0, 6, 0.5},
		{"step", 0, 1, 1},
		{"step", 0, 4, 0.5},
		{"step", 0, 7, 0.25},
	} {
		c.Schedule, c.WarmupEpochs, c.StepEvery, c.StepFactor = tc.schedule, tc.warmup, 3, 0.5
		if got := lrAt(c, tc.epoch); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s warmup %d epoch %d: lr %g, want %g", tc.schedule, tc.warmup, tc.epoch, got, tc.want)
		}
	}
}
