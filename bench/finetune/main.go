// Command bench/finetune times fine-tuning the pretrained backbone (issue
// 23): the top N layers of EfficientNet-Lite0 trained with the head, on
// the cached activation below them, float32 against bfloat16 (TensorFlow's
// oneDNN auto-mixed-precision rewrite), each in its own process so that
// peak RSS (VmHWM) is its own, alternating round after round. The first
// epoch is warm-up (it also computes the frozen part's cache, which is
// not timed: an epoch's images/s counts the training pass only).
//
//	go run ./bench/finetune -rows 640 -rounds 2
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/bench/internal/machine"
	"github.com/postergenre/postergenre/bench/internal/trainbench"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train/trainconfig"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// variant is one timed training.
type variant struct {
	fineTune  int
	precision string
}

func (v variant) name() string { return fmt.Sprintf("top %d, %s", v.fineTune, v.precision) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	work := fs.String("work", filepath.Join(os.TempDir(), "bench-finetune"), "folder for the generated random posters (kept)")
	rows := fs.Int("rows", 640, "training rows to generate")
	width := fs.Int("width", 224, "poster width")
	height := fs.Int("height", 320, "poster height (224×320: configs/paper-finetune.yaml's input)")
	layers := fs.String("fine-tune", "5,8", "fine_tune values to time, comma-separated")
	epochs := fs.Int("epochs", 3, "epochs, the first one untimed")
	threads := fs.Int("threads", 2, "TensorFlow threads")
	rounds := fs.Int("rounds", 2, "alternating rounds")
	mode := fs.String("mode", "", "internal: train:<fine_tune>:<precision> runs one measurement in this process")
	shards := fs.String("shards", "", "internal: the shards -mode trains on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := func() error {
		if t, ok := strings.CutPrefix(*mode, "train:"); ok {
			n, prec, ok := strings.Cut(t, ":")
			ft, err := strconv.Atoi(n)
			if !ok || err != nil {
				return fmt.Errorf("-mode %q: want train:<fine_tune>:<precision>", *mode)
			}
			return trainbench.ChildMain(stdout, *shards, config(ft, prec, *epochs, *threads), "go")
		}
		var vs []variant
		for _, s := range strings.Split(*layers, ",") {
			ft, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || ft < 1 {
				return fmt.Errorf("-fine-tune %q: want positive layer counts", *layers)
			}
			vs = append(vs, variant{ft, "float32"}, variant{ft, "bfloat16"})
		}
		for _, v := range vs {
			var ps stages.Problems
			cfg := config(v.fineTune, v.precision, *epochs, *threads)
			cfg.Validate("/train", &ps)
			if err := ps.Err(); err != nil {
				return err
			}
		}
		dir := filepath.Join(*work, fmt.Sprintf("random-%dx%d-%d", *width, *height, *rows))
		if err := trainbench.EnsureShards(dir, *rows, *height, *width, stderr); err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Started on %s; load average at start: %s.\n\n", machine.CPUModel(), machine.LoadAvg())
		ips := map[variant][]float64{}
		rss := map[variant]int64{}
		for r := 1; r <= *rounds; r++ {
			for _, v := range vs {
				fmt.Fprintf(stderr, "round %d/%d: %s…\n", r, *rounds, v.name())
				cmd := exec.Command(self, "-mode", fmt.Sprintf("train:%d:%s", v.fineTune, v.precision), "-shards", dir,
					"-epochs", strconv.Itoa(*epochs), "-threads", strconv.Itoa(*threads))
				res, err := trainbench.Child(cmd, stderr)
				if err != nil {
					return fmt.Errorf("%s: %w", v.name(), err)
				}
				ips[v] = append(ips[v], res.ImagesPerSecond)
				rss[v] = max(rss[v], res.PeakRSSBytes)
			}
		}
		fmt.Fprintf(stdout, "EfficientNet-Lite0 fine-tuned on the cached activation below the top N layers (no flips), dense [256] head, random %d×%d posters, %d training images per epoch, batch 64, %d threads, %d timed epoch(s) after 1 warm-up (which also fills the cache), %d alternating rounds; each bfloat16 ratio is to float32 of the same N in the same round.\n\n",
			*width, *height, *rows, *threads, *epochs-1, *rounds)
		fmt.Fprintln(stdout, "| trained layers | precision | images/s per round | bf16 ÷ f32 per round | peak RSS (MiB) |")
		fmt.Fprintln(stdout, "|---:|---|---|---|---:|")
		for _, v := range vs {
			var xs, ratio []string
			base := ips[variant{v.fineTune, "float32"}]
			for i, x := range ips[v] {
				xs = append(xs, fmt.Sprintf("%.1f", x))
				if v.precision != "float32" && i < len(base) && base[i] > 0 {
					ratio = append(ratio, fmt.Sprintf("%.2f×", x/base[i]))
				}
			}
			fmt.Fprintf(stdout, "| %d | %s | %s | %s | %d |\n", v.fineTune, v.precision, strings.Join(xs, ", "), strings.Join(ratio, ", "), rss[v]>>20)
		}
		return nil
	}(); err != nil {
		fmt.Fprintln(stderr, "finetune:", err)
		return 1
	}
	return 0
}

// config is configs/paper-transfer.yaml's head on Lite0 with the top
// fineTune layers trained at a tenth of its rate, as paper-finetune.yaml.
func config(fineTune int, precision string, epochs, threads int) trainconfig.Config {
	cfg := trainconfig.Default()
	cfg.Backbone, cfg.FineTune, cfg.BackboneLRScale = trainconfig.BackboneEfficientNetLite0, fineTune, 0.1
	cfg.ConvFilters, cfg.Dense, cfg.Dropout = nil, []int{256}, 0.5
	cfg.Optimizer.LearningRate, cfg.BatchSize = 3e-4, 64
	cfg.Precision, cfg.Epochs, cfg.Threads, cfg.Device = precision, epochs, threads, "cpu"
	return cfg
}
