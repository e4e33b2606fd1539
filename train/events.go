package train

import (
	"log/slog"
	"math"

	"github.com/postergenre/postergenre/internal/tensorboard"
)

// events writes each epoch's figures as TensorBoard scalars, so training can
// be watched while it runs and runs overlaid. Event files are a view, not an
// output: a failure to write them is logged once and training goes on.
type events struct {
	w   *tensorboard.Writer
	log *slog.Logger
}

// openEvents opens the writer in env.TensorBoardDir; with none set (tests,
// bench) every method is a no-op.
func (t *trainer) openEvents() *events {
	e := &events{log: t.log}
	if t.env.TensorBoardDir == "" {
		return e
	}
	w, err := tensorboard.NewWriter(t.env.TensorBoardDir)
	if err != nil {
		t.log.Warn("tensorboard events off", "dir", t.env.TensorBoardDir, "err", err)
		return e
	}
	e.w = w
	return e
}

func (e *events) write(st EpochStats) {
	if e.w == nil {
		return
	}
	vals := map[string]float64{"lr": st.LearningRate, "images_per_second": st.ImagesPerSecond}
	for tag, v := range map[string]float64{
		"loss/train": float64(st.TrainLoss), "loss/validation": float64(st.ValLoss),
		"paper_accuracy/train": float64(st.TrainPaperAcc), "paper_accuracy/validation": float64(st.ValPaperAcc),
		"top3_hit/validation": float64(st.ValTop3Hit), "macro_auc/validation": float64(st.ValMacroAUC),
	} {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals[tag] = v
		}
	}
	if err := e.w.Scalars(int64(st.Epoch), vals); err != nil {
		e.log.Warn("tensorboard events off", "err", err)
		e.close()
	}
}

func (e *events) close() {
	if e.w == nil {
		return
	}
	if err := e.w.Close(); err != nil {
		e.log.Warn("tensorboard close", "err", err)
	}
	e.w = nil
}
