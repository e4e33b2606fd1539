package evaluate

import (
	"fmt"
	"math"

	"github.com/postergenre/postergenre/evaluate/report"
	"github.com/postergenre/postergenre/evaluate/scoring"
)

// Input assembles the report's input from the scored splits and the encode
// manifest's counts.
func Input(cfg Config, genres []string, sc *scoring.Result, splitRows map[string]int, genreCounts map[string]map[string]int, mi report.ModelInfo, hist []report.Epoch) report.Input {
	return report.Input{
		Genres:           genres,
		Val:              report.Split{Y: sc.Val.Y, S: sc.Val.S},
		Test:             report.Split{Y: sc.Test.Y, S: sc.Test.S, Rows: ReportRows(sc.Test.Rows)},
		TrainPrevalence:  sc.TrainPrevalence,
		SplitRows:        splitRows,
		GenreCounts:      genreCounts,
		Cooccurrence:     sc.Cooccurrence,
		CooccurrenceRows: sc.CooccurrenceRows,
		CooccurrenceFrom: "train+test labels",
		TopK:             cfg.TopK,
		Bootstrap:        cfg.Bootstrap,
		Seed:             cfg.Seed,
		Model:            mi,
		History:          hist,
		Examples:         sc.Examples,
	}
}

// Summary is the stage's Result.Summary: the headline numbers and their
// baselines (so that `pipeline history` can show them).
func Summary(r *report.Report) map[string]any {
	round := func(x report.Num) any {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return math.Round(f*1e4) / 1e4
	}
	sum := map[string]any{
		"test_rows":       r.Rows["test"],
		"validation_rows": r.Rows["validation"],
		"threshold":       r.Thresholds.Model,
		"baseline":        r.Baseline.Name,
	}
	k := len(r.Baseline.Ranking)
	topKey := fmt.Sprintf("top%d_hit", k)
	for _, key := range []string{"paper_accuracy", topKey, "macro_auc", "micro_f1"} {
		if m, ok := r.Metric(key); ok {
			sum[key] = round(m.Value)
			sum[key+"_baseline"] = round(m.Baseline)
			sum[key+"_ci_low"] = round(m.CILow)
			sum[key+"_ci_high"] = round(m.CIHigh)
		}
	}
	return sum
}
