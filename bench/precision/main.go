// Command bench/precision measures what bfloat16 buys on this CPU: a
// matmul probe through TensorFlow (the CPU's measured peak FLOP/s per
// precision) and training throughput of the paper's network at 73×107 and
// at full.yaml's 150×200, float32 and bfloat16, ours (train.Run with
// train.precision) and Keras (with the mixed_bfloat16 policy for bfloat16).
// Every measurement runs in its own process (peak RSS = VmHWM); rounds
// alternate all rows so that load on the shared machine hits them alike,
// and each row keeps its best round. The bf16/f32 ratios are also given per
// round, from runs made minutes apart.
//
//	go run ./bench/precision -shards work/real/stages/encode/<fp>
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/postergenre/postergenre/bench/internal/machine"
	"github.com/postergenre/postergenre/bench/internal/trainbench"
	"github.com/postergenre/postergenre/internal/tfsession"
	"github.com/postergenre/postergenre/train/trainconfig"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// size is one input size of the paper's network.
type size struct {
	Name          string
	Height, Width int
	Dir           string // shards
}

// row is one training configuration and its best measurement.
type row struct {
	Size      size
	Impl      string // go | keras
	Precision tfsession.Precision
	Best      trainbench.Result
	PerRound  []float64 // images/s per round
	Converted string    // grappler's "Converted a/b nodes" for the train step (go, bfloat16)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-precision", flag.ContinueOnError)
	shards := fs.String("shards", "", "encode output at 73×107 (the paper's input); empty: random posters in -work")
	work := fs.String("work", filepath.Join(os.TempDir(), "bench-precision"), "folder for generated random shards (kept)")
	rows := fs.Int("rows", 1600, "training rows to generate per random size")
	batch := fs.Int("batch", 32, "batch size")
	epochs := fs.Int("epochs", 3, "epochs, the first one untimed")
	threads := fs.Int("threads", 2, "TensorFlow threads (intra and inter op)")
	rounds := fs.Int("rounds", 2, "alternating rounds")
	n := fs.Int("n", 2048, "matmul probe size (n×n by n×n)")
	probeRuns := fs.Int("probe-runs", 5, "timed matmuls per probe")
	python := fs.String("python", ".venv-keras/bin/python", "Python with tensorflow-cpu==2.18.0 and pyarrow")
	script := fs.String("script", "bench/train/keras_bench.py", "the Keras side")
	mode := fs.String("mode", "", "internal: probe:<kind> or train:<precision> runs one measurement in this process")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := func() error {
		switch {
		case strings.HasPrefix(*mode, "probe:"):
			r, err := probe(strings.TrimPrefix(*mode, "probe:"), *n, *probeRuns, *threads)
			if err != nil {
				return err
			}
			return json.NewEncoder(stdout).Encode(r)
		case strings.HasPrefix(*mode, "train:"):
			cfg := trainconfig.Default()
			cfg.BatchSize, cfg.Epochs, cfg.Threads, cfg.Device = *batch, *epochs, *threads, "cpu"
			cfg.Precision = strings.TrimPrefix(*mode, "train:")
			return trainbench.ChildMain(stdout, *shards, cfg, "go")
		case *mode != "":
			return fmt.Errorf("unknown -mode %q", *mode)
		}
		fmt.Fprintf(stdout, "Started %s on %d cores of %s (%s); load average at start: %s.\n\n",
			time.Now().UTC().Format("2006-01-02T15:04Z"), runtime.NumCPU(), machine.CPUModel(), cpuFlags(), machine.LoadAvg())
		paper := size{Name: "paper 73×107", Height: 107, Width: 73, Dir: *shards}
		if paper.Dir == "" {
			paper.Dir = filepath.Join(*work, "random-73x107")
		}
		full := size{Name: "full.yaml 150×200", Height: 200, Width: 150, Dir: filepath.Join(*work, "random-150x200")}
		for _, s := range []size{paper, full} {
			if err := trainbench.EnsureShards(s.Dir, *rows, s.Height, s.Width, stderr); err != nil {
				return fmt.Errorf("shards %s: %w", s.Dir, err)
			}
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		common := []string{"-batch", strconv.Itoa(*batch), "-epochs", strconv.Itoa(*epochs), "-threads", strconv.Itoa(*threads)}
		kinds := []string{"float32", "bfloat16-cast", "bfloat16-rewrite"}
		probes := map[string]probeResult{}
		var table []*row
		for _, s := range []size{paper, full} {
			for _, p := range []tfsession.Precision{tfsession.Float32, tfsession.BFloat16} {
				for _, impl := range []string{"go", "keras"} {
					table = append(table, &row{Size: s, Impl: impl, Precision: p})
				}
			}
		}
		for r := 1; r <= *rounds; r++ {
			for _, k := range kinds {
				fmt.Fprintf(stderr, "round %d/%d: matmul probe %s…\n", r, *rounds, k)
				var pr probeResult
				if err := childJSON(exec.Command(self, "-mode", "probe:"+k, "-n", strconv.Itoa(*n),
					"-probe-runs", strconv.Itoa(*probeRuns), "-threads", strconv.Itoa(*threads)), nil, stderr, &pr); err != nil {
					return fmt.Errorf("probe %s: %w", k, err)
				}
				if pr.FLOPs > probes[k].FLOPs {
					probes[k] = pr
				}
			}
			for _, t := range table {
				fmt.Fprintf(stderr, "round %d/%d: %s %s %s…\n", r, *rounds, t.Size.Name, t.Impl, t.Precision)
				var res trainbench.Result
				var log bytes.Buffer
				var cmd *exec.Cmd
				if t.Impl == "go" {
					cmd = exec.Command(self, append([]string{"-mode", "train:" + string(t.Precision), "-shards", t.Size.Dir}, common...)...)
					// grappler reports its rewrite at INFO level.
					cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=0")
				} else {
					cmd = exec.Command(*python, *script, "--shards", t.Size.Dir, "--batch", strconv.Itoa(*batch),
						"--epochs", strconv.Itoa(*epochs), "--threads", strconv.Itoa(*threads), "--precision", string(t.Precision))
				}
				if err := childJSON(cmd, &log, stderr, &res); err != nil {
					return fmt.Errorf("%s %s %s: %w", t.Size.Name, t.Impl, t.Precision, err)
				}
				if t.Impl == "go" && t.Precision == tfsession.BFloat16 {
					c := converted(log.String())
					if c == "" {
						return fmt.Errorf("%s go bfloat16: grappler did not report a bfloat16 rewrite", t.Size.Name)
					}
					t.Converted = c
				}
				t.PerRound = append(t.PerRound, res.ImagesPerSecond)
				if res.ImagesPerSecond > t.Best.ImagesPerSecond {
					peak := t.Best.PeakRSSBytes
					t.Best = res
					t.Best.PeakRSSBytes = max(peak, res.PeakRSSBytes)
				} else {
					t.Best.PeakRSSBytes = max(t.Best.PeakRSSBytes, res.PeakRSSBytes)
				}
			}
		}
		report(stdout, table, probes, kinds, *batch, *threads, *epochs, *rounds, *n)
		return nil
	}(); err != nil {
		fmt.Fprintln(stderr, "bench-precision:", err)
		return 1
	}
	return 0
}

// peakFor is the probe that stands for a precision's peak: float32's, and
// for bfloat16 the faster of the in-graph cast and the session rewrite.
func peakFor(p tfsession.Precision, probes map[string]probeResult) float64 {
	if p == tfsession.BFloat16 {
		return max(probes["bfloat16-cast"].FLOPs, probes["bfloat16-rewrite"].FLOPs)
	}
	return probes["float32"].FLOPs
}

func report(w io.Writer, table []*row, probes map[string]probeResult, kinds []string, batch, threads, epochs, rounds, n int) {
	fmt.Fprintf(w, "Matmul probe through TensorFlow: %d×%d by %d×%d, %d threads, best run of the best round\n\n", n, n, n, n, threads)
	fmt.Fprintln(w, "| probe | GFLOP/s (best run) | GFLOP/s (mean of runs) | × float32 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, k := range kinds {
		p := probes[k]
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.2f× |\n", k, p.FLOPs/1e9, p.MeanFLOP/1e9, p.FLOPs/probes["float32"].FLOPs)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Training, paper network (4 genres), batch %d, %d threads, %d timed epoch(s) after 1 warm-up, best of %d alternating rounds. "+
		"Share of peak = analytic forward+backward FLOP per image × images/s ÷ the probe's FLOP/s for that precision (bfloat16: the faster bf16 probe).\n\n",
		batch, threads, epochs-1, rounds)
	fmt.Fprintln(w, "| input | implementation | precision | images/epoch | images/s (best round) | images/s per round | bf16 ÷ f32 | fwd+bwd MFLOP/image | share of peak | peak RSS (MiB) |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---|---:|---:|---:|---:|")
	for _, t := range table {
		flop := trainFLOPs(t.Size.Height, t.Size.Width, trainconfig.Default().ConvFilters, trainconfig.Default().Dense, 4)
		ratio := ""
		if t.Precision == tfsession.BFloat16 {
			for _, f := range table {
				if f.Size == t.Size && f.Impl == t.Impl && f.Precision == tfsession.Float32 {
					ratio = fmt.Sprintf("%.2f×", t.Best.ImagesPerSecond/f.Best.ImagesPerSecond)
				}
			}
		}
		var per []string
		for _, v := range t.PerRound {
			per = append(per, fmt.Sprintf("%.1f", v))
		}
		impl := t.Impl
		if t.Impl == "keras" && t.Precision == tfsession.BFloat16 {
			impl = "keras (mixed_bfloat16)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %.1f | %s | %s | %.1f | %.1f%% | %.0f |\n", t.Size.Name, impl, t.Precision,
			t.Best.Images, t.Best.ImagesPerSecond, strings.Join(per, ", "), ratio, flop/1e6,
			100*flop*t.Best.ImagesPerSecond/peakFor(t.Precision, probes), float64(t.Best.PeakRSSBytes)/(1<<20))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ours against Keras (best rounds above):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| input | precision | ours (Go) images/s | Keras images/s | ours ÷ Keras | share of peak (ours) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	for _, t := range table {
		if t.Impl != "go" {
			continue
		}
		for _, k := range table {
			if k.Impl == "keras" && k.Size == t.Size && k.Precision == t.Precision && k.Best.ImagesPerSecond > 0 {
				flop := trainFLOPs(t.Size.Height, t.Size.Width, trainconfig.Default().ConvFilters, trainconfig.Default().Dense, 4)
				fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %.2f× | %.1f%% |\n", t.Size.Name, t.Precision, t.Best.ImagesPerSecond,
					k.Best.ImagesPerSecond, t.Best.ImagesPerSecond/k.Best.ImagesPerSecond, 100*flop*t.Best.ImagesPerSecond/peakFor(t.Precision, probes))
			}
		}
	}
	fmt.Fprintln(w)
	for _, t := range table {
		if t.Converted != "" {
			fmt.Fprintf(w, "- %s, go bfloat16: grappler's auto_mixed_precision_onednn_bfloat16 reported %s.\n", t.Size.Name, t.Converted)
		}
	}
}

var convertedRE = regexp.MustCompile(`Converted (\d+)/(\d+) nodes to bfloat16 precision using (\d+) cast\(s\)`)

// converted summarises grappler's rewrite reports in a training log: one per
// subgraph it optimised (init, train step, evaluation...), the largest first.
func converted(log string) string {
	var out []string
	best := -1
	for _, m := range convertedRE.FindAllStringSubmatch(log, -1) {
		s := fmt.Sprintf("%s/%s nodes converted with %s casts", m[1], m[2], m[3])
		if k, _ := strconv.Atoi(m[1]); k > best {
			best = k
			out = append([]string{s}, out...)
		} else {
			out = append(out, s)
		}
	}
	return strings.Join(out, "; ")
}

// childJSON runs cmd, copies its stderr to stderr (and into log when not
// nil) and decodes the last line of its stdout into v.
func childJSON(cmd *exec.Cmd, log *bytes.Buffer, stderr io.Writer, v any) error {
	var out bytes.Buffer
	cmd.Stdout = &out
	if log != nil {
		cmd.Stderr = io.MultiWriter(stderr, log)
	} else {
		cmd.Stderr = stderr
	}
	if err := cmd.Run(); err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) == 0 || lines[len(lines)-1] == "" {
		return errors.New("no output")
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		return fmt.Errorf("output %q: %w", out.String(), err)
	}
	return nil
}

// cpuFlags names the CPU's vector and matrix extensions that decide the
// kernels oneDNN runs, and says whether it has native bfloat16.
func cpuFlags() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	have := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				have[f] = true
			}
			break
		}
	}
	var fs []string
	for _, f := range []string{"avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"} {
		if have[f] {
			fs = append(fs, f)
		}
	}
	bf16 := "no native bfloat16: TensorFlow emulates it"
	if have["avx512_bf16"] || have["amx_bf16"] {
		bf16 = "native bfloat16"
	}
	return strings.Join(fs, " ") + "; " + bf16
}
