// Command bench/explain measures a trained model's explanations and poster
// check (issue 22): what its poster-or-not detector passes and flags, and
// what a Grad-CAM heatmap costs beside a prediction.
//
//	go run ./bench/explain -model DIR -encode DIR [-photos DIR] [-n 100]
//
// Detector: the share of the encode output's test posters that look like
// posters; of synthetic non-posters (app/demodata.NonPoster: noise, flat
// colours, text pages) flagged; and, with -photos (a folder of real
// photographs and artwork that are not posters, scripts/nonposter-deps.sh),
// the share flagged, each image whole and as four poster-shaped crops.
//
// Cost, per poster over n test posters (one at a time, as serve answers):
// a prediction (Model.Analyze without explanation: probabilities and the
// poster check), the explanation of the top genre (a second session run
// with the Grad-CAM map, then the overlay PNG, as serve's ?explain=top),
// and their ratio. It prints one markdown table row per measure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/image/draw"

	"github.com/postergenre/postergenre/app/demodata"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/heatmap"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/train"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelDir := fs.String("model", "", "model folder (a train output's model/)")
	encDir := fs.String("encode", "", "the encode output it was trained on (its test split is read)")
	photos := fs.String("photos", "", "folder of real non-poster images (optional)")
	n := fs.Int("n", 100, "test posters timed")
	synth := fs.Int("synthetic", 50, "synthetic non-posters per kind")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *modelDir == "" || *encDir == "" {
		fs.Usage()
		return 2
	}
	if err := bench(*modelDir, *encDir, *photos, *n, *synth, stdout); err != nil {
		fmt.Fprintf(stderr, "bench-explain: %v\n", err)
		return 1
	}
	return 0
}

func bench(modelDir, encDir, photos string, n, synth int, w io.Writer) error {
	m, err := train.LoadModel(modelDir)
	if err != nil {
		return err
	}
	defer m.Close()
	det := m.Detector()
	if det == nil {
		return train.ErrNoDetector
	}
	man, err := encode.ReadManifest(encDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(w, "| validation posters passing (calibration, %d posters) | %.1f%% |\n", det.ValidationPosters, 100*det.ValidationPass)

	var pix [][]byte
	pass, total := 0, 0
	err = encode.ForEachRow(context.Background(), encDir, man, encode.SplitTest, func(r encode.ShardRow) error {
		a, err := m.AnalyzePixels(r.Pixels, nil)
		if err != nil {
			return err
		}
		total++
		if a.Poster.LooksLikePoster {
			pass++
		}
		if len(pix) < n {
			pix = append(pix, r.Pixels)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "| test posters looking like posters | %s |\n", share(pass, total))

	rng := rand.New(rand.NewSource(22))
	for _, kind := range demodata.NonPosterKinds {
		flagged := 0
		for range synth {
			img, err := demodata.NonPoster(kind, rng)
			if err != nil {
				return err
			}
			if flaggedImage(m, img) {
				flagged++
			}
		}
		fmt.Fprintf(w, "| synthetic non-posters flagged: %s | %s |\n", kind, share(flagged, synth))
	}
	if photos != "" {
		if err := benchPhotos(m, photos, w); err != nil {
			return err
		}
	}
	return benchCost(m, pix, w)
}

func share(k, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%% (%d of %d)", 100*float64(k)/float64(n), k, n)
}

func flaggedImage(m *train.Model, img image.Image) bool {
	a, err := m.Analyze(img, nil)
	return err == nil && !a.Poster.LooksLikePoster
}

// benchPhotos: each real non-poster whole, and four poster-shaped (2:3)
// crops of it: the largest centred one and three random ones of 50–90% of
// that size. The images that pass are named.
func benchPhotos(m *train.Model, dir string, w io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(17))
	var whole, crops, wholeN, cropsN int
	var passed []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		img, _, err := poster.Decode(raw, poster.DefaultMaxPixels)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench-explain: %s: %v (skipped)\n", e.Name(), err)
			continue
		}
		wholeN++
		if flaggedImage(m, img) {
			whole++
		} else {
			passed = append(passed, e.Name())
		}
		for _, c := range posterCrops(img, rng) {
			cropsN++
			if flaggedImage(m, c) {
				crops++
			}
		}
	}
	sort.Strings(passed)
	fmt.Fprintf(w, "| real non-posters flagged, whole (%s) | %s |\n", filepath.Base(dir), share(whole, wholeN))
	fmt.Fprintf(w, "| real non-posters flagged, poster-shaped crops | %s |\n", share(crops, cropsN))
	if len(passed) > 0 {
		fmt.Fprintf(w, "| real non-posters taken for posters | %s |\n", strings.Join(passed, ", "))
	}
	return nil
}

func posterCrops(img image.Image, rng *rand.Rand) []image.Image {
	b := img.Bounds()
	cw, ch := b.Dx(), b.Dx()*3/2
	if ch > b.Dy() {
		cw, ch = b.Dy()*2/3, b.Dy()
	}
	var out []image.Image
	for i := range 4 {
		f := 1.0
		if i > 0 {
			f = 0.5 + 0.4*rng.Float64()
		}
		w, h := max(2, int(float64(cw)*f)), max(3, int(float64(ch)*f))
		x0 := b.Min.X + (b.Dx()-w)/2
		y0 := b.Min.Y + (b.Dy()-h)/2
		if i > 0 {
			x0 = b.Min.X + rng.Intn(b.Dx()-w+1)
			y0 = b.Min.Y + rng.Intn(b.Dy()-h+1)
		}
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Copy(dst, image.Point{}, img, image.Rect(x0, y0, x0+w, y0+h), draw.Src, nil)
		out = append(out, dst)
	}
	return out
}

// benchCost times, per poster: the prediction alone, and the explanation
// of its top genre (the second run and the overlay PNG).
func benchCost(m *train.Model, pix [][]byte, w io.Writer) error {
	if len(pix) == 0 {
		return errors.New("no test posters to time")
	}
	// Warm up: the first runs of each fetch set optimise the graph.
	for range 3 {
		a, err := m.AnalyzePixels(pix[0], nil)
		if err != nil {
			return err
		}
		if _, err := m.Explain(pix[0], []int{argmax(a.Probs)}); err != nil {
			return err
		}
	}
	var pred, expl time.Duration
	for _, p := range pix {
		t0 := time.Now()
		a, err := m.AnalyzePixels(p, nil)
		if err != nil {
			return err
		}
		t1 := time.Now()
		maps, err := m.Explain(p, []int{argmax(a.Probs)})
		if err != nil {
			return err
		}
		hm := maps[0]
		if _, err := heatmap.PNG(hm.Overlay(p, heatmap.Scale(hm.InputWidth, hm.InputHeight))); err != nil {
			return err
		}
		t2 := time.Now()
		pred += t1.Sub(t0)
		expl += t2.Sub(t1)
	}
	k := float64(len(pix))
	pm, em := pred.Seconds()*1000/k, expl.Seconds()*1000/k
	fmt.Fprintf(w, "| prediction per poster (probabilities + poster check), mean of %d | %.1f ms |\n", len(pix), pm)
	fmt.Fprintf(w, "| explanation of the top genre per poster (Grad-CAM run + overlay PNG) | %.1f ms |\n", em)
	fmt.Fprintf(w, "| explanation / prediction | %.2f× |\n", em/pm)
	return nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
