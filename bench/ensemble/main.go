// Command bench/ensemble times predicting with a seed ensemble of heads on
// a frozen EfficientNet-Lite0 (train.ensemble on a frozen backbone): the
// ensemble as LoadModel serves it (the backbone run once, in member 1's
// graph, its features fed to every member's head) against the members
// loaded alone and each run on the images, which is what an ensemble cost
// before the backbone was shared. Both paths alternate round after round
// in this process; the table gives each round's images/s and their ratio,
// and the largest difference between the two paths' mean probabilities
// (0: the shared path computes what the members compute).
//
//	go run ./bench/ensemble -members 5 -images 256 -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/postergenre/postergenre/bench/internal/machine"
	"github.com/postergenre/postergenre/bench/internal/trainbench"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
	"github.com/postergenre/postergenre/train/trainconfig"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ensemble", flag.ContinueOnError)
	work := fs.String("work", filepath.Join(os.TempDir(), "bench-ensemble"), "folder for the random posters and the trained ensemble (kept)")
	members := fs.Int("members", 5, "ensemble members (train.ensemble)")
	images := fs.Int("images", 256, "images predicted per round")
	width := fs.Int("width", 224, "poster width")
	height := fs.Int("height", 320, "poster height (224×320: the 25-genre and paper configs' input)")
	tta := fs.Bool("tta", false, "train and predict with tta_flip (each image and its mirror)")
	rounds := fs.Int("rounds", 3, "alternating rounds")
	threads := fs.Int("threads", 2, "TensorFlow threads")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := bench(stdout, stderr, *work, *members, *images, *width, *height, *rounds, *threads, *tta); err != nil {
		fmt.Fprintln(stderr, "ensemble:", err)
		return 1
	}
	return 0
}

func bench(stdout, stderr io.Writer, work string, members, images, width, height, rounds, threads int, tta bool) error {
	if members < 2 || images < 1 || rounds < 1 {
		return fmt.Errorf("-members %d, -images %d, -rounds %d: want at least 2, 1 and 1", members, images, rounds)
	}
	shards := filepath.Join(work, fmt.Sprintf("random-%dx%d-64", width, height))
	if err := trainbench.EnsureShards(shards, 64, height, width, stderr); err != nil {
		return err
	}
	model, err := trainEnsemble(work, shards, members, threads, tta)
	if err != nil {
		return err
	}
	shared, err := train.LoadModel(model)
	if err != nil {
		return err
	}
	defer shared.Close()
	var alone []*train.Model
	for _, mem := range shared.Meta().Members {
		m, err := train.LoadModel(filepath.Join(model, mem.Dir))
		if err != nil {
			return err
		}
		defer m.Close()
		alone = append(alone, m)
	}
	r := rand.New(rand.NewPCG(1, 2))
	pix := make([]byte, images*width*height*3)
	for i := range pix {
		pix[i] = byte(r.UintN(256))
	}
	fmt.Fprintf(stdout, "Started on %s; load average at start: %s.\n\n", machine.CPUModel(), machine.LoadAvg())
	var sharedIPS, aloneIPS []float64
	maxDiff := 0.0
	for round := 1; round <= rounds; round++ {
		fmt.Fprintf(stderr, "round %d/%d\n", round, rounds)
		start := time.Now()
		got, err := shared.Predict(pix, images)
		if err != nil {
			return err
		}
		sharedIPS = append(sharedIPS, float64(images)/time.Since(start).Seconds())
		start = time.Now()
		var parts [][][]float32
		for _, m := range alone {
			p, err := m.Predict(pix, images)
			if err != nil {
				return err
			}
			parts = append(parts, p)
		}
		aloneIPS = append(aloneIPS, float64(images)/time.Since(start).Seconds())
		for i := range got {
			for j := range got[i] {
				var sum float32
				for _, p := range parts {
					sum += p[i][j]
				}
				maxDiff = max(maxDiff, math.Abs(float64(got[i][j]-sum/float32(len(parts)))))
			}
		}
	}
	fmt.Fprintf(stdout, "A seed ensemble of %d dense [256] heads on a frozen EfficientNet-Lite0 (tta_flip %v), %d random %d×%d images per round, batches of 64, %d threads, %d alternating rounds in one process (the first round includes graph optimisation). Largest difference between the two paths' mean probabilities: %g.\n\n",
		members, tta, images, width, height, threads, rounds, maxDiff)
	fmt.Fprintln(stdout, "| path | images/s per round | shared ÷ alone per round |")
	fmt.Fprintln(stdout, "|---|---|---|")
	var ratios []string
	for i := range sharedIPS {
		ratios = append(ratios, fmt.Sprintf("%.2f×", sharedIPS[i]/aloneIPS[i]))
	}
	fmt.Fprintf(stdout, "| backbone once, %d heads on its features (LoadModel) | %s | %s |\n", members, join(sharedIPS), strings.Join(ratios, ", "))
	fmt.Fprintf(stdout, "| each member's whole graph (members loaded alone) | %s | |\n", join(aloneIPS))
	return nil
}

// trainEnsemble trains the ensemble once (two epochs: the heads' weights
// do not change the cost) and returns its model folder.
func trainEnsemble(work, shards string, members, threads int, tta bool) (string, error) {
	out := filepath.Join(work, fmt.Sprintf("ensemble-%d-tta-%v", members, tta))
	model := filepath.Join(out, train.ModelDir)
	if _, err := os.Stat(filepath.Join(model, train.MetaFile)); err == nil {
		return model, nil
	}
	cfg := trainconfig.Default()
	cfg.Backbone, cfg.ConvFilters, cfg.Dense, cfg.Dropout = trainconfig.BackboneEfficientNetLite0, nil, []int{256}, 0.5
	cfg.Loss, cfg.Optimizer.LearningRate, cfg.BatchSize = "sigmoid_bce", 3e-4, 64
	cfg.Epochs, cfg.Ensemble, cfg.Threads, cfg.Device, cfg.TTAFlip = 2, members, threads, "cpu", tta
	var ps stages.Problems
	cfg.Validate("/train", &ps)
	if err := ps.Err(); err != nil {
		return "", err
	}
	if err := os.RemoveAll(out); err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	env := stages.Env{OutDir: out, Workdir: work, Inputs: map[string]string{stages.Encode: shards},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := train.Run(context.Background(), cfg, env); err != nil {
		return "", err
	}
	return model, nil
}

func join(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.1f", x))
	}
	return strings.Join(s, ", ")
}
