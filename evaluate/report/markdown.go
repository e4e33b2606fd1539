package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/postergenre/postergenre/encode"
)

func f3(x Num) string {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return "–"
	}
	return fmt.Sprintf("%.3f", float64(x))
}

func interval(lo, hi Num) string {
	if math.IsNaN(float64(lo)) {
		return "–"
	}
	return "[" + f3(lo) + ", " + f3(hi) + "]"
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Markdown renders report.md: a section per job below, in page order.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	r.mdIntro(p)
	r.mdHeadline(p)
	r.mdGenres(p)
	r.mdTraining(p)
	r.mdPlots(p)
	p("## How this was evaluated\n\n")
	for _, n := range r.Notes {
		p("- %s\n", n)
	}
	return b.String()
}

// printer appends formatted text to the page.
type printer func(format string, a ...any)

func (r *Report) mdIntro(p printer) {
	p("# Evaluation report\n\n")
	p("Test split: **%d** posters, %d genres (%s). Validation: %d posters.", r.Rows[encode.SplitTest], len(r.Genres), strings.Join(r.Genres, ", "), r.Rows[encode.SplitValidation])
	if t, ok := r.Rows[encode.SplitTrain]; ok {
		p(" Train: %d posters.", t)
	}
	p("\n\n")
	p("Model: loss `%s`, input %d×%d, best epoch %d, TensorFlow %s on %s, config sha256 `%s`, encode manifest sha256 `%s`.\n\n",
		r.Model.Loss, r.Model.Width, r.Model.Height, r.Model.BestEpoch, r.Model.TFVersion, r.Model.Device, short(r.Model.ConfigSHA256), short(r.Model.ManifestSHA256))
	p("Decision threshold (tuned on validation, micro-F1 %s): **%.2f** (train stored %.2f). Prior's threshold: %.2f.\n\n",
		f3(r.Thresholds.ModelValF1), r.Thresholds.Model, r.Thresholds.Train, r.Thresholds.Prior)
}

func (r *Report) mdHeadline(p printer) {
	p("## Headline (test split)\n\n")
	p("Baseline: %s (top-%d: %s).\n\n", r.Baseline.Name, len(r.Baseline.Ranking), strings.Join(r.Baseline.Ranking, ", "))
	p("| metric | model | 95%% CI | baseline | baseline 95%% CI | model − baseline 95%% CI | all-zero |\n")
	p("|---|---:|---|---:|---|---|---:|\n")
	for _, m := range r.Headline {
		civ := interval(m.CILow, m.CIHigh)
		if m.WilsonLow != nil {
			civ += " (Wilson " + interval(*m.WilsonLow, *m.WilsonHigh) + ")"
		}
		az := ""
		if m.AllZero != nil {
			az = f3(*m.AllZero)
		}
		label := m.Label
		if !m.HigherIsBetter {
			label += " ↓"
		}
		p("| %s | **%s** | %s | %s | %s | %s | %s |\n", label, f3(m.Value), civ, f3(m.Baseline),
			interval(m.BaselineCILow, m.BaselineCIHigh), interval(m.DeltaCILow, m.DeltaCIHigh), az)
	}
	p("\n↓ lower is better. Threshold metrics (F1, Hamming, subset) use the threshold above.\n\n")
}

func (r *Report) mdGenres(p printer) {
	p("## Per genre (test split)\n\n")
	p("| genre | train prev. | test prev. | positives | AUC | AUC 95%% CI | AP | AP 95%% CI | AP chance | F1 | precision | recall | prior predicts |\n")
	p("|---|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|:-:|\n")
	for _, g := range r.PerGenre {
		pp := ""
		if g.PriorPredicted {
			pp = "✓"
		}
		p("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(g.Genre), f3(g.TrainPrevalence), f3(g.TestPrevalence), g.Positives,
			f3(g.AUC), interval(g.AUCLow, g.AUCHigh), f3(g.AP), interval(g.APLow, g.APHigh), f3(g.APBaseline), f3(g.F1), f3(g.Precision), f3(g.Recall), pp)
	}
	p("\n")
}

func (r *Report) mdTraining(p printer) {
	p("## Training history\n\n")
	s := r.Summary
	if s.Epochs == 0 {
		p("No history.\n\n")
		return
	}
	p("%d epochs, %s s. Best epoch %d: validation loss %s, paper accuracy %s, top-3 hit %s, macro AUC %s. Last epoch: train loss %s, validation loss %s.\n\n",
		s.Epochs, fmt.Sprintf("%.0f", float64(s.Seconds)), s.BestEpoch, f3(s.BestValLoss), f3(s.BestValPaper), f3(s.BestValTop3), f3(s.BestValAUC), f3(s.FinalTrainLoss), f3(s.FinalValLoss))
	p("| epoch | lr | train loss | train acc | val loss | val acc | val top-3 | val AUC | |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|:-:|\n")
	for _, e := range r.History {
		best := ""
		if e.Best {
			best = "best"
		}
		p("| %d | %.2g | %s | %s | %s | %s | %s | %s | %s |\n", e.Epoch, e.LearningRate, f3(e.TrainLoss), f3(e.TrainPaperAcc),
			f3(e.ValLoss), f3(e.ValPaperAcc), f3(e.ValTop3Hit), f3(e.ValMacroAUC), best)
	}
	p("\n")
}

func (r *Report) mdPlots(p printer) {
	if len(r.Plots) > 0 {
		p("## Plots\n\n")
		for _, f := range r.Plots {
			p("- [%s](%s)\n", f, f)
		}
		p("\n")
		for _, f := range r.Plots {
			p("![%s](%s)\n\n", f, f)
		}
	}
	if len(r.Examples) > 0 {
		p("Example predictions: [examples.md](examples.md).\n\n")
	}
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "–"
	}
	return s
}

// ExamplesMarkdown renders examples.md; thumbs tells whether examples/<id>.png exist.
func (r *Report) ExamplesMarkdown(thumbs bool) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	k := len(r.Baseline.Ranking)
	p("# Example test predictions\n\n")
	p("%d test posters, a seeded sample. Hit = one of the top %d genres is a true genre; paper = the top genre is the first true genre.\n\n", len(r.Examples), k)
	if thumbs {
		p("| poster | id | title | true genres | top %d | hit | paper |\n|---|---|---|---|---|:-:|:-:|\n", k)
	} else {
		p("| id | title | true genres | top %d | hit | paper |\n|---|---|---|---|:-:|:-:|\n", k)
	}
	hits := 0
	for _, e := range r.Examples {
		var truth, top []string
		for j, y := range e.Label {
			if y {
				truth = append(truth, r.Genres[j])
			}
		}
		hit := false
		for _, j := range topK(e.Scores, k) {
			mark := ""
			if e.Label[j] {
				hit = true
				mark = "✓"
			}
			top = append(top, fmt.Sprintf("%s %.2f%s", r.Genres[j], e.Scores[j], mark))
		}
		if hit {
			hits++
		}
		paper := "✗"
		if first, arg := firstTrue(e.Label), argmax(e.Scores); first >= 0 && first == arg {
			paper = "✓"
		}
		hm := "miss"
		if hit {
			hm = "**hit**"
		}
		title := mdEscape(displayTitle(e.Title, e.Year))
		id := fmt.Sprintf("[tt%07d](https://www.imdb.com/title/tt%07d/)", e.ImdbID, e.ImdbID)
		all := ""
		if len(e.Genres) > 0 {
			all = " <br><sub>listed: " + mdEscape(strings.Join(e.Genres, ", ")) + "</sub>"
		}
		row := fmt.Sprintf("%s | %s | %s%s | %s | %s | %s |", id, title, strings.Join(truth, ", "), all, strings.Join(top, ", "), hm, paper)
		if thumbs {
			p("| ![](examples/%d.png) | %s\n", e.ImdbID, row)
		} else {
			p("| %s\n", row)
		}
	}
	p("\n%d of %d shown are top-%d hits.\n", hits, len(r.Examples), k)
	return b.String()
}
