// Package metrics computes the evaluation metrics of a multi-label genre
// classifier, their baselines and their intervals. It is pure Go: truth is a
// [][]bool (rows × genres), scores a [][]float64 of the same shape.
//
// Every metric is defined once, over weighted rows (Evaluator.Compute); the
// plain functions below are the unit-weight case. Integer weights are what a
// bootstrap resample is (how many times each row was drawn), so an interval
// costs one linear pass per resample instead of a re-sort.
//
// Conventions (and where they come from):
//   - argmax ties go to the first index (numpy.argmax); the "paper" label
//     index is the first true genre in genre order (Keras on a multi-hot vector);
//   - top-k orders genres by score, ties to the lower index;
//   - ROC-AUC is the Mann–Whitney statistic: a tied positive/negative pair counts 1/2;
//   - average precision is sklearn's: sum over distinct thresholds of
//     (R_n − R_{n−1})·P_n, tied scores forming one threshold;
//   - a genre is predicted when its score ≥ the threshold; F1 with an empty
//     denominator is 0 (sklearn's zero_division=0), also for a sample whose
//     truth and prediction are both empty.
package metrics

import (
	"math"
	"sort"
)

// Argmax returns the index of the largest value, the first one on ties
// (numpy.argmax), or -1 for an empty slice.
func Argmax(v []float64) int {
	best := -1
	for i, x := range v {
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}

// FirstTrue returns the index of the first true value, or -1.
func FirstTrue(y []bool) int {
	for i, b := range y {
		if b {
			return i
		}
	}
	return -1
}

// TopK returns the indices of the k highest scores, highest first; equal
// scores are ordered by index. k is clamped to len(s).
func TopK(s []float64, k int) []int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] > s[idx[b]] })
	if k > len(idx) {
		k = len(idx)
	}
	if k < 0 {
		k = 0
	}
	return idx[:k]
}

// PaperAccuracy is Keras' categorical accuracy on a multi-hot label:
// the share of rows where argmax(scores) is the first true genre.
func PaperAccuracy(y [][]bool, s [][]float64) float64 {
	n := 0
	for i := range y {
		if Argmax(s[i]) == FirstTrue(y[i]) {
			n++
		}
	}
	return ratio(float64(n), float64(len(y)))
}

// TopKHit is the share of rows where any of the k highest-scoring genres
// (see TopK) is a true genre.
func TopKHit(y [][]bool, s [][]float64, k int) float64 {
	n := 0
	for i := range y {
		if topKHit(y[i], s[i], k) {
			n++
		}
	}
	return ratio(float64(n), float64(len(y)))
}

func topKHit(y []bool, s []float64, k int) bool {
	for _, g := range TopK(s, k) {
		if y[g] {
			return true
		}
	}
	return false
}

// ROCAUC is the area under the ROC curve of one genre, computed as the
// Mann–Whitney statistic (tied scores count 1/2). ok is false when the
// positives or the negatives are missing.
func ROCAUC(y []bool, s []float64) (auc float64, ok bool) {
	return aucSorted(y, s, sortAsc(s), nil)
}

// AveragePrecision is sklearn's average precision of one genre. ok is false
// when there is no positive.
func AveragePrecision(y []bool, s []float64) (ap float64, ok bool) {
	return apSorted(y, s, sortDesc(s), nil)
}

// ROCCurve returns the ROC points (false and true positive rates) at every
// distinct threshold, from (0,0) to (1,1). Nil when a class is missing.
func ROCCurve(y []bool, s []float64) (fpr, tpr []float64) {
	tps, fps, pos, neg := thresholdCounts(y, s)
	if pos == 0 || neg == 0 {
		return nil, nil
	}
	fpr, tpr = []float64{0}, []float64{0}
	for k := range tps {
		fpr = append(fpr, fps[k]/neg)
		tpr = append(tpr, tps[k]/pos)
	}
	return fpr, tpr
}

// thresholdCounts walks the scores from the highest down and returns the
// true and false positives counted at each distinct score (tied scores
// form one threshold), plus the totals of positives and negatives: the
// one walk ROCCurve and PRCurve share.
func thresholdCounts(y []bool, s []float64) (tps, fps []float64, pos, neg float64) {
	for _, b := range y {
		if b {
			pos++
		} else {
			neg++
		}
	}
	order := sortDesc(s)
	var tp, fp float64
	for i := 0; i < len(order); {
		j := i
		for ; j < len(order) && s[order[j]] == s[order[i]]; j++ {
			if y[order[j]] {
				tp++
			} else {
				fp++
			}
		}
		tps, fps = append(tps, tp), append(fps, fp)
		i = j
	}
	return tps, fps, pos, neg
}

// MacroAUC averages ROCAUC over the genres where both classes are present;
// counted says how many.
func MacroAUC(y [][]bool, s [][]float64) (auc float64, counted int) {
	v := NewEvaluator(y, s, 0.5, 1).Compute(nil)
	return v.MacroAUC, v.AUCGenres
}

// MacroAP averages AveragePrecision over the genres with a positive.
func MacroAP(y [][]bool, s [][]float64) (ap float64, counted int) {
	v := NewEvaluator(y, s, 0.5, 1).Compute(nil)
	return v.MacroAP, v.APGenres
}

// MicroAP is the average precision of every (row, genre) pair pooled.
func MicroAP(y [][]bool, s [][]float64) float64 {
	return NewEvaluator(y, s, 0.5, 1).Compute(nil).MicroAP
}

// Binarize predicts the genres whose score is ≥ thr.
func Binarize(s [][]float64, thr float64) [][]bool {
	out := make([][]bool, len(s))
	for i, row := range s {
		out[i] = make([]bool, len(row))
		for g, x := range row {
			out[i][g] = x >= thr
		}
	}
	return out
}

// F1 returns the micro (pooled counts), macro (mean of per-genre F1, every
// genre included) and per-sample (mean of per-row F1) F1 of predictions.
func F1(y, pred [][]bool) (micro, macro, samples float64) {
	v := NewEvaluator(y, boolScores(pred), 0.5, 1).Compute(nil)
	return v.MicroF1, v.MacroF1, v.SamplesF1
}

// HammingLoss is the share of (row, genre) decisions that are wrong.
func HammingLoss(y, pred [][]bool) float64 {
	return NewEvaluator(y, boolScores(pred), 0.5, 1).Compute(nil).HammingLoss
}

// SubsetAccuracy is the share of rows whose predicted set is exactly the true set.
func SubsetAccuracy(y, pred [][]bool) float64 {
	return NewEvaluator(y, boolScores(pred), 0.5, 1).Compute(nil).SubsetAccuracy
}

// Prevalence is the share of rows where each genre is true.
func Prevalence(y [][]bool, genres int) []float64 {
	p := make([]float64, genres)
	for _, row := range y {
		for g, b := range row {
			if b {
				p[g]++
			}
		}
	}
	for g := range p {
		p[g] = ratio(p[g], float64(len(y)))
	}
	return p
}

// Constant returns n rows of the same score vector (the prior baseline).
func Constant(v []float64, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func boolScores(pred [][]bool) [][]float64 {
	s := make([][]float64, len(pred))
	for i, row := range pred {
		s[i] = make([]float64, len(row))
		for g, b := range row {
			if b {
				s[i][g] = 1
			}
		}
	}
	return s
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func sortAsc(s []float64) []int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] < s[idx[b]] })
	return idx
}

func sortDesc(s []float64) []int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] > s[idx[b]] })
	return idx
}

// weight returns w[i], or 1 when w is nil.
func weight(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// aucSorted: order ascends by score. Weighted Mann–Whitney.
func aucSorted(y []bool, s []float64, order []int, w []float64) (float64, bool) {
	var negBelow, num, pos float64
	for i := 0; i < len(order); {
		var gp, gn float64
		j := i
		for ; j < len(order) && s[order[j]] == s[order[i]]; j++ {
			r := order[j]
			if y[r] {
				gp += weight(w, r)
			} else {
				gn += weight(w, r)
			}
		}
		num += gp * (negBelow + gn/2)
		negBelow += gn
		pos += gp
		i = j
	}
	if pos == 0 || negBelow == 0 {
		return math.NaN(), false
	}
	return num / (pos * negBelow), true
}

// apSorted: order descends by score. Weighted sklearn average precision;
// wf maps an index of y to its weight (nil = 1).
func apSorted(y []bool, s []float64, order []int, wf func(int) float64) (float64, bool) {
	var pos float64
	for _, r := range order {
		if y[r] {
			if wf == nil {
				pos++
			} else {
				pos += wf(r)
			}
		}
	}
	if pos == 0 {
		return math.NaN(), false
	}
	var tp, fp, ap, prevR float64
	for i := 0; i < len(order); {
		j := i
		for ; j < len(order) && s[order[j]] == s[order[i]]; j++ {
			r := order[j]
			wt := 1.0
			if wf != nil {
				wt = wf(r)
			}
			if y[r] {
				tp += wt
			} else {
				fp += wt
			}
		}
		i = j
		if tp+fp == 0 {
			continue
		}
		rec := tp / pos
		ap += (rec - prevR) * tp / (tp + fp)
		prevR = rec
	}
	return ap, true
}
