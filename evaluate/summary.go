package evaluate

import (
	"fmt"
	"math"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate/report"
	"github.com/postergenre/postergenre/evaluate/scoring"
	"github.com/postergenre/postergenre/stages"
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

// Headline is the numbers a run is judged by, on the test split, with
// their 95% intervals and baselines: paper accuracy first (the grid table's
// number), then top-k hit, macro AUC and micro F1. Metrics the report could
// not compute (NaN) are left out. k is the report's own: top_k, at most
// the number of genres.
func Headline(r *report.Report) []stages.Metric {
	k := len(r.Baseline.Ranking)
	var out []stages.Metric
	for _, key := range []string{"paper_accuracy", fmt.Sprintf("top%d_hit", k), "macro_auc", "micro_f1"} {
		m, ok := r.Metric(key)
		if !ok {
			continue
		}
		v := stages.Finite(round4(float64(m.Value)))
		if v == nil {
			continue
		}
		out = append(out, stages.Metric{Key: m.Key, Label: m.Label, Value: *v,
			Lo: stages.Finite(round4(float64(m.CILow))), Hi: stages.Finite(round4(float64(m.CIHigh))),
			Baseline: stages.Finite(round4(float64(m.Baseline)))})
	}
	return out
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// Keys of the stage's Result.Summary that others read back (serve's model
// card, run diffs).
const (
	SummaryTestRows       stages.SummaryKey = "test_rows"
	SummaryValidationRows stages.SummaryKey = "validation_rows"
	SummaryThreshold      stages.SummaryKey = "threshold"
	SummaryBaseline       stages.SummaryKey = "baseline"
)

// Summary is the stage's Result.Summary: the row counts and the headline
// flattened (<key>, <key>_baseline, <key>_ci_low, <key>_ci_high; nil where
// unknown) for the stage manifest and the log.
func Summary(r *report.Report, headline []stages.Metric) map[string]any {
	sum := map[string]any{
		string(SummaryTestRows):       r.Rows[encode.SplitTest],
		string(SummaryValidationRows): r.Rows[encode.SplitValidation],
		string(SummaryThreshold):      r.Thresholds.Model,
		string(SummaryBaseline):       r.Baseline.Name,
	}
	orNil := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	for _, m := range headline {
		sum[m.Key] = m.Value
		sum[m.Key+"_baseline"] = orNil(m.Baseline)
		sum[m.Key+"_ci_low"] = orNil(m.Lo)
		sum[m.Key+"_ci_high"] = orNil(m.Hi)
	}
	return sum
}
