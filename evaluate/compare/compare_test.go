package compare_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/evaluate/compare"
	"github.com/postergenre/postergenre/internal/browsertest"
	"github.com/postergenre/postergenre/stages"
)

var genres = []string{"Horror", "Romance", "Action", "Documentary"}

// rows makes n test rows whose scores separate the true genre by signal
// (0: none, larger: better), the same posters for every seed offset.
func rows(n int, signal float64, seed uint64) []evaluate.PredictionRow {
	truth := rand.New(rand.NewPCG(1, 1))
	noise := rand.New(rand.NewPCG(seed, 2))
	out := make([]evaluate.PredictionRow, n)
	for i := range out {
		g := truth.IntN(len(genres))
		r := evaluate.PredictionRow{ImdbID: int64(1000 + i), Split: "test", Label: make([]float32, len(genres)), Probabilities: make([]float32, len(genres))}
		r.Label[g] = 1
		var sum float32
		for j := range genres {
			v := float32(noise.Float64())
			if j == g {
				v += float32(signal)
			}
			r.Probabilities[j] = v
			sum += v
		}
		for j := range genres {
			r.Probabilities[j] /= sum
		}
		out[i] = r
	}
	return out
}

func headline(v float64) []stages.Metric {
	return []stages.Metric{{Key: "paper_accuracy", Label: "Paper accuracy", Value: v}, {Key: "macro_auc", Label: "Macro ROC-AUC", Value: v}}
}

func TestPaired(t *testing.T) {
	a, b := rows(120, 0.2, 3), rows(120, 1.5, 4)
	tests := []struct {
		name         string
		a, b         []evaluate.PredictionRow
		wantPositive bool // every AUC interval above 0
		wantZero     bool // every difference exactly 0
	}{
		{"a run against itself", a, a, false, true},
		{"a better run", a, b, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := compare.Headlines(headline(0.5), headline(0.6))
			gd := compare.Paired(ms, genres, tt.a, tt.b, 0.5, 0.5, 200)
			if len(gd) != len(genres) {
				t.Fatalf("%d genre diffs", len(gd))
			}
			for _, g := range gd {
				if g.AUC.Diff == nil || g.AUC.Lo == nil || g.AUC.Hi == nil {
					t.Fatalf("%s: no AUC diff or interval: %+v", g.Genre, g.AUC)
				}
				if tt.wantZero && (*g.AUC.Diff != 0 || *g.AUC.Lo != 0 || *g.AUC.Hi != 0) {
					t.Errorf("%s against itself: %+v", g.Genre, g.AUC)
				}
				if tt.wantPositive && *g.AUC.Lo <= 0 {
					t.Errorf("%s: better scores, interval [%v, %v] not above 0", g.Genre, *g.AUC.Lo, *g.AUC.Hi)
				}
			}
			if ms[0].Lo == nil || ms[1].Lo == nil {
				t.Errorf("headline intervals missing: %+v", ms)
			}
		})
	}
	if msg := compare.RowsDiffer(a, a[:100]); !strings.Contains(msg, "100 posters in both") {
		t.Errorf("RowsDiffer: %q", msg)
	}
}

// TestPageOnAPhone renders a comparison of three runs and opens it in
// headless Chromium at 390 px and 1280 px: no sideways scrolling, no text
// under 10 px, and a ROC and a PR plot per genre. With
// COMPARE_SCREENSHOTS=DIR the screenshots are kept.
func TestPageOnAPhone(t *testing.T) {
	var runs []compare.Run
	for i, signal := range []float64{0.3, 0.8, 1.5} {
		runs = append(runs, compare.Run{
			Name: "20261207T0000" + strconv.Itoa(i) + "0Z-0000000" + strconv.Itoa(i), Config: "demo",
			Headline: headline(0.5 + signal/10), Threshold: 0.5,
			Preds: compare.Predictions{Genres: genres, Rows: rows(80, signal, uint64(10+i))},
		})
	}
	params := []compare.ParamRow{{Key: "train.optimizer.learning_rate", Values: []string{"0.001", "0.003", "0.0003"}}}
	page, err := compare.Page(runs, params, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, s := range []string{"http://", "https://", "<script", "<link"} {
		if strings.Contains(html, s) {
			t.Errorf("page is not self-contained: has %q", s)
		}
	}
	file := filepath.Join(t.TempDir(), "compare.html")
	os.WriteFile(file, page, 0o644)
	for _, width := range []int{390, 1280} {
		ctx := browsertest.Open(t, width, 900)
		shot := ""
		if d := os.Getenv("COMPARE_SCREENSHOTS"); d != "" {
			shot = filepath.Join(d, "compare-"+strconv.Itoa(width)+".png")
		}
		l := browsertest.Measure(t, ctx, width, "file://"+file, shot)
		if l.ScrollWidth > width || len(l.Overflowing) > 0 {
			t.Errorf("at %d px: scrollWidth %d, overflowing %v", width, l.ScrollWidth, l.Overflowing)
		}
		if l.MinFont < 10 {
			t.Errorf("at %d px: text as small as %.1f px", width, l.MinFont)
		}
		if n := browsertest.Count(t, ctx, "svg.curve"); n != 2*len(genres) {
			t.Errorf("at %d px: %d plots, want a ROC and a PR plot per genre (%d)", width, n, 2*len(genres))
		}
		if n := browsertest.Count(t, ctx, "svg.curve polyline"); n != 2*len(genres)*len(runs) {
			t.Errorf("at %d px: %d curves, want one per run in each plot (%d)", width, n, 2*len(genres)*len(runs))
		}
	}
}
