package train

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/citest"
	"github.com/postergenre/postergenre/train/efficientnet"
	"github.com/postergenre/postergenre/train/trainconfig"

	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
)

// needWeights skips a test when the pretrained weights of backbone (Lite0
// when none is named) are not installed (`make deps` installs them; `make
// test` depends on it).
func needWeights(t *testing.T, backbone ...string) {
	t.Helper()
	v := efficientnet.Lite0
	if len(backbone) > 0 {
		var err error
		if v, err = backboneVariant(backbone[0]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := resolveWeights(v, ""); errors.Is(err, ErrNoWeights) {
		citest.Skipf(t, "%s weights not installed (run `make deps`): %v", v.Title, err)
	} else if err != nil {
		t.Fatal(err)
	}
}

// backboneConfig is a small head on the real EfficientNet-Lite0.
func backboneConfig() Config {
	c := smallConfig()
	c.Backbone = trainconfig.BackboneEfficientNetLite0
	c.Dense = []int{16}
	c.Optimizer.LearningRate = 1e-3
	c.BatchSize = 8
	c.Epochs = 2
	return c
}

// TestBackbone trains heads on the real pretrained backbone with its
// features cached (frozen, with or without mirrors, with tta_flip), through
// the whole graph (a shift, every layer fine-tuned) and with the top
// layers fine-tuned on the cached activation below them. In every case the
// validation probabilities training kept for the best epoch must equal
// what LoadModel — which always rebuilds the whole graph from the .pth and
// restores the head (and fine-tuned layers) — predicts on the same pixels:
// for the cached cases that is the cached path against the full-graph
// path with the same trained weights.
func TestBackbone(t *testing.T) {
	needWeights(t)
	for _, tc := range []struct {
		name   string
		size   int
		edit   func(*Config)
		cached bool
	}{
		{"frozen_cached", 64, func(c *Config) {}, true},
		{"lite2_frozen_cached", 64, func(c *Config) { c.Backbone = trainconfig.BackboneEfficientNetLite2; c.Epochs = 1 }, true},
		{"frozen_flip_cached", 32, func(c *Config) { c.Augment.Flip = true; c.Epochs = 1 }, true},
		{"frozen_shifted", 32, func(c *Config) { c.Augment.ShiftPx = 2; c.Epochs = 1 }, false},
		{"fine_tune_top_cached", 32, func(c *Config) { c.FineTune = 1; c.Epochs = 1; c.Loss = "sigmoid_bce" }, true},
		{"fine_tune_two_flip_cached", 48, func(c *Config) {
			c.FineTune, c.Augment.Flip, c.BackboneLRScale = 3, true, 0.3
		}, true},
		{"lite2_fine_tune_cached", 40, func(c *Config) {
			c.Backbone, c.FineTune, c.Epochs = trainconfig.BackboneEfficientNetLite2, 2, 1
		}, true},
		{"frozen_tta_cached", 32, func(c *Config) { c.Epochs = 1; c.TTAFlip = true }, true},
		{"concat_lite2_flip_cached", 40, func(c *Config) {
			c.ConcatBackbone, c.Augment.Flip, c.TTAFlip, c.Epochs = trainconfig.BackboneEfficientNetLite2, true, true, 1
		}, true},
		{"fine_tune_tta_cached", 32, func(c *Config) { c.FineTune = 1; c.Epochs = 1; c.TTAFlip = true; c.Augment.Flip = true }, true},
		{"fine_tune_tta_shifted", 32, func(c *Config) { c.FineTune = 1; c.Epochs = 1; c.TTAFlip = true; c.Augment.ShiftPx = 1 }, false},
		{"fine_tune_all", 32, func(c *Config) { c.FineTune = 18; c.Epochs = 1; c.MaxStepsPerEpoch = 2 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := backboneConfig()
			tc.edit(&cfg)
			needWeights(t, cfg.Backbone)
			if cfg.ConcatBackbone != "" {
				needWeights(t, cfg.ConcatBackbone)
			}
			enc := t.TempDir()
			rows := writeSynth(t, enc, synthSpec{Height: tc.size, Width: tc.size, Noise: 60, Seed: 9,
				PerClass: map[string]int{encode.SplitTrain: 6, encode.SplitValidation: 4, encode.SplitTest: 1}})
			env := testEnv(t, enc)
			env.Workdir = t.TempDir()
			tr, err := newTrainer(context.Background(), cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.close()
			if got := tr.feats != nil; got != tc.cached {
				t.Fatalf("features cached = %v, want %v", got, tc.cached)
			}
			if err := tr.loop(context.Background()); err != nil {
				t.Fatal(err)
			}
			m, err := LoadModel(filepath.Join(env.OutDir, ModelDir))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			meta := m.Meta()
			if meta.Backbone != cfg.Backbone || meta.FineTune != cfg.FineTune || meta.WeightsSHA256 != tr.weights.Variant.WeightsSHA256 ||
				meta.WeightsLicense != tr.weights.Variant.License() || meta.Input != InputRaw || meta.Standardize || len(meta.ConvFilters) != 0 {
				t.Errorf("model.json = %+v", meta)
			}
			if cfg.ConcatBackbone != "" && (meta.ConcatBackbone != cfg.ConcatBackbone || meta.ConcatWeightsSHA256 != tr.concat.Variant.WeightsSHA256 ||
				tr.feats.dim != 2*efficientnet.Features || meta.ConcatWeightsLicense != tr.concat.Variant.License()) {
				t.Errorf("concat_backbone: model.json = %+v, cached features of %d", meta, tr.feats.dim)
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
			if len(tr.bestProbs) != len(val)*G {
				t.Fatalf("training kept %d values for %d rows", len(tr.bestProbs), len(val))
			}
			var worst float64
			for i := range got {
				for j, p := range got[i] {
					worst = math.Max(worst, math.Abs(float64(p-tr.bestProbs[i*G+j])))
				}
			}
			t.Logf("kept epoch %d; LoadModel vs training's validation probabilities: max |diff| %.2g", tr.state.BestEpoch, worst)
			if worst > 1e-5 {
				t.Errorf("LoadModel predictions differ from training's by up to %g", worst)
			}
			if cfg.FineTune > 0 {
				checkFineTuned(t, tr)
			}
		})
	}
}

// checkFineTuned checks that training moved the fine-tuned backbone
// weights away from their pretrained values.
func checkFineTuned(t *testing.T, tr *trainer) {
	t.Helper()
	n := 0
	for _, v := range tr.net.vars {
		if !strings.HasPrefix(v.name, "efficientnet/") || strings.Contains(v.name, "adam") {
			continue
		}
		n++
		out, err := tr.sess.Run(nil, []tf.Output{v.read, v.init}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if deepEqualValues(out[0].Value(), out[1].Value()) {
			t.Errorf("%s: still the pretrained value after training", v.name)
		}
	}
	if n == 0 {
		t.Error("no fine-tuned backbone variables in the graph")
	}
}

// TestFeatureCache: a second run on the same encode output reads the
// features from the workdir's cache and trains identically; a damaged
// cache entry is recomputed, not trusted; a different encode output (other
// pixels) gets its own entry.
func TestFeatureCache(t *testing.T) {
	needWeights(t)
	enc := t.TempDir()
	spec := synthSpec{Height: 48, Width: 48, Noise: 60, Seed: 4,
		PerClass: map[string]int{encode.SplitTrain: 5, encode.SplitValidation: 3, encode.SplitTest: 1}}
	writeSynth(t, enc, spec)
	work := t.TempDir()
	cfg := backboneConfig()
	run := func(enc string) (string, []EpochStats) {
		t.Helper()
		var logs bytes.Buffer
		env := testEnv(t, enc)
		env.Workdir = work
		env.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		if _, err := Run(context.Background(), cfg, env); err != nil {
			t.Fatal(err)
		}
		h, err := ReadHistory(env.OutDir)
		if err != nil {
			t.Fatal(err)
		}
		return logs.String(), h
	}
	sameLosses := func(a, b []EpochStats) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i].TrainLoss != b[i].TrainLoss || a[i].ValLoss != b[i].ValLoss {
				return false
			}
		}
		return true
	}
	logs1, h1 := run(enc)
	if strings.Contains(logs1, "from the cache") {
		t.Fatal("first run read features from an empty cache")
	}
	entries, _ := filepath.Glob(filepath.Join(work, "cache", "features", "*", "key.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries after one run: %v", entries)
	}
	logs2, h2 := run(enc)
	if !strings.Contains(logs2, "from the cache") {
		t.Errorf("second run did not use the cache:\n%s", logs2)
	}
	if !sameLosses(h1, h2) {
		t.Errorf("cached run trained differently: %+v vs %+v", h1, h2)
	}
	// Damage the validation features: the entry must be recomputed.
	vf := filepath.Join(filepath.Dir(entries[0]), encode.SplitValidation+".f32")
	if err := os.Truncate(vf, 100); err != nil {
		t.Fatal(err)
	}
	logs3, h3 := run(enc)
	if !strings.Contains(logs3, "cache unusable") || strings.Contains(logs3, "from the cache") {
		t.Errorf("damaged cache not recomputed:\n%s", logs3)
	}
	if !sameLosses(h1, h3) {
		t.Errorf("recomputed run trained differently: %+v vs %+v", h1, h3)
	}
	// Other pixels, same shapes and counts: a new entry.
	enc2 := t.TempDir()
	spec.Seed = 5
	writeSynth(t, enc2, spec)
	run(enc2)
	entries, _ = filepath.Glob(filepath.Join(work, "cache", "features", "*", "key.json"))
	if len(entries) != 2 {
		t.Errorf("cache entries after a second encode output: %v", entries)
	}
}

func TestBackboneWeights(t *testing.T) {
	if _, err := resolveWeights(efficientnet.Lite0, filepath.Join(t.TempDir(), "missing.pth")); err == nil {
		t.Error("a missing train.weights file resolved")
	}
	// Another file in the weights' place: the pinned sha256 rejects it
	// (a legacy-format magic would still need a pickle; any file fails).
	bad := filepath.Join(t.TempDir(), "bad.pth")
	if err := os.WriteFile(bad, []byte("not weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadBackboneWeights(trainconfig.BackboneEfficientNetLite0, bad); err == nil {
		t.Error("a file that is not the weights loaded")
	}
	if _, _, err := loadBackboneWeights("efficientnet_lite9", ""); err == nil || !strings.Contains(err.Error(), `"efficientnet_lite2"`) {
		t.Errorf("unknown backbone: %v, want an error listing the valid ones", err)
	}
	// Another variant's weights as train.weights: refused.
	lite0, err := resolveWeights(efficientnet.Lite0, "")
	if err != nil {
		citest.Skipf(t, "EfficientNet-Lite0 weights not installed (run `make deps`): %v", err)
	}
	if _, _, err := loadBackboneWeights(trainconfig.BackboneEfficientNetLite2, lite0); err == nil {
		t.Error("Lite0's weights loaded as efficientnet_lite2")
	}
}

// The config package repeats the backbones and their layer counts so that
// loading a config never links TensorFlow; the two must agree.
func TestFineTuneLayers(t *testing.T) {
	vs, bs := efficientnet.Variants(), trainconfig.Backbones()
	if len(vs) != len(bs) {
		t.Fatalf("efficientnet has %d variants, trainconfig %d backbones", len(vs), len(bs))
	}
	for i, v := range vs {
		if bs[i].Name != v.Name || bs[i].Layers != v.Layers() {
			t.Errorf("efficientnet: %s with %d layers, trainconfig says %s with %d", v.Name, v.Layers(), bs[i].Name, bs[i].Layers)
		}
	}
}

// TestFeatureCacheEntries: the frozen features, their mirrors and the
// activations below one, two or three fine-tuned layers are each cached
// under their own key on the same encode output; a second run of each
// reads its own entry and trains identically; the entry holds what the
// key says (rows × dim, and the mirrors with flip or tta_flip, which share
// an entry); a run without mirrors reads an entry with them when there is
// one.
func TestFeatureCacheEntries(t *testing.T) {
	needWeights(t)
	enc := t.TempDir()
	writeSynth(t, enc, synthSpec{Height: 40, Width: 40, Noise: 60, Seed: 6,
		PerClass: map[string]int{encode.SplitTrain: 3, encode.SplitValidation: 2, encode.SplitTest: 1}})
	work := t.TempDir()
	L := efficientnet.Lite0.Layers()
	cases := []struct {
		name      string
		fineTune  int
		flip, tta bool
		cut, dim  int
		entry     string // cases naming the same entry share it
	}{
		{"frozen", 0, false, false, 0, efficientnet.Features, "frozen"},
		{"frozen_flip", 0, true, false, 0, efficientnet.Features, "frozen+mirrors"},
		{"frozen_tta", 0, false, true, 0, efficientnet.Features, "frozen+mirrors"},
		{"head", 1, false, false, L - 1, 2 * 2 * 320, "head"},
		{"head_flip", 1, true, false, L - 1, 2 * 2 * 320, "head+mirrors"},
		{"head_tta", 1, false, true, L - 1, 2 * 2 * 320, "head+mirrors"},
		{"two_blocks_flip", 3, true, false, L - 3, 2 * 2 * 192, "two blocks+mirrors"},
		// No mirrors wanted: the entry with them serves.
		{"two_blocks", 3, false, false, L - 3, 2 * 2 * 192, "two blocks+mirrors"},
	}
	run := func(fineTune int, flip, tta bool) (string, []EpochStats, *featureSet) {
		t.Helper()
		cfg := backboneConfig()
		cfg.FineTune, cfg.Augment.Flip, cfg.TTAFlip, cfg.Epochs = fineTune, flip, tta, 1
		var logs bytes.Buffer
		env := testEnv(t, enc)
		env.Workdir = work
		env.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		tr, err := newTrainer(context.Background(), cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.close()
		if err := tr.loop(context.Background()); err != nil {
			t.Fatal(err)
		}
		return logs.String(), tr.history, tr.feats
	}
	seen, entries := map[string]bool{}, map[string]bool{}
	for _, tc := range cases {
		logs1, h1, fs := run(tc.fineTune, tc.flip, tc.tta)
		if cached := strings.Contains(logs1, "from the cache"); cached != entries[tc.entry] {
			t.Errorf("%s: first run read from the cache: %v, want %v", tc.name, cached, entries[tc.entry])
		}
		entries[tc.entry] = true
		if fs == nil || fs.cut != tc.cut || fs.dim != tc.dim {
			t.Fatalf("%s: features %+v, want cut %d dim %d", tc.name, fs, tc.cut, tc.dim)
		}
		for split, sf := range fs.splits {
			wantMirrors := tc.flip || tc.tta // else dropped when read from an entry with them
			if len(sf.x) != sf.n*tc.dim || (sf.xf != nil) != wantMirrors || (wantMirrors && len(sf.xf) != sf.n*tc.dim) {
				t.Errorf("%s %s: %d rows, %d values, %d mirror values", tc.name, split, sf.n, len(sf.x), len(sf.xf))
			}
		}
		dirs, _ := filepath.Glob(filepath.Join(work, "cache", "features", "*"))
		for _, e := range dirs {
			seen[e] = true
		}
		logs2, h2, _ := run(tc.fineTune, tc.flip, tc.tta)
		if !strings.Contains(logs2, "from the cache") {
			t.Errorf("%s: second run did not use the cache", tc.name)
		}
		if len(h1) != 1 || len(h2) != 1 || h1[0].TrainLoss != h2[0].TrainLoss || h1[0].ValLoss != h2[0].ValLoss {
			t.Errorf("%s: cached run trained differently: %+v vs %+v", tc.name, h1, h2)
		}
	}
	if len(seen) != len(entries) {
		t.Errorf("%d cache entries for %d keys", len(seen), len(entries))
	}
}

// TestBackboneLRScale: one Adam step moves every weight by about the
// learning rate (m̂/√v̂ = ±1 on the first step), so with
// backbone_lr_scale s the fine-tuned backbone weights move s times as far
// from their pretrained values as at scale 1, while the head's weights
// after the step are those of scale 1 (same start, same gradient, same
// rate).
func TestBackboneLRScale(t *testing.T) {
	needWeights(t)
	enc := t.TempDir()
	writeSynth(t, enc, synthSpec{Height: 32, Width: 32, Noise: 60, Seed: 2,
		PerClass: map[string]int{encode.SplitTrain: 4, encode.SplitValidation: 1, encode.SplitTest: 1}})
	step := func(scale float64) (moved float64, head []float32) {
		t.Helper()
		cfg := backboneConfig()
		cfg.FineTune, cfg.BackboneLRScale, cfg.Epochs, cfg.MaxStepsPerEpoch = 2, scale, 1, 1
		env := testEnv(t, enc)
		env.Workdir = t.TempDir()
		tr, err := newTrainer(context.Background(), cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.close()
		if err := tr.loop(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, v := range tr.net.vars {
			if !v.train {
				continue
			}
			if !v.backbone {
				out, err := tr.sess.Run(nil, []tf.Output{v.read}, nil)
				if err != nil {
					t.Fatal(err)
				}
				head = append(head, tfsessiontest.Flatten(out[0].Value())...)
				continue
			}
			// A backbone variable's init is its pretrained value, a constant.
			out, err := tr.sess.Run(nil, []tf.Output{v.read, v.init}, nil)
			if err != nil {
				t.Fatal(err)
			}
			a, b := tfsessiontest.Flatten(out[0].Value()), tfsessiontest.Flatten(out[1].Value())
			for i := range a {
				moved = math.Max(moved, math.Abs(float64(a[i]-b[i])))
			}
		}
		return moved, head
	}
	m1, h1 := step(1)
	for _, scale := range []float64{0.1, 0.01} {
		m, h := step(scale)
		t.Logf("scale %g: backbone weights moved up to %.3g (%.3g at scale 1)", scale, m, m1)
		if r := m / m1; math.Abs(r-scale) > 0.05*scale {
			t.Errorf("scale %g: backbone weights moved %.4g× as far as at scale 1", scale, r)
		}
		if !slices.Equal(h, h1) {
			t.Errorf("scale %g: the head's weights differ from scale 1's after the step", scale)
		}
	}
}
