package metrics_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/postergenre/postergenre/internal/metrics"
)

func TestPRCurve(t *testing.T) {
	cases := []struct {
		name    string
		y       []bool
		s       []float64
		rec, pr []float64
	}{
		{"separable", col("1100"), []float64{0.9, 0.8, 0.3, 0.1}, []float64{0.5, 1, 1, 1}, []float64{1, 1, 2.0 / 3, 0.5}},
		// the tie at 0.5 is one threshold: both rows enter together
		{"tie", col("101"), []float64{0.9, 0.5, 0.5}, []float64{0.5, 1}, []float64{1, 2.0 / 3}},
		{"no positive", col("00"), []float64{0.2, 0.1}, nil, nil},
	}
	for _, c := range cases {
		rec, pr := metrics.PRCurve(c.y, c.s)
		if !reflect.DeepEqual(rec, c.rec) || len(pr) != len(c.pr) {
			t.Errorf("%s: recall %v precision %v, want %v %v", c.name, rec, pr, c.rec, c.pr)
			continue
		}
		for i := range pr {
			if !near(pr[i], c.pr[i]) {
				t.Errorf("%s: precision %v, want %v", c.name, pr, c.pr)
			}
		}
	}
}

// The area under the step curve is AveragePrecision, ties included.
func TestPRCurveAreaIsAP(t *testing.T) {
	y, s := randomData(200, 4, 3)
	for j := 0; j < 4; j++ {
		yc, sc := make([]bool, len(y)), make([]float64, len(y))
		for i := range y {
			yc[i], sc[i] = y[i][j], s[i][j]
		}
		rec, pr := metrics.PRCurve(yc, sc)
		var area, prev float64
		for i := range rec {
			area += (rec[i] - prev) * pr[i]
			prev = rec[i]
		}
		ap, _ := metrics.AveragePrecision(yc, sc)
		if !near(area, ap) || rec[len(rec)-1] != 1 {
			t.Errorf("genre %d: area %v, AP %v, last recall %v", j, area, ap, rec[len(rec)-1])
		}
	}
}

func TestReliability(t *testing.T) {
	y := bools("10", "01", "11", "00")
	s := [][]float64{{0.95, 0.05}, {0.15, 0.85}, {1, 0.9}, {0.05, 0.5}}
	bins, ece := metrics.Reliability(y, s, 2)
	// bin [0,0.5): 0.05, 0.15, 0.05 → 0 of 3 true; bin [0.5,1]: 0.95 0.85 1 0.9 0.5 → 4 of 5
	if bins[0].Count != 3 || bins[0].Positives != 0 || bins[1].Count != 5 || bins[1].Positives != 4 {
		t.Fatalf("bins %+v", bins)
	}
	if !near(bins[0].MeanScore, 0.25/3) || !near(bins[1].MeanScore, 4.2/5) {
		t.Errorf("mean scores %v %v", bins[0].MeanScore, bins[1].MeanScore)
	}
	want := 3.0/8*(0.25/3) + 5.0/8*math.Abs(0.8-0.84)
	if !near(ece, want) {
		t.Errorf("ece %v, want %v", ece, want)
	}
	if !math.IsNaN(metrics.Bin{}.Rate()) {
		t.Error("an empty bin's rate should be NaN")
	}
}

func TestConfusion(t *testing.T) {
	// rows: first true genre → argmax
	y := bools("100", "110", "010", "001", "011", "000")
	s := [][]float64{
		{0.7, 0.2, 0.1}, // 0 → 0
		{0.1, 0.8, 0.1}, // 0 → 1 (a top-1 hit, not a paper hit)
		{0.1, 0.8, 0.1}, // 1 → 1
		{0.5, 0.1, 0.4}, // 2 → 0
		{0.3, 0.3, 0.4}, // 1 → 2
		{0.2, 0.3, 0.5}, // no true genre: skipped
	}
	got, skipped := metrics.Confusion(y, s, 3)
	want := [][]int{{1, 1, 0}, {0, 1, 1}, {1, 0, 0}}
	if !reflect.DeepEqual(got, want) || skipped != 1 {
		t.Errorf("confusion %v skipped %d, want %v 1", got, skipped, want)
	}
	diag := 0
	for j := range got {
		diag += got[j][j]
	}
	if pa := metrics.PaperAccuracy(y[:5], s[:5]); !near(float64(diag)/5, pa) {
		t.Errorf("diagonal share %v, paper accuracy %v", float64(diag)/5, pa)
	}
}
