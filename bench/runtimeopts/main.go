// Command bench/runtimeopts times the paper network's float32 training (the
// Go trainer, train.Run) under TensorFlow's runtime switches that leave the
// graph alone (XLA auto-clustering, oneDNN off, thread pools) against the
// default, alternating them round after round in separate processes.
// Each ratio is to the default of the same round:
//
//   - default: oneDNN kernels, intra- and inter-op pools of -threads;
//   - xla: XLA auto-clustering on CPU (TF_XLA_FLAGS=--tf_xla_auto_jit=2
//     --tf_xla_cpu_global_jit), what global_jit_level ON_2 does;
//   - eigen: oneDNN switched off (TF_ENABLE_ONEDNN_OPTS=0), TensorFlow's
//     Eigen kernels;
//   - inter-op-1: an inter-op pool of 1 (train.inter_op_threads: ops run
//     one at a time, each with -threads intra-op threads);
//   - one-thread: -threads 1, the scaling the second core gives.
//
// The question it answers (issue 24): does any of them make a training
// step faster than what the trainer does by default?
//
//	go run ./bench/runtimeopts -rows 640 -rounds 2
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
	"github.com/postergenre/postergenre/train/trainconfig"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// variant is one way of running the same training.
type variant struct {
	name, what string
	env        []string // added to the child's environment
	threads    int      // 0: -threads
	inter      int      // train.inter_op_threads (0: as threads)
}

var variants = []variant{
	{name: "default", what: "oneDNN kernels, the trainer's session options"},
	{name: "xla", what: "XLA auto-clustering on CPU (TF_XLA_FLAGS=--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit)",
		env: []string{"TF_XLA_FLAGS=--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"}},
	{name: "eigen", what: "oneDNN off: TensorFlow's Eigen kernels (TF_ENABLE_ONEDNN_OPTS=0)",
		env: []string{"TF_ENABLE_ONEDNN_OPTS=0"}},
	{name: "inter-op-1", what: "inter-op pool of 1 (train.inter_op_threads: 1): one op at a time", inter: 1},
	{name: "one-thread", what: "intra- and inter-op pools of 1 thread", threads: 1},
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runtimeopts", flag.ContinueOnError)
	work := fs.String("work", filepath.Join(os.TempDir(), "bench-runtimeopts"), "folder for the generated random 73×107 shards (kept)")
	rows := fs.Int("rows", 640, "training rows to generate (XLA trains at a few images/s here: keep it small)")
	epochs := fs.Int("epochs", 4, "epochs, the first one untimed (graph optimisation, XLA compilation); 640 images take about a second, so time several")
	threads := fs.Int("threads", 2, "TensorFlow threads (intra and inter op)")
	rounds := fs.Int("rounds", 2, "alternating rounds")
	only := fs.String("variants", "default,xla,eigen,inter-op-1,one-thread", "variants to time, comma-separated")
	mode := fs.String("mode", "", "internal: train:<threads>:<inter-op threads> runs one measurement in this process")
	shards := fs.String("shards", "", "internal: the shards -mode trains on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := func() error {
		if t, ok := strings.CutPrefix(*mode, "train:"); ok {
			var n, inter int
			if _, err := fmt.Sscanf(t, "%d:%d", &n, &inter); err != nil {
				return fmt.Errorf("-mode %q: want train:<threads>:<inter-op threads>: %w", *mode, err)
			}
			cfg := trainconfig.Default()
			cfg.Epochs, cfg.Threads, cfg.InterOpThreads, cfg.Device = *epochs, n, inter, "cpu"
			return trainbench.ChildMain(stdout, *shards, cfg, "go")
		}
		chosen, err := pick(*only)
		if err != nil {
			return err
		}
		dir := filepath.Join(*work, "random-73x107-"+strconv.Itoa(*rows))
		if err := trainbench.EnsureShards(dir, *rows, 107, 73, stderr); err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Started on %s; load average at start: %s.\n\n", machine.CPUModel(), machine.LoadAvg())
		per := make(map[string][]float64)
		for r := 1; r <= *rounds; r++ {
			for _, v := range chosen {
				n := *threads
				if v.threads > 0 {
					n = v.threads
				}
				fmt.Fprintf(stderr, "round %d/%d: %s…\n", r, *rounds, v.name)
				cmd := exec.Command(self, "-mode", fmt.Sprintf("train:%d:%d", n, v.inter), "-shards", dir, "-epochs", strconv.Itoa(*epochs))
				cmd.Env = append(os.Environ(), v.env...)
				res, err := trainbench.Child(cmd, stderr)
				if err != nil {
					return fmt.Errorf("%s: %w", v.name, err)
				}
				per[v.name] = append(per[v.name], res.ImagesPerSecond)
			}
		}
		fmt.Fprintf(stdout, "Paper network, float32, random 73×107 posters, %d training images per epoch, batch 32, %d threads unless said, %d timed epoch(s) after 1 warm-up, %d alternating rounds; each round's ratio is to the default of the same round.\n\n",
			*rows, *threads, *epochs-1, *rounds)
		fmt.Fprintln(stdout, "| variant | what | images/s per round | ÷ default per round |")
		fmt.Fprintln(stdout, "|---|---|---|---|")
		base := per["default"]
		for _, v := range chosen {
			var ips, ratio []string
			for i, x := range per[v.name] {
				ips = append(ips, fmt.Sprintf("%.1f", x))
				if i < len(base) && base[i] > 0 {
					ratio = append(ratio, fmt.Sprintf("%.2f×", x/base[i]))
				}
			}
			fmt.Fprintf(stdout, "| %s | %s | %s | %s |\n", v.name, v.what, strings.Join(ips, ", "), strings.Join(ratio, ", "))
		}
		return nil
	}(); err != nil {
		fmt.Fprintln(stderr, "runtimeopts:", err)
		return 1
	}
	return 0
}

// pick returns the named variants in the order given; default comes first
// whether named or not, since every ratio is to it.
func pick(list string) ([]variant, error) {
	out := []variant{variants[0]}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || name == "default" {
			continue
		}
		found := false
		for _, v := range variants {
			if v.name == name {
				out, found = append(out, v), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown variant %q (have default, xla, eigen, inter-op-1, one-thread)", name)
		}
	}
	return out, nil
}
