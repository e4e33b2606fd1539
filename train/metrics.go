package train

import (
	"math"
	"sort"
)

// The training-time metrics over flat row-major [n×g] predictions and labels.
// The evaluate stage has the full set; these are what model selection needs.

// argmax returns the first index of the largest value (as numpy and Keras).
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// paperHits counts rows where argmax(prediction) == argmax(label): Keras'
// categorical accuracy, the paper's "accuracy" (argmax of a multi-hot label is
// its first true genre).
func paperHits(pred, label []float32, g int) int {
	hits := 0
	for i := 0; i+g <= len(pred); i += g {
		if argmax(pred[i:i+g]) == argmax(label[i:i+g]) {
			hits++
		}
	}
	return hits
}

// topKHit is the share of rows where any of the k highest-scoring genres is a
// true genre.
func topKHit(pred, label []float32, g, k int) float64 {
	n := len(pred) / g
	if n == 0 {
		return 0
	}
	hits := 0
	idx := make([]int, g)
	for r := range n {
		p, l := pred[r*g:(r+1)*g], label[r*g:(r+1)*g]
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
		for _, j := range idx[:min(k, g)] {
			if l[j] > 0.5 {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(n)
}

// rocAUC is the area under the ROC curve of scores against binary labels
// (Mann–Whitney, ties counted half); NaN when one class is absent.
func rocAUC(scores []float32, pos []bool) float64 {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum float64
	var np, nn int
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if pos[idx[k]] {
				rankSum += avg
			}
		}
		i = j
	}
	for _, p := range pos {
		if p {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	return (rankSum - float64(np)*float64(np+1)/2) / (float64(np) * float64(nn))
}

// macroAUC averages rocAUC over genres that have both classes (NaN if none).
func macroAUC(pred, label []float32, g int) float64 {
	n := len(pred) / g
	scores := make([]float32, n)
	pos := make([]bool, n)
	var sum float64
	var cnt int
	for j := range g {
		for r := range n {
			scores[r] = pred[r*g+j]
			pos[r] = label[r*g+j] > 0.5
		}
		if a := rocAUC(scores, pos); !math.IsNaN(a) {
			sum += a
			cnt++
		}
	}
	if cnt == 0 {
		return math.NaN()
	}
	return sum / float64(cnt)
}

// bestThreshold returns the threshold on probabilities, from a grid of
// 0.01..0.99, that maximises micro-F1, and that F1.
func bestThreshold(pred, label []float32) (float64, float64) {
	bestT, bestF := 0.5, -1.0
	for k := 1; k <= 99; k++ {
		t := float32(k) / 100
		var tp, fp, fn float64
		for i, p := range pred {
			y := label[i] > 0.5
			switch {
			case p >= t && y:
				tp++
			case p >= t:
				fp++
			case y:
				fn++
			}
		}
		f := 0.0
		if tp > 0 {
			f = 2 * tp / (2*tp + fp + fn)
		}
		if f > bestF {
			bestT, bestF = float64(k)/100, f
		}
	}
	return bestT, bestF
}
