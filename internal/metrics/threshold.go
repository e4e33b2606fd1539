package metrics

// Grid returns the decision thresholds 0.05, 0.10, …, 0.95.
func Grid() []float64 {
	g := make([]float64, 19)
	for i := range g {
		g[i] = float64(i+1) / 20
	}
	return g
}

// MicroF1At is the micro-F1 of predicting the genres whose score is ≥ thr.
func MicroF1At(y [][]bool, s [][]float64, thr float64) float64 {
	var tp, fp, fn float64
	for i := range y {
		for g, b := range y[i] {
			p := s[i][g] >= thr
			switch {
			case p && b:
				tp++
			case p:
				fp++
			case b:
				fn++
			}
		}
	}
	return f1(tp, fp, fn)
}

// TuneThreshold returns the threshold of grid that maximises micro-F1 of
// (y, s) — the validation split, never test — and that F1. Ties keep the
// lowest threshold. An empty grid gives 0.5.
func TuneThreshold(y [][]bool, s [][]float64, grid []float64) (thr, microF1 float64) {
	thr, microF1 = 0.5, -1
	for _, t := range grid {
		if f := MicroF1At(y, s, t); f > microF1 {
			thr, microF1 = t, f
		}
	}
	if microF1 < 0 {
		microF1 = MicroF1At(y, s, thr)
	}
	return thr, microF1
}
