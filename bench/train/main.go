// Command bench/train measures training throughput of the paper's network:
// the Go trainer (train.Run through TensorFlow's C API) against the same
// architecture in Keras (TF 2.18, the same wheel) on the same shards, batch
// size and thread count. Each runs in its own process so that peak RSS
// (VmHWM) is its own. The first epoch is warm-up; later epochs are timed.
//
//	go run ./bench/train                     # random 73×107 shards
//	go run ./bench/train -shards work/real/encode/<fp>
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/postergenre/postergenre/bench/internal/trainbench"
	"github.com/postergenre/postergenre/train/trainconfig"
)

type result = trainbench.Result

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-train", flag.ContinueOnError)
	shards := fs.String("shards", "", "encode output folder; empty or without manifest.json: generate random 73×107 shards (into it, kept, if named)")
	rows := fs.Int("rows", 3200, "training rows to generate when -shards is empty")
	batch := fs.Int("batch", 32, "batch size")
	epochs := fs.Int("epochs", 3, "epochs, the first one untimed")
	threads := fs.Int("threads", 2, "TensorFlow threads (intra and inter op)")
	python := fs.String("python", ".venv-keras/bin/python", "Python with tensorflow-cpu==2.18.0 and pyarrow")
	script := fs.String("script", "bench/train/keras_bench.py", "the Keras side")
	rounds := fs.Int("rounds", 2, "alternating rounds; each side's best images/s and largest peak RSS are reported")
	mode := fs.String("mode", "", "internal: 'ours' runs the Go side in this process")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := func() error {
		if *mode == "ours" {
			cfg := trainconfig.Default()
			cfg.BatchSize, cfg.Epochs, cfg.Threads, cfg.Device = *batch, *epochs, *threads, "cpu"
			return trainbench.ChildMain(stdout, *shards, cfg, "go (graft)")
		}
		dir := *shards
		if dir != "" {
			// A folder without shards: generate them there and keep them.
			if err := trainbench.EnsureShards(dir, *rows, 107, 73, stderr); err != nil {
				return err
			}
		}
		if dir == "" {
			tmp, err := os.MkdirTemp("", "bench-train-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if err := trainbench.Generate(tmp, *rows, 107, 73); err != nil {
				return err
			}
			dir = tmp
			fmt.Fprintf(stderr, "generated %d random 73×107 training posters in %s\n", *rows, dir)
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		common := []string{"-shards", dir, "-batch", strconv.Itoa(*batch), "-epochs", strconv.Itoa(*epochs), "-threads", strconv.Itoa(*threads)}
		// Alternate the two, round after round, and keep each one's best:
		// other work on the machine only ever slows a run down.
		var a, k result
		for r := 1; r <= *rounds; r++ {
			fmt.Fprintf(stderr, "round %d/%d: the Go trainer…\n", r, *rounds)
			ra, err := trainbench.Child(exec.Command(self, append([]string{"-mode", "ours"}, common...)...), stderr)
			if err != nil {
				return fmt.Errorf("go trainer: %w", err)
			}
			fmt.Fprintf(stderr, "round %d/%d: Keras…\n", r, *rounds)
			rk, err := trainbench.Child(exec.Command(*python, *script, "--shards", dir, "--batch", strconv.Itoa(*batch),
				"--epochs", strconv.Itoa(*epochs), "--threads", strconv.Itoa(*threads)), stderr)
			if err != nil {
				return fmt.Errorf("keras: %w", err)
			}
			fmt.Fprintf(stderr, "round %d: go %.1f img/s, keras %.1f img/s\n", r, ra.ImagesPerSecond, rk.ImagesPerSecond)
			a.Impl, a.Images, a.TFVersion = ra.Impl, ra.Images, ra.TFVersion
			k.Impl, k.Images, k.TFVersion = rk.Impl, rk.Images, rk.TFVersion
			a.ImagesPerSecond, k.ImagesPerSecond = max(a.ImagesPerSecond, ra.ImagesPerSecond), max(k.ImagesPerSecond, rk.ImagesPerSecond)
			a.BestEpoch, k.BestEpoch = max(a.BestEpoch, ra.BestEpoch), max(k.BestEpoch, rk.BestEpoch)
			a.PeakRSSBytes, k.PeakRSSBytes = max(a.PeakRSSBytes, ra.PeakRSSBytes), max(k.PeakRSSBytes, rk.PeakRSSBytes)
		}
		fmt.Fprintf(stdout, "Training throughput, paper network, %d×%d input, batch %d, %d threads, %d images/epoch, %d timed epoch(s) after 1 warm-up, best of %d alternating rounds, TF %s\n\n",
			73, 107, *batch, *threads, a.Images, *epochs-1, *rounds, a.TFVersion)
		fmt.Fprintln(stdout, "| implementation | images/s (mean of timed epochs) | images/s (fastest epoch) | peak RSS (MiB) |")
		fmt.Fprintln(stdout, "|---|---:|---:|---:|")
		for _, r := range []result{a, k} {
			fmt.Fprintf(stdout, "| %s | %.1f | %.1f | %.0f |\n", r.Impl, r.ImagesPerSecond, r.BestEpoch, float64(r.PeakRSSBytes)/(1<<20))
		}
		fmt.Fprintf(stdout, "| ratio go/keras | %.2f× | %.2f× | %.2f× |\n", a.ImagesPerSecond/k.ImagesPerSecond,
			a.BestEpoch/k.BestEpoch, float64(a.PeakRSSBytes)/float64(k.PeakRSSBytes))
		return nil
	}(); err != nil {
		fmt.Fprintln(stderr, "bench-train:", err)
		return 1
	}
	return 0
}
