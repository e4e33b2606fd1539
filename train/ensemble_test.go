package train

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/stages/stagestest"
)

// TestEnsemble trains seed ensembles of three, of the paper's network and
// of heads on a frozen backbone, and checks model.json's members (seeds
// seed..seed+2, each one's kept epoch and validation metrics), that the
// loaded ensemble's probabilities (Predict and Analyze) are the mean of
// the members' loaded alone, that the threshold training tuned is the one
// the loaded ensemble's validation probabilities give, that logs and
// progress name the member, and that the backbone's features were
// computed once for all members. On the frozen backbone (with tta_flip,
// so that the mirrors' features are shared too) Predict must run the
// backbone once, in member 1's graph, and its mean must equal the mean of
// the members loaded alone exactly. For the paper's network it also trains
// the same config with ensemble 1: a single model (format 1, no members),
// whose predictions are member 1's exactly.
func TestEnsemble(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      func() Config
		h, w     int
		backbone bool
	}{
		{"conv", smallConfig, 24, 16, false},
		{"frozen_backbone", func() Config { c := backboneConfig(); c.TTAFlip = true; return c }, 32, 32, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.backbone {
				needWeights(t)
			}
			enc := t.TempDir()
			rows := writeSynth(t, enc, synthSpec{Height: tc.h, Width: tc.w, Noise: 60, Seed: 3,
				PerClass: map[string]int{encode.SplitTrain: 6, encode.SplitValidation: 4, encode.SplitTest: 1}})
			cfg := tc.cfg()
			cfg.Epochs, cfg.Ensemble, cfg.Seed = 2, 3, 7
			var logs bytes.Buffer
			var prog stagestest.Progress
			env := testEnv(t, enc)
			env.Logger, env.Progress = slog.New(slog.NewTextHandler(&logs, nil)), &prog
			res, err := Run(context.Background(), cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(env.OutDir, ModelDir)
			meta := checkMembers(t, dir, cfg)
			val := rows[encode.SplitValidation]
			got, parts, heads := ensemblePredictions(t, dir, meta, val)
			wantHeads := 0
			if tc.backbone {
				wantHeads = cfg.Ensemble - 1
				checkEqual(t, got, meanRows(parts))
			}
			if heads != wantHeads {
				t.Errorf("%d members' heads read member 1's features, want %d", heads, wantHeads)
			}
			for i := range got {
				for j := range got[i] {
					var mean float64
					for _, p := range parts {
						mean += float64(p[i][j]) / float64(len(parts))
					}
					if d := math.Abs(float64(got[i][j]) - mean); d > 1e-6 {
						t.Errorf("row %d genre %d: ensemble %g, mean of members %g", i, j, got[i][j], mean)
					}
				}
			}
			y := make([][]bool, len(val))
			s := make([][]float64, len(val))
			for i, r := range val {
				for j := range r.Label {
					y[i], s[i] = append(y[i], r.Label[j] > 0.5), append(s[i], float64(got[i][j]))
				}
			}
			if thr, _ := metrics.TuneThreshold(y, s, metrics.Grid()); thr != meta.Threshold || res.Summary["threshold"] != meta.Threshold {
				t.Errorf("threshold: model.json %v, summary %v, tuned on the loaded ensemble %v", meta.Threshold, res.Summary["threshold"], thr)
			}
			if tasks := fmt.Sprint(prog.Tasks()); !strings.Contains(tasks, "member 3/3 epoch 2/2") {
				t.Errorf("no progress task names member 3: %s", tasks)
			}
			if !strings.Contains(logs.String(), "member=2 seed=8") {
				t.Error("no log line names member 2 and its seed")
			}
			if !tc.backbone {
				compareSingle(t, enc, cfg, val, parts[0])
			}
			n := 0
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `msg="backbone features"`) && strings.Contains(l, "split=train posters=") {
					n++
				}
			}
			if tc.backbone && n != 1 {
				t.Errorf("the training split's backbone features were computed %d times, want once", n)
			}
		})
	}
}

// checkMembers reads the ensemble's model.json in dir and checks its
// members against cfg.
func checkMembers(t *testing.T, dir string, cfg Config) Meta {
	t.Helper()
	meta, err := readMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Format != 2 || len(meta.Members) != cfg.Ensemble || meta.CheckpointPrefix != "" {
		t.Fatalf("model.json: format %d, %d members, checkpoint %q", meta.Format, len(meta.Members), meta.CheckpointPrefix)
	}
	seen := map[int64]bool{}
	for i, m := range meta.Members {
		if m.Seed != cfg.Seed+int64(i) || seen[m.Seed] || m.Dir != memberName(i) || m.BestEpoch < 1 ||
			math.IsNaN(float64(m.ValLoss)) || math.IsNaN(float64(m.ValPaperAcc)) {
			t.Errorf("member %d: %+v", i+1, m)
		}
		seen[m.Seed] = true
	}
	return meta
}

// ensemblePredictions returns the loaded ensemble's probabilities of rows
// (checking that Analyze, with and without a heatmap, agrees with
// Predict), each member's, loaded alone, and how many members' heads read
// member 1's backbone features.
func ensemblePredictions(t *testing.T, dir string, meta Meta, rows []encode.ShardRow) ([][]float32, [][][]float32, int) {
	t.Helper()
	var pix []byte
	for _, r := range rows {
		pix = append(pix, r.Pixels...)
	}
	// open loads the model in dir (closed when the test ends) and predicts rows.
	open := func(dir string) (*Model, [][]float32) {
		m, err := LoadModel(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		p, err := m.Predict(pix, len(rows))
		if err != nil {
			t.Fatal(err)
		}
		return m, p
	}
	var parts [][][]float32
	for _, mem := range meta.Members {
		_, p := open(filepath.Join(dir, mem.Dir))
		parts = append(parts, p)
	}
	m, got := open(dir)
	// With a heatmap every member's whole graph runs; without, a frozen
	// backbone's ensemble shares member 1's features as Predict does.
	for _, explain := range [][]int{{0}, nil} {
		a, err := m.AnalyzePixels(rows[0].Pixels, explain)
		if err != nil {
			t.Fatal(err)
		}
		for j, p := range a.Probs {
			if math.Abs(float64(p-got[0][j])) > 1e-6 || len(a.Heatmaps) != len(explain) {
				t.Errorf("Analyze %v: genre %d %g, Predict %g (%d heatmaps)", explain, j, p, got[0][j], len(a.Heatmaps))
			}
		}
	}
	return got, parts, len(m.heads)
}

// compareSingle trains cfg with ensemble 1 and checks that it is a single
// model predicting member1 (the first member's probabilities of rows)
// exactly: member 1 is the model the config trains without the field.
func compareSingle(t *testing.T, enc string, cfg Config, rows []encode.ShardRow, member1 [][]float32) {
	t.Helper()
	cfg.Ensemble = 1
	env := testEnv(t, enc)
	if _, err := Run(context.Background(), cfg, env); err != nil {
		t.Fatal(err)
	}
	meta, err := readMeta(filepath.Join(env.OutDir, ModelDir))
	if err != nil {
		t.Fatal(err)
	}
	if meta.Format != 1 || meta.Members != nil || meta.ConfigSHA256 != configSHA256(cfg) {
		t.Errorf("single model: format %d, members %v, config_sha256 %s", meta.Format, meta.Members, meta.ConfigSHA256)
	}
	got, _, _ := ensemblePredictions(t, filepath.Join(env.OutDir, ModelDir), meta, rows)
	checkEqual(t, got, member1)
}

// checkEqual fails unless got and want are the same probabilities, bit
// for bit.
func checkEqual(t *testing.T, got, want [][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		for j := range got[i] {
			if got[i][j] != want[i][j] {
				t.Errorf("row %d genre %d: %g, want %g", i, j, got[i][j], want[i][j])
			}
		}
	}
}
