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
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
	"github.com/postergenre/postergenre/train/trainconfig"
)

type result struct {
	Impl            string  `json:"impl"`
	Images          int     `json:"images"`
	ImagesPerSecond float64 `json:"images_per_second"`            // mean over the timed epochs
	BestEpoch       float64 `json:"best_epoch_images_per_second"` // fastest timed epoch
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
	TFVersion       string  `json:"tf_version"`
}

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
			return ours(*shards, *batch, *epochs, *threads, stdout)
		}
		dir := *shards
		if _, err := os.Stat(filepath.Join(dir, encode.ManifestFile)); dir != "" && err != nil {
			// A folder without shards: generate them there and keep them.
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := generate(dir, *rows, 107, 73); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "generated %d random 73×107 training posters in %s\n", *rows, dir)
		}
		if dir == "" {
			tmp, err := os.MkdirTemp("", "bench-train-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if err := generate(tmp, *rows, 107, 73); err != nil {
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
			ra, err := child(exec.Command(self, append([]string{"-mode", "ours"}, common...)...), stderr)
			if err != nil {
				return fmt.Errorf("go trainer: %w", err)
			}
			fmt.Fprintf(stderr, "round %d/%d: Keras…\n", r, *rounds)
			rk, err := child(exec.Command(*python, *script, "--shards", dir, "--batch", strconv.Itoa(*batch),
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

// child runs a benchmark process and decodes the last JSON line it prints.
func child(cmd *exec.Cmd, stderr io.Writer) (result, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return result{}, err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return result{}, fmt.Errorf("output %q: %w", out.String(), err)
	}
	return r, nil
}

// ours trains with train.Run and reports the timed epochs' images/s.
func ours(dir string, batch, epochs, threads int, stdout io.Writer) error {
	out, err := os.MkdirTemp("", "bench-train-out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cfg := trainconfig.Default()
	cfg.BatchSize, cfg.Epochs, cfg.Threads, cfg.Device = batch, epochs, threads, "cpu"
	env := stages.Env{OutDir: out, Inputs: map[string]string{stages.Encode: dir},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if _, err := train.Run(context.Background(), cfg, env); err != nil {
		return err
	}
	hist, err := train.ReadHistory(out)
	if err != nil {
		return err
	}
	if len(hist) < 2 {
		return fmt.Errorf("need at least 2 epochs, got %d", len(hist))
	}
	raw, err := os.ReadFile(filepath.Join(dir, encode.ManifestFile))
	if err != nil {
		return err
	}
	var m encode.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	images := m.Splits[encode.SplitTrain]
	var secs float64
	for _, h := range hist[1:] {
		secs += float64(images) / h.ImagesPerSecond
	}
	best := 0.0
	for _, h := range hist[1:] {
		best = max(best, h.ImagesPerSecond)
	}
	r := result{Impl: "go (graft)", Images: images, ImagesPerSecond: float64(images*len(hist[1:])) / secs, BestEpoch: best,
		PeakRSSBytes: vmHWM(), TFVersion: tfVersion()}
	return json.NewEncoder(stdout).Encode(r)
}

func vmHWM() int64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// generate writes random posters (content does not affect throughput):
// rows training rows plus 64 validation rows, 4 genres, multi-hot labels.
func generate(dir string, rows, h, w int) error {
	genres := []string{"Horror", "Romance", "Action", "Documentary"}
	rng := rand.New(rand.NewPCG(1, 2))
	man := encode.Manifest{Genres: genres, Vocabulary: genres, LabelMode: "multi_hot", Height: h, Width: w, Channels: 3,
		Splits: map[string]int{}, GenreCounts: map[string]map[string]int{}}
	const perShard = 1000
	total := rows + 64
	for s := 0; s*perShard < total; s++ {
		name := fmt.Sprintf("shard-%05d.parquet", s)
		info := encode.ShardInfo{File: name, Splits: map[string]int{}}
		var part []encode.ShardRow
		for i := s * perShard; i < min((s+1)*perShard, total); i++ {
			split := encode.SplitTrain
			if i >= rows {
				split = encode.SplitValidation
			}
			pix := make([]byte, h*w*3)
			for j := range pix {
				pix[j] = byte(rng.Uint32())
			}
			label := make([]float32, len(genres))
			label[rng.IntN(len(genres))] = 1
			if rng.IntN(3) == 0 {
				label[rng.IntN(len(genres))] = 1
			}
			if man.GenreCounts[split] == nil {
				man.GenreCounts[split] = map[string]int{}
			}
			var gs []string
			for k, l := range label {
				if l > 0 {
					gs = append(gs, genres[k])
					man.GenreCounts[split][genres[k]]++
				}
			}
			part = append(part, encode.ShardRow{ImdbID: int64(i + 1), Title: "random", Year: 2000, Genres: gs, Label: label,
				Split: split, Height: int32(h), Width: int32(w), Pixels: pix})
			info.Splits[split]++
			man.Splits[split]++
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		wr := parquet.NewGenericWriter[encode.ShardRow](f)
		if _, err := wr.Write(part); err != nil {
			f.Close()
			return err
		}
		if err := wr.Close(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		info.Rows = len(part)
		man.Rows += len(part)
		man.Shards = append(man.Shards, info)
	}
	raw, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, encode.ManifestFile), raw, 0o644)
}
