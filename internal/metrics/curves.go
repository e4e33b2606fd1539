package metrics

import "math"

// PRCurve returns the precision–recall points of one genre at every
// distinct threshold, highest score first (sklearn's
// precision_recall_curve without its appended (recall 0, precision 1)
// end point). Tied scores form one threshold, as in AveragePrecision, so
// Σ (R_n − R_{n−1})·P_n over the points is AveragePrecision. Nil when
// there is no positive.
func PRCurve(y []bool, s []float64) (recall, precision []float64) {
	tps, fps, pos, _ := thresholdCounts(y, s)
	if pos == 0 {
		return nil, nil
	}
	for k := range tps {
		recall = append(recall, tps[k]/pos)
		precision = append(precision, tps[k]/(tps[k]+fps[k]))
	}
	return recall, precision
}

// Bin is one bin of a reliability diagram.
type Bin struct {
	Low, High float64 // score range [Low, High); the last bin includes 1
	Count     int     // (row, genre) pairs whose score falls in the bin
	Positives int     // of them, pairs whose genre is true
	MeanScore float64 // mean score in the bin (NaN when empty)
}

// Rate is the share of true pairs in the bin (NaN when empty).
func (b Bin) Rate() float64 { return ratio(float64(b.Positives), float64(b.Count)) }

// Reliability pools every (row, genre) pair and bins it by score into
// bins equal-width bins over [0, 1]: a calibrated model's true rate in a
// bin equals its mean score. ece is the expected calibration error, the
// count-weighted mean |rate − mean score| over non-empty bins.
func Reliability(y [][]bool, s [][]float64, bins int) (out []Bin, ece float64) {
	if bins < 1 {
		bins = 1
	}
	out = make([]Bin, bins)
	sums := make([]float64, bins)
	for b := range out {
		out[b].Low, out[b].High = float64(b)/float64(bins), float64(b+1)/float64(bins)
	}
	total := 0
	for i := range y {
		for j, v := range s[i] {
			if math.IsNaN(v) {
				continue
			}
			b := min(bins-1, max(0, int(v*float64(bins))))
			out[b].Count++
			sums[b] += v
			if y[i][j] {
				out[b].Positives++
			}
			total++
		}
	}
	for b := range out {
		out[b].MeanScore = ratio(sums[b], float64(out[b].Count))
		if out[b].Count > 0 {
			ece += float64(out[b].Count) / float64(total) * math.Abs(out[b].Rate()-out[b].MeanScore)
		}
	}
	return out, ece
}

// Confusion counts rows by (first true genre, argmax genre): the
// single-label view that paper accuracy scores, whose diagonal over all
// counted rows is paper accuracy. Rows without a true genre are not
// counted; skipped says how many.
func Confusion(y [][]bool, s [][]float64, genres int) (counts [][]int, skipped int) {
	counts = make([][]int, genres)
	for j := range counts {
		counts[j] = make([]int, genres)
	}
	for i := range y {
		t, p := FirstTrue(y[i]), Argmax(s[i])
		if t < 0 || p < 0 || t >= genres || p >= genres {
			skipped++
			continue
		}
		counts[t][p]++
	}
	return counts, skipped
}
