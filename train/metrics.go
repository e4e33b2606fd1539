package train

import (
	"math"

	"github.com/postergenre/postergenre/internal/metrics"
)

// Training computes no metric of its own: every value in history.jsonl and
// model.json comes from internal/metrics (pure Go), so the validation
// numbers and the tuned threshold training reports are the ones the evaluate
// stage computes on the same rows.

// topK is the k of the history's top-k hit (val_top3_hit).
const topK = 3

// rows turns flat row-major [n×g] probabilities and labels into the
// rows × genres shape of internal/metrics. A label counts as true above 0.5,
// as evaluate/scoring reads it.
func rows(probs, labels []float32, g int) (y [][]bool, s [][]float64) {
	n := len(probs) / g
	y, s = make([][]bool, n), make([][]float64, n)
	for r := range n {
		y[r], s[r] = make([]bool, g), make([]float64, g)
		for j := range g {
			y[r][j] = labels[r*g+j] > 0.5
			s[r][j] = float64(probs[r*g+j])
		}
	}
	return y, s
}

// valMetrics are one epoch's metrics on the validation split. Every value
// is NaN when the split is empty.
type valMetrics struct {
	PaperAcc, TopKHit, MacroAUC float64
	// Threshold maximises micro-F1 over metrics.Grid() (0.5 without rows).
	Threshold float64
}

func validationMetrics(probs, labels []float32, g int) valMetrics {
	if len(probs) < g {
		return valMetrics{PaperAcc: math.NaN(), TopKHit: math.NaN(), MacroAUC: math.NaN(), Threshold: 0.5}
	}
	y, s := rows(probs, labels, g)
	auc, counted := metrics.MacroAUC(y, s)
	if counted == 0 {
		auc = math.NaN()
	}
	thr, _ := metrics.TuneThreshold(y, s, metrics.Grid())
	return valMetrics{
		PaperAcc:  metrics.PaperAccuracy(y, s),
		TopKHit:   metrics.TopKHit(y, s, topK),
		MacroAUC:  auc,
		Threshold: thr,
	}
}

// paperHits is how many rows of a batch metrics.PaperAccuracy counts correct.
func paperHits(probs, labels []float32, g int) float64 {
	y, s := rows(probs, labels, g)
	return metrics.PaperAccuracy(y, s) * float64(len(y))
}
