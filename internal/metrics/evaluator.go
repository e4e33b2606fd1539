package metrics

import "math"

// Values holds every metric of one evaluation (one set of row weights).
// Undefined values (no positives, no rows) are NaN.
type Values struct {
	PaperAccuracy float64
	// TopHit[k-1] is the top-k hit rate, k = 1..K.
	TopHit []float64

	MacroAUC  float64
	AUCGenres int // genres in MacroAUC (both classes present)
	MacroAP   float64
	APGenres  int // genres in MacroAP (a positive present)
	MicroAP   float64

	// At the evaluator's threshold.
	MicroF1        float64
	MacroF1        float64
	SamplesF1      float64
	HammingLoss    float64
	SubsetAccuracy float64

	// Per genre.
	AUC, AP, F1, Precision, Recall, Prevalence []float64
}

// Evaluator precomputes what every metric needs for one (truth, scores,
// threshold) so that Compute can be called once per bootstrap resample.
type Evaluator struct {
	n, g int
	y    [][]bool // rows
	k    int

	// Per row, unit weight.
	paperHit  []bool
	topHit    [][]bool // [k-1][row]
	sampleF1  []float64
	hamming   []float64 // wrong decisions / g
	exact     []bool
	tp, fp, f []int // per row totals over genres

	// Per genre columns.
	ycol   [][]bool
	scol   [][]float64
	asc    [][]int
	desc   [][]int
	predTP [][]bool // [genre][row] true positive
	predFP [][]bool
	predFN [][]bool

	// Pooled (row, genre) pairs for micro AP.
	yflat []bool
	sflat []float64
	dflat []int
}

// NewEvaluator prepares the metrics of scores s against truth y, thresholded
// at thr, with top-k hit rates up to k. All rows must have the same length.
func NewEvaluator(y [][]bool, s [][]float64, thr float64, k int) *Evaluator {
	e := &Evaluator{n: len(y), y: y, k: k}
	if e.n > 0 {
		e.g = len(y[0])
	}
	e.paperHit = make([]bool, e.n)
	e.topHit = make([][]bool, k)
	for j := range e.topHit {
		e.topHit[j] = make([]bool, e.n)
	}
	e.sampleF1 = make([]float64, e.n)
	e.hamming = make([]float64, e.n)
	e.exact = make([]bool, e.n)
	e.tp, e.fp, e.f = make([]int, e.n), make([]int, e.n), make([]int, e.n)
	e.ycol = make([][]bool, e.g)
	e.scol = make([][]float64, e.g)
	e.predTP = make([][]bool, e.g)
	e.predFP = make([][]bool, e.g)
	e.predFN = make([][]bool, e.g)
	for g := 0; g < e.g; g++ {
		e.ycol[g] = make([]bool, e.n)
		e.scol[g] = make([]float64, e.n)
		e.predTP[g] = make([]bool, e.n)
		e.predFP[g] = make([]bool, e.n)
		e.predFN[g] = make([]bool, e.n)
	}
	e.yflat = make([]bool, 0, e.n*e.g)
	e.sflat = make([]float64, 0, e.n*e.g)
	for i := 0; i < e.n; i++ {
		yi, si := y[i], s[i]
		e.paperHit[i] = Argmax(si) == FirstTrue(yi)
		top := TopK(si, k)
		hit := false
		for j := 0; j < k; j++ {
			if j < len(top) && yi[top[j]] {
				hit = true
			}
			e.topHit[j][i] = hit
		}
		var tp, fp, fn int
		for g := 0; g < e.g; g++ {
			p := si[g] >= thr
			e.ycol[g][i], e.scol[g][i] = yi[g], si[g]
			switch {
			case p && yi[g]:
				tp++
				e.predTP[g][i] = true
			case p:
				fp++
				e.predFP[g][i] = true
			case yi[g]:
				fn++
				e.predFN[g][i] = true
			}
			e.yflat = append(e.yflat, yi[g])
			e.sflat = append(e.sflat, si[g])
		}
		e.tp[i], e.fp[i], e.f[i] = tp, fp, fn
		if d := 2*tp + fp + fn; d > 0 {
			e.sampleF1[i] = float64(2*tp) / float64(d)
		}
		if e.g > 0 {
			e.hamming[i] = float64(fp+fn) / float64(e.g)
		}
		e.exact[i] = fp+fn == 0
	}
	e.asc = make([][]int, e.g)
	e.desc = make([][]int, e.g)
	for g := 0; g < e.g; g++ {
		e.asc[g] = sortAsc(e.scol[g])
		e.desc[g] = sortDesc(e.scol[g])
	}
	e.dflat = sortDesc(e.sflat)
	return e
}

// Rows is the number of rows.
func (e *Evaluator) Rows() int { return e.n }

// Compute returns every metric with row i weighted w[i] (nil: all 1).
func (e *Evaluator) Compute(w []float64) Values {
	v := Values{TopHit: make([]float64, e.k)}
	W := e.rowMetrics(w, &v)
	e.genreMetrics(w, W, &v)
	var flatW func(int) float64
	if w != nil {
		g := e.g
		flatW = func(j int) float64 { return w[j/g] }
	}
	v.MicroAP, _ = apSorted(e.yflat, e.sflat, e.dflat, flatW)
	return v
}

// rowMetrics fills the metrics that average over rows (paper accuracy,
// top-k hits, samples F1, Hamming loss, subset accuracy, micro F1) and
// returns the total row weight.
func (e *Evaluator) rowMetrics(w []float64, v *Values) float64 {
	var W, paper, sf1, ham, exact float64
	top := make([]float64, e.k)
	var tp, fp, fn float64
	for i := 0; i < e.n; i++ {
		wi := weight(w, i)
		if wi == 0 {
			continue
		}
		W += wi
		if e.paperHit[i] {
			paper += wi
		}
		for j := range top {
			if e.topHit[j][i] {
				top[j] += wi
			}
		}
		sf1 += wi * e.sampleF1[i]
		ham += wi * e.hamming[i]
		if e.exact[i] {
			exact += wi
		}
		tp += wi * float64(e.tp[i])
		fp += wi * float64(e.fp[i])
		fn += wi * float64(e.f[i])
	}
	v.PaperAccuracy = ratio(paper, W)
	for j := range top {
		v.TopHit[j] = ratio(top[j], W)
	}
	v.SamplesF1 = ratio(sf1, W)
	v.HammingLoss = ratio(ham, W)
	v.SubsetAccuracy = ratio(exact, W)
	v.MicroF1 = f1(tp, fp, fn)
	return W
}

// genreMetrics fills the per-genre metrics and their macro averages; W is
// the total row weight.
func (e *Evaluator) genreMetrics(w []float64, W float64, v *Values) {
	v.AUC = make([]float64, e.g)
	v.AP = make([]float64, e.g)
	v.F1 = make([]float64, e.g)
	v.Precision = make([]float64, e.g)
	v.Recall = make([]float64, e.g)
	v.Prevalence = make([]float64, e.g)
	var wf func(int) float64
	if w != nil {
		wf = func(r int) float64 { return w[r] }
	}
	var sumAUC, sumAP, sumF1 float64
	for g := 0; g < e.g; g++ {
		auc, okA := aucSorted(e.ycol[g], e.scol[g], e.asc[g], w)
		ap, okP := apSorted(e.ycol[g], e.scol[g], e.desc[g], wf)
		v.AUC[g], v.AP[g] = auc, ap
		if okA {
			sumAUC += auc
			v.AUCGenres++
		}
		if okP {
			sumAP += ap
			v.APGenres++
		}
		tp, fp, fn, pos := e.genreCounts(g, w)
		v.F1[g] = f1(tp, fp, fn)
		sumF1 += v.F1[g]
		v.Precision[g] = ratio(tp, tp+fp)
		v.Recall[g] = ratio(tp, tp+fn)
		v.Prevalence[g] = ratio(pos, W)
	}
	v.MacroAUC = ratio(sumAUC, float64(v.AUCGenres))
	v.MacroAP = ratio(sumAP, float64(v.APGenres))
	v.MacroF1 = ratio(sumF1, float64(e.g))
	if W == 0 {
		v.MacroF1 = math.NaN()
	}
}

// genreCounts is genre g's weighted true positives, false positives, false
// negatives and positives at the threshold.
func (e *Evaluator) genreCounts(g int, w []float64) (tp, fp, fn, pos float64) {
	for i := 0; i < e.n; i++ {
		wi := weight(w, i)
		if wi == 0 {
			continue
		}
		switch {
		case e.predTP[g][i]:
			tp += wi
		case e.predFP[g][i]:
			fp += wi
		case e.predFN[g][i]:
			fn += wi
		}
		if e.ycol[g][i] {
			pos += wi
		}
	}
	return tp, fp, fn, pos
}

// f1 is 2TP/(2TP+FP+FN), 0 when the denominator is 0.
func f1(tp, fp, fn float64) float64 {
	d := 2*tp + fp + fn
	if d == 0 {
		return 0
	}
	return 2 * tp / d
}
