package evaluate_test

import (
	"context"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodetest"
	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/evaluate/evaluateconfig"
	"github.com/postergenre/postergenre/evaluate/report"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// writeEncode writes a tiny encode output: 16×16 posters whose colour says the genre.
func writeEncode(t *testing.T, dir string) {
	t.Helper()
	const h, w = 16, 16
	genres := []string{"Horror", "Romance", "Action"}
	rng := rand.New(rand.NewPCG(1, 1))
	var rows []encode.ShardRow
	for i := 0; i < 120; i++ {
		split := encode.SplitTrain
		switch i % 6 {
		case 0:
			split = encode.SplitTest
		case 1:
			split = encode.SplitValidation
		}
		g := rng.IntN(3)
		label := make([]float32, 3)
		label[g] = 1
		pix := make([]byte, h*w*3)
		for p := 0; p < h*w; p++ {
			pix[p*3+g] = byte(150 + rng.IntN(100))
			pix[p*3+(g+1)%3] = byte(rng.IntN(60))
		}
		rows = append(rows, encode.ShardRow{ImdbID: int64(1000 + i), Title: "Film", Year: 2005, Genres: []string{genres[g]},
			Label: label, Split: split, Height: h, Width: w, Pixels: pix})
	}
	encodetest.Output{Genres: genres, Height: h, Width: w}.Write(t, dir, rows)
}

func TestStageEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	root := t.TempDir()
	enc, tr, ev := filepath.Join(root, "encode"), filepath.Join(root, "train"), filepath.Join(root, "evaluate")
	for _, d := range []string{enc, tr, ev} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeEncode(t, enc)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tc := trainconfig.Default()
	tc.ConvFilters, tc.Dense, tc.Epochs, tc.BatchSize, tc.Deterministic = []int{4}, []int{8}, 2, 8, true
	tc.Optimizer.LearningRate = 1e-2
	if _, err := (&train.Stage{Cfg: tc}).Run(context.Background(), stages.Env{OutDir: tr, Inputs: map[string]string{stages.Encode: enc}, Logger: log}); err != nil {
		t.Fatalf("train: %v", err)
	}
	cfg := evaluateconfig.Default()
	cfg.Bootstrap, cfg.Examples = 50, 5
	st := &evaluate.Stage{Cfg: cfg}
	res, err := st.Run(context.Background(), stages.Env{OutDir: ev, Inputs: map[string]string{stages.Encode: enc, stages.Train: tr}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary["test_rows"] != 20 || res.Summary["paper_accuracy"] == nil || res.Summary["top3_hit_baseline"] != 1.0 {
		t.Errorf("summary %v", res.Summary)
	}
	r, err := report.Read(filepath.Join(ev, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.History) != 2 || len(r.Examples) != 5 || r.Rows["validation"] != 20 {
		t.Errorf("report: %d epochs, %d examples, rows %v", len(r.History), len(r.Examples), r.Rows)
	}
	for _, f := range append(r.Plots, report.MarkdownFile, report.ExamplesFile) {
		if _, err := os.Stat(filepath.Join(ev, f)); err != nil {
			t.Error(err)
		}
	}
	fh, err := os.Open(filepath.Join(ev, report.ExamplesDir, fmt.Sprintf("%d.png", r.Examples[0].ImdbID)))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := png.Decode(fh); err != nil {
		t.Error(err)
	}
}
