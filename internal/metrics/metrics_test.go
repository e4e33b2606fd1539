package metrics_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/postergenre/postergenre/internal/metrics"
)

const eps = 1e-9

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func bools(rows ...string) [][]bool {
	out := make([][]bool, len(rows))
	for i, r := range rows {
		for _, c := range r {
			out[i] = append(out[i], c == '1')
		}
	}
	return out
}

func col(s string) []bool { return bools(s)[0] }

func TestArgmaxFirstTrueTopK(t *testing.T) {
	tests := []struct {
		s    []float64
		arg  int
		top2 []int
	}{
		{[]float64{0.1, 0.7, 0.2}, 1, []int{1, 2}},
		{[]float64{0.4, 0.4, 0.1}, 0, []int{0, 1}},          // tie: first index
		{[]float64{0.1, 0.3, 0.3, 0.3}, 1, []int{1, 2}},     // ties ordered by index
		{[]float64{0.25, 0.25, 0.25, 0.25}, 0, []int{0, 1}}, // all tied
		{nil, -1, []int{}},
	}
	for _, tt := range tests {
		if got := metrics.Argmax(tt.s); got != tt.arg {
			t.Errorf("Argmax(%v) = %d, want %d", tt.s, got, tt.arg)
		}
		if got := metrics.TopK(tt.s, 2); !reflect.DeepEqual(got, tt.top2) {
			t.Errorf("TopK(%v, 2) = %v, want %v", tt.s, got, tt.top2)
		}
	}
	if got := metrics.FirstTrue(col("0110")); got != 1 {
		t.Errorf("FirstTrue = %d, want 1", got)
	}
	if got := metrics.FirstTrue(col("000")); got != -1 {
		t.Errorf("FirstTrue(none) = %d, want -1", got)
	}
}

// Genres in the paper's order: Horror, Romance, Action, Documentary.
var (
	paperY = bools("0110", "1000", "0100", "0011")
	paperS = [][]float64{
		{0.1, 0.3, 0.5, 0.1},     // argmax Action, first true Romance: paper miss, top-1 hit
		{0.4, 0.4, 0.1, 0.1},     // tie Horror/Romance → Horror: hit
		{0.25, 0.25, 0.25, 0.25}, // all tied → Horror: miss; top-2 = Horror, Romance: hit
		{0.1, 0.1, 0.7, 0.1},     // Action: hit
	}
)

func TestPaperAccuracyAndTopK(t *testing.T) {
	if got := metrics.PaperAccuracy(paperY, paperS); !near(got, 0.5) {
		t.Errorf("PaperAccuracy = %v, want 0.5", got)
	}
	for k, want := range map[int]float64{1: 0.75, 2: 1, 3: 1} {
		if got := metrics.TopKHit(paperY, paperS, k); !near(got, want) {
			t.Errorf("TopKHit(k=%d) = %v, want %v", k, got, want)
		}
	}
}

func TestAlwaysRomanceBaseline(t *testing.T) {
	prior := []float64{0.20, 0.36, 0.34, 0.17} // train prevalence: Romance is the majority
	y := bools(
		"1100", // Horror+Romance: the label index is Horror → miss
		"0100", // hit
		"0110", // hit
		"0010", // miss
		"0001", // miss
	)
	s := metrics.Constant(prior, len(y))
	if got := metrics.PaperAccuracy(y, s); !near(got, 0.4) {
		t.Errorf("always-Romance paper accuracy = %v, want 0.4", got)
	}
	// Top-1 hit counts Romance anywhere: 3/5.
	if got := metrics.TopKHit(y, s, 1); !near(got, 0.6) {
		t.Errorf("always-Romance top-1 hit = %v, want 0.6", got)
	}
	// Top-2 = Romance, Action: 4/5.
	if got := metrics.TopKHit(y, s, 2); !near(got, 0.8) {
		t.Errorf("prior top-2 hit = %v, want 0.8", got)
	}
	// A constant score has AUC 0.5 and AP = prevalence.
	v := metrics.NewEvaluator(y, s, 0.5, 3).Compute(nil)
	wantAP := []float64{0.2, 0.6, 0.4, 0.2}
	for g := range prior {
		if !near(v.AUC[g], 0.5) || !near(v.AP[g], wantAP[g]) {
			t.Errorf("genre %d: AUC %v AP %v, want 0.5 and %v", g, v.AUC[g], v.AP[g], wantAP[g])
		}
	}
}

func TestROCAUC(t *testing.T) {
	tests := []struct {
		name string
		y    string
		s    []float64
		want float64
		ok   bool
	}{
		{"perfect", "1010", []float64{0.9, 0.1, 0.8, 0.2}, 1, true},
		{"reversed", "0101", []float64{0.9, 0.1, 0.8, 0.2}, 0, true},
		{"one tied pair", "10", []float64{0.5, 0.5}, 0.5, true},
		// pairs: (.8,.4)=1 (.8,.1)=1 (.4,.4)=½ (.4,.1)=1 → 3.5/4
		{"ties across classes", "1100", []float64{0.8, 0.4, 0.4, 0.1}, 0.875, true},
		{"constant", "1001", []float64{0.3, 0.3, 0.3, 0.3}, 0.5, true},
		{"sklearn doc", "0011", []float64{0.1, 0.4, 0.35, 0.8}, 0.75, true},
		{"no negatives", "11", []float64{0.1, 0.2}, math.NaN(), false},
		{"no positives", "00", []float64{0.1, 0.2}, math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := metrics.ROCAUC(col(tt.y), tt.s)
			if ok != tt.ok || !near(got, tt.want) {
				t.Errorf("ROCAUC = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAveragePrecision(t *testing.T) {
	tests := []struct {
		name string
		y    string
		s    []float64
		want float64
		ok   bool
	}{
		// sklearn's documented example: average_precision_score([0,0,1,1], [.1,.4,.35,.8]) = 0.8333
		{"sklearn doc", "0011", []float64{0.1, 0.4, 0.35, 0.8}, 5.0 / 6, true},
		{"perfect", "1100", []float64{0.9, 0.8, 0.2, 0.1}, 1, true},
		// one threshold at .5: P = 2/3, R = 1 (ungrouped ranks would give a different value)
		{"tied group", "1010", []float64{0.5, 0.5, 0.5, 0.1}, 2.0 / 3, true},
		{"constant = prevalence", "1000", []float64{0.3, 0.3, 0.3, 0.3}, 0.25, true},
		// .9 neg; .8 pos P=1/2 R=1/2; .7 neg; .6 pos P=2/4 R=1 → .25+.25
		{"interleaved", "0101", []float64{0.9, 0.8, 0.7, 0.6}, 0.5, true},
		{"no positives", "000", []float64{0.1, 0.2, 0.3}, math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := metrics.AveragePrecision(col(tt.y), tt.s)
			if ok != tt.ok || !near(got, tt.want) {
				t.Errorf("AveragePrecision = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMacroMicro(t *testing.T) {
	y := bools("10", "10", "01", "00")
	s := [][]float64{{0.9, 0.1}, {0.4, 0.2}, {0.5, 0.3}, {0.1, 0.0}}
	// genre 0: pos .9 .4, neg .5 .1 → pairs 1,1,0,1 → 0.75. genre 1: pos .3 vs .1 .2 .0 → 1.
	auc, n := metrics.MacroAUC(y, s)
	if n != 2 || !near(auc, 0.875) {
		t.Errorf("MacroAUC = %v over %d, want 0.875 over 2", auc, n)
	}
	// genre 0 AP: .9 pos P1 R.5; .5 neg; .4 pos P2/3 R1 → .5+1/3. genre 1 AP: top score .3 → 1.
	ap, n := metrics.MacroAP(y, s)
	if n != 2 || !near(ap, (0.5+1.0/3+1)/2) {
		t.Errorf("MacroAP = %v over %d", ap, n)
	}
	// pooled descending: .9+ .5- .4+ .3+ .2- .1-,.1- .0-
	// .9: P1 R1/3 → 1/3; .5: no gain; .4: P2/3 R2/3 → 2/9; .3: P3/4 R1 → 1/4
	if got := metrics.MicroAP(y, s); !near(got, 1.0/3+2.0/9+0.25) {
		t.Errorf("MicroAP = %v", got)
	}
	// a genre without negatives is left out of the macro AUC
	auc, n = metrics.MacroAUC(bools("11", "10"), [][]float64{{0.2, 0.9}, {0.1, 0.1}})
	if n != 1 || !near(auc, 1) {
		t.Errorf("MacroAUC with a one-class genre = %v over %d, want 1 over 1", auc, n)
	}
}

func TestThresholdMetrics(t *testing.T) {
	tests := []struct {
		name                  string
		y, pred               [][]bool
		micro, macro, samples float64
		hamming, subset       float64
	}{
		{
			name: "mixed", y: bools("10", "11", "00"), pred: bools("11", "01", "00"),
			// rows: 2/3, 2/3, empty→0; micro tp2 fp1 fn1; both genres 2/3
			micro: 2.0 / 3, macro: 2.0 / 3, samples: 4.0 / 9, hamming: 2.0 / 6, subset: 1.0 / 3,
		},
		{
			name: "no positives, none predicted", y: bools("0", "0"), pred: bools("0", "0"),
			micro: 0, macro: 0, samples: 0, hamming: 0, subset: 1,
		},
		{
			name: "all zero prediction", y: bools("110", "001"), pred: bools("000", "000"),
			micro: 0, macro: 0, samples: 0, hamming: 3.0 / 6, subset: 0,
		},
		{
			name: "perfect", y: bools("101", "010"), pred: bools("101", "010"),
			micro: 1, macro: 1, samples: 1, hamming: 0, subset: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mi, ma, sa := metrics.F1(tt.y, tt.pred)
			if !near(mi, tt.micro) || !near(ma, tt.macro) || !near(sa, tt.samples) {
				t.Errorf("F1 = %v %v %v, want %v %v %v", mi, ma, sa, tt.micro, tt.macro, tt.samples)
			}
			if got := metrics.HammingLoss(tt.y, tt.pred); !near(got, tt.hamming) {
				t.Errorf("HammingLoss = %v, want %v", got, tt.hamming)
			}
			if got := metrics.SubsetAccuracy(tt.y, tt.pred); !near(got, tt.subset) {
				t.Errorf("SubsetAccuracy = %v, want %v", got, tt.subset)
			}
		})
	}
}

func TestBinarizeAtThreshold(t *testing.T) {
	got := metrics.Binarize([][]float64{{0.35, 0.3499, 0.9}}, 0.35)
	if want := bools("101"); !reflect.DeepEqual(got, want) {
		t.Errorf("Binarize = %v, want %v (score ≥ threshold is predicted)", got, want)
	}
}

func TestTuneThreshold(t *testing.T) {
	tests := []struct {
		name    string
		y       [][]bool
		s       [][]float64
		thr, f1 float64
	}{
		// any threshold in (0.3, 0.6] is perfect; ties keep the lowest
		{"separable", bools("10", "01"), [][]float64{{0.6, 0.3}, {0.2, 0.7}}, 0.35, 1},
		// exactly on a grid point counts as predicted
		{"on grid", bools("10", "01"), [][]float64{{0.35, 0.3}, {0.2, 0.35}}, 0.35, 1},
		// predicting everything (thr .05) gives F1 2·2/(2·2+2) = 2/3; .5 gives 1 tp 0 fp 1 fn → 2/3;
		// .3 gives tp2 fp1 → 4/5
		{"trade-off", bools("10", "01"), [][]float64{{0.6, 0.3}, {0.2, 0.3}}, 0.25, 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			thr, f1 := metrics.TuneThreshold(tt.y, tt.s, metrics.Grid())
			if !near(thr, tt.thr) || !near(f1, tt.f1) {
				t.Errorf("TuneThreshold = %v, %v; want %v, %v", thr, f1, tt.thr, tt.f1)
			}
		})
	}
	g := metrics.Grid()
	if len(g) != 19 || g[0] != 0.05 || g[18] != 0.95 || g[9] != 0.5 {
		t.Errorf("Grid = %v", g)
	}
}

func TestWilson(t *testing.T) {
	tests := []struct {
		k, n     int
		low, hig float64
	}{
		{5, 10, 0.2366, 0.7634},
		{0, 10, 0, 0.2775},
		{10, 10, 0.7225, 1},
		{422, 1203, 0.3242, 0.3781},
	}
	for _, tt := range tests {
		iv := metrics.Wilson(tt.k, tt.n, metrics.Z95)
		if math.Abs(iv.Low-tt.low) > 5e-4 || math.Abs(iv.High-tt.hig) > 5e-4 {
			t.Errorf("Wilson(%d,%d) = %+v, want [%v, %v]", tt.k, tt.n, iv, tt.low, tt.hig)
		}
	}
	if iv := metrics.Wilson(0, 0, metrics.Z95); !math.IsNaN(iv.Low) {
		t.Errorf("Wilson(0,0) = %+v, want NaN", iv)
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{4, 1, math.NaN(), 3, 2}
	for q, want := range map[float64]float64{0: 1, 1: 4, 0.5: 2.5, 0.25: 1.75} {
		if got := metrics.Percentile(xs, q); !near(got, want) {
			t.Errorf("Percentile(%v) = %v, want %v", q, got, want)
		}
	}
}

func randomData(n, g int, seed uint64) ([][]bool, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	y := make([][]bool, n)
	s := make([][]float64, n)
	for i := range y {
		y[i] = make([]bool, g)
		s[i] = make([]float64, g)
		for j := range y[i] {
			y[i][j] = rng.Float64() < 0.3
			// coarse scores so that ties happen, correlated with the truth
			x := rng.Float64()
			if y[i][j] {
				x += 0.3
			}
			s[i][j] = math.Round(x*10) / 10
		}
	}
	return y, s
}

// Integer weights must give exactly the metrics of the rows repeated.
func TestWeightsEqualRepetition(t *testing.T) {
	y, s := randomData(40, 5, 7)
	w := make([]float64, len(y))
	var ry [][]bool
	var rs [][]float64
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range w {
		w[i] = float64(rng.IntN(3))
		for range int(w[i]) {
			ry, rs = append(ry, y[i]), append(rs, s[i])
		}
	}
	got := metrics.NewEvaluator(y, s, 0.5, 3).Compute(w)
	want := metrics.NewEvaluator(ry, rs, 0.5, 3).Compute(nil)
	check := func(name string, a, b float64) {
		if !near(a, b) {
			t.Errorf("%s: weighted %v, repeated %v", name, a, b)
		}
	}
	check("paper", got.PaperAccuracy, want.PaperAccuracy)
	for k := range got.TopHit {
		check("top", got.TopHit[k], want.TopHit[k])
	}
	check("macroAUC", got.MacroAUC, want.MacroAUC)
	check("macroAP", got.MacroAP, want.MacroAP)
	check("microAP", got.MicroAP, want.MicroAP)
	check("microF1", got.MicroF1, want.MicroF1)
	check("macroF1", got.MacroF1, want.MacroF1)
	check("samplesF1", got.SamplesF1, want.SamplesF1)
	check("hamming", got.HammingLoss, want.HammingLoss)
	check("subset", got.SubsetAccuracy, want.SubsetAccuracy)
	for g := range got.AUC {
		check("auc", got.AUC[g], want.AUC[g])
		check("ap", got.AP[g], want.AP[g])
		check("f1", got.F1[g], want.F1[g])
	}
	// and the per-genre functions agree with the evaluator
	for g := range got.AUC {
		yc := make([]bool, len(ry))
		sc := make([]float64, len(ry))
		for i := range ry {
			yc[i], sc[i] = ry[i][g], rs[i][g]
		}
		a, _ := metrics.ROCAUC(yc, sc)
		p, _ := metrics.AveragePrecision(yc, sc)
		check("ROCAUC", a, got.AUC[g])
		check("AveragePrecision", p, got.AP[g])
	}
}

func TestBootstrap(t *testing.T) {
	y, s := randomData(300, 4, 11)
	e := metrics.NewEvaluator(y, s, 0.5, 3)
	point := e.Compute(nil)
	stat := func(w []float64) float64 { return e.Compute(w).MacroAUC }
	a := metrics.Bootstrap(len(y), 200, 42, stat)
	b := metrics.Bootstrap(len(y), 200, 42, stat)
	if a != b {
		t.Errorf("same seed, different intervals: %+v %+v", a, b)
	}
	if !a.Contains(point.MacroAUC) || a.High-a.Low <= 0 || a.High-a.Low > 0.2 {
		t.Errorf("interval %+v for point %v", a, point.MacroAUC)
	}
	c := metrics.Bootstrap(len(y), 200, 43, stat)
	if c == a {
		t.Errorf("different seeds gave the same interval %+v", a)
	}
	// the resample counts sum to n
	metrics.Resamples(10, 3, 1, func(_ int, w []float64) {
		var sum float64
		for _, x := range w {
			sum += x
		}
		if sum != 10 {
			t.Errorf("resample of 10 rows has %v", sum)
		}
	})
}

func TestROCCurve(t *testing.T) {
	fpr, tpr := metrics.ROCCurve(col("1100"), []float64{0.8, 0.4, 0.4, 0.1})
	wantF := []float64{0, 0, 0.5, 1}
	wantT := []float64{0, 0.5, 1, 1}
	if !reflect.DeepEqual(fpr, wantF) || !reflect.DeepEqual(tpr, wantT) {
		t.Errorf("ROCCurve = %v %v, want %v %v", fpr, tpr, wantF, wantT)
	}
	if f, _ := metrics.ROCCurve(col("11"), []float64{1, 2}); f != nil {
		t.Errorf("ROCCurve without negatives = %v, want nil", f)
	}
}
