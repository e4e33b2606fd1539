package train

import (
	"math"

	"github.com/postergenre/postergenre/internal/metrics"
)

// selection keeps the best epoch by the early-stopping metric and says when
// patience has run out. Its state (best epoch and value, epochs since) lives
// in the checkpoint, so a resumed run selects as an uninterrupted one.
type selection struct {
	metric   string // val_loss (lower is better) or a validation score (higher is better)
	patience int    // 0 = never stop early
}

func newSelection(es EarlyStopping) selection {
	return selection{metric: es.Metric, patience: es.Patience}
}

// value is the selection metric of an epoch.
func (s selection) value(st EpochStats) float64 {
	switch s.metric {
	case "val_paper_accuracy":
		return float64(st.ValPaperAcc)
	case "val_macro_auc":
		return float64(st.ValMacroAUC)
	case "val_top3_hit":
		return float64(st.ValTop3Hit)
	}
	return float64(st.ValLoss)
}

// better reports whether v improves on best (NaN never improves; anything
// improves on a NaN best).
func (s selection) better(v, best float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if math.IsNaN(best) {
		return true
	}
	if s.metric == "val_loss" {
		return v < best
	}
	return v > best
}

// observe records an epoch in st and reports whether it is the new best.
// Without validation rows every epoch is "best": the model is the last one.
func (s selection) observe(st *ckptState, epoch int, v float64, noValidation bool) bool {
	if s.better(v, float64(st.BestValue)) || (math.IsNaN(v) && noValidation) {
		st.BestEpoch, st.BestValue, st.BadEpochs = epoch, metrics.Num(v), 0
		return true
	}
	st.BadEpochs++
	return false
}

// exhausted reports whether training should stop after st.
func (s selection) exhausted(st ckptState) bool {
	return s.patience > 0 && st.BadEpochs >= s.patience
}
