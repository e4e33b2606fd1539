package evaluate_test

import (
	"math/rand/v2"
	"testing"

	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/evaluate/report"
)

// scores draws n rows over g genres from a model better than chance.
func scores(n, g int, seed uint64) report.Split {
	rng := rand.New(rand.NewPCG(seed, 3))
	var sp report.Split
	for i := 0; i < n; i++ {
		y, s := make([]bool, g), make([]float64, g)
		y[rng.IntN(g)] = true
		for j := range s {
			s[j] = rng.Float64()
			if y[j] {
				s[j] += 0.7
			}
		}
		sp.Y, sp.S = append(sp.Y, y), append(sp.S, s)
	}
	return sp
}

// TestHeadlineFollowsTopK: the headline names the top-k hit rate of the
// configured k (at most the number of genres), and Summary flattens
// exactly the headline.
func TestHeadlineFollowsTopK(t *testing.T) {
	genres := []string{"Horror", "Romance", "Action", "Documentary", "Comedy", "Drama"}
	tests := []struct {
		topK, genres int
		want         string
	}{
		{3, 6, "top3_hit"},
		{5, 6, "top5_hit"},
		{5, 4, "top4_hit"},
	}
	for _, tt := range tests {
		prior := make([]float64, tt.genres)
		for j := range prior {
			prior[j] = 1 / float64(tt.genres)
		}
		rep, err := report.Build(report.Input{
			Genres: genres[:tt.genres], Val: scores(80, tt.genres, 1), Test: scores(120, tt.genres, 2),
			TrainPrevalence: prior, SplitRows: map[string]int{"validation": 80, "test": 120},
			TopK: tt.topK, Bootstrap: 20, Seed: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		h := evaluate.Headline(rep)
		var keys []string
		for _, m := range h {
			keys = append(keys, m.Key)
			if m.Label == "" || m.Lo == nil || m.Hi == nil || m.Baseline == nil {
				t.Errorf("top_k %d: %s lacks a label, interval or baseline: %+v", tt.topK, m.Key, m)
			}
		}
		if len(h) != 4 || keys[0] != "paper_accuracy" || keys[1] != tt.want {
			t.Errorf("top_k %d over %d genres: headline %v, want paper_accuracy, %s, …", tt.topK, tt.genres, keys, tt.want)
		}
		sum := evaluate.Summary(rep, h)
		if sum[tt.want] != h[1].Value || sum[tt.want+"_baseline"] != *h[1].Baseline || sum["test_rows"] != 120 {
			t.Errorf("top_k %d: summary %v does not flatten the headline", tt.topK, sum)
		}
	}
}
