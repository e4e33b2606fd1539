// Package trainbench holds what the training benchmarks (bench/train,
// bench/precision) share: random poster shards, one training run of the Go
// trainer measured in its own process, and the process's peak RSS.
package trainbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/internal/procstat"
	"github.com/postergenre/postergenre/internal/tfinfo"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// Result is one training measurement, as a child process prints it (one
// JSON line; the Keras script prints the same fields).
type Result struct {
	Impl            string  `json:"impl"`
	Images          int     `json:"images"`
	ImagesPerSecond float64 `json:"images_per_second"`            // mean over the timed epochs
	BestEpoch       float64 `json:"best_epoch_images_per_second"` // fastest timed epoch
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
	TFVersion       string  `json:"tf_version"`
}

// Child runs a benchmark process and decodes the last JSON line it prints.
func Child(cmd *exec.Cmd, stderr io.Writer) (Result, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return Result{}, err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return Result{}, fmt.Errorf("output %q: %w", out.String(), err)
	}
	return r, nil
}

// Ours trains cfg with train.Run on the shards in dir and returns the
// images/s of the epochs after the first (warm-up: graph optimisation,
// oneDNN primitive creation) and this process's peak RSS.
func Ours(dir string, cfg trainconfig.Config, impl string) (Result, error) {
	out, err := os.MkdirTemp("", "bench-train-out-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(out)
	env := stages.Env{OutDir: out, Inputs: map[string]string{stages.Encode: dir},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if _, err := train.Run(context.Background(), cfg, env); err != nil {
		return Result{}, err
	}
	hist, err := train.ReadHistory(out)
	if err != nil {
		return Result{}, err
	}
	if len(hist) < 2 {
		return Result{}, fmt.Errorf("need at least 2 epochs, got %d", len(hist))
	}
	raw, err := os.ReadFile(filepath.Join(dir, encode.ManifestFile))
	if err != nil {
		return Result{}, err
	}
	var m encode.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Result{}, fmt.Errorf("%s: %w", filepath.Join(dir, encode.ManifestFile), err)
	}
	images := m.Splits[encode.SplitTrain]
	var secs, best float64
	for _, h := range hist[1:] {
		secs += float64(images) / h.ImagesPerSecond
		best = max(best, h.ImagesPerSecond)
	}
	return Result{Impl: impl, Images: images, ImagesPerSecond: float64(images*len(hist[1:])) / secs, BestEpoch: best,
		PeakRSSBytes: peakRSS(), TFVersion: tfinfo.Version()}, nil
}

// ChildMain is a benchmark's child side: it trains cfg on the shards in
// dir (Ours) and prints the result as the JSON line Child reads.
func ChildMain(stdout io.Writer, dir string, cfg trainconfig.Config, impl string) error {
	r, err := Ours(dir, cfg, impl)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(r)
}

// Generate writes random h×w posters into dir (content does not affect
// throughput): rows training rows plus 64 validation rows, 4 genres,
// multi-hot labels, and the manifest.
func Generate(dir string, rows, h, w int) error {
	genres := []string{"Horror", "Romance", "Action", "Documentary"}
	rng := rand.New(rand.NewPCG(1, 2))
	man := encode.Manifest{Genres: genres, Vocabulary: genres, LabelMode: encodeconfig.LabelMulti, Height: h, Width: w, Channels: 3,
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
		if err := writeShard(filepath.Join(dir, name), part); err != nil {
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

func writeShard(path string, rows []encode.ShardRow) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	wr := parquet.NewGenericWriter[encode.ShardRow](f)
	if _, err := wr.Write(rows); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := wr.Close(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// EnsureShards returns dir when it holds an encode manifest; otherwise it
// generates rows random h×w posters into dir (created, kept) and says so.
func EnsureShards(dir string, rows, h, w int, log io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, encode.ManifestFile)); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := Generate(dir, rows, h, w); err != nil {
		return err
	}
	fmt.Fprintf(log, "generated %d random %d×%d training posters in %s\n", rows, w, h, dir)
	return nil
}

// peakRSS is this process's peak resident set size in bytes (0 if unknown).
func peakRSS() int64 {
	n, _ := procstat.PeakRSS()
	return n
}
