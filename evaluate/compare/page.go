package compare

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/stages"
)

//go:embed page.html.tmpl
var pageTemplate string

// Run is one run (or grid cell) on the comparison page.
type Run struct {
	Name      string
	Config    string
	Headline  []stages.Metric
	Threshold float64
	Preds     Predictions
	// PredsNote says why there are no curves ("" when Preds has rows).
	PredsNote string
}

// ParamRow is one config key that differs among the runs, a value per run.
type ParamRow struct {
	Key    string
	Values []string
}

// pageData is what the template renders.
type pageData struct {
	Generated string
	Runs      []pageRun
	Metrics   []metricRow
	Genres    []genreCard
	Params    []ParamRow
	Notes     []string
	TestRows  int
	Resamples int
}

type pageRun struct {
	Name, Config, Color, Note string
}

type metricRow struct {
	Label string
	Cells []metricCell
}

type metricCell struct {
	Value, Diff, Interval string
}

type genreCard struct {
	Genre   string
	ROC, PR template.HTML
	Rows    []metricRow
}

// palette colours the runs, in order (colour-blind safe, Okabe-Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

// Page renders one self-contained HTML page comparing runs: headline
// metrics with each run's difference to the first and its paired 95%
// interval, per genre the overlaid ROC and PR curves with AUC and AP
// deltas, and the config values that differ. Intervals need every run to
// have scored the same test rows; otherwise the page says so.
func Page(runs []Run, params []ParamRow, now time.Time) ([]byte, error) {
	if len(runs) < 2 {
		return nil, fmt.Errorf("compare: need at least 2 runs, got %d", len(runs))
	}
	d := pageData{Generated: now.UTC().Format("2006-01-02 15:04 UTC"), Params: params, Resamples: Resamples}
	for i, r := range runs {
		d.Runs = append(d.Runs, pageRun{Name: r.Name, Config: r.Config, Color: palette[i%len(palette)], Note: r.PredsNote})
	}
	paired := pairedAll(runs, &d)
	d.Metrics = headlineRows(runs, paired)
	d.Genres = genreCards(runs, paired)
	var b bytes.Buffer
	t, err := template.New("compare").Parse(pageTemplate)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// pairing is run i's comparison with the first run (nil for the first).
type pairing struct {
	metrics []MetricDiff
	genres  []GenreDiff
}

func pairedAll(runs []Run, d *pageData) []*pairing {
	out := make([]*pairing, len(runs))
	base := runs[0]
	for i := 1; i < len(runs); i++ {
		r := runs[i]
		p := &pairing{metrics: Headlines(base.Headline, r.Headline)}
		out[i] = p
		switch {
		case len(base.Preds.Rows) == 0 || len(r.Preds.Rows) == 0:
			d.Notes = append(d.Notes, fmt.Sprintf("%s vs %s: no intervals (predictions missing)", r.Name, base.Name))
		case RowsDiffer(base.Preds.Rows, r.Preds.Rows) != "":
			d.Notes = append(d.Notes, r.Name+" vs "+base.Name+": "+RowsDiffer(base.Preds.Rows, r.Preds.Rows))
		default:
			d.TestRows = len(base.Preds.Rows)
			p.genres = Paired(p.metrics, base.Preds.Genres, base.Preds.Rows, r.Preds.Rows, base.Threshold, r.Threshold, Resamples)
		}
	}
	return out
}

func headlineRows(runs []Run, paired []*pairing) []metricRow {
	var rows []metricRow
	for _, m := range Headlines(runs[0].Headline, runs[len(runs)-1].Headline) {
		row := metricRow{Label: m.Label}
		for i, r := range runs {
			c := metricCell{Value: f3(valueOf(r.Headline, m.Key))}
			if p := paired[i]; p != nil {
				for _, md := range p.metrics {
					if md.Key == m.Key {
						c.Diff, c.Interval = signed(md.Diff), ivText(md)
					}
				}
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	return rows
}

func genreCards(runs []Run, paired []*pairing) []genreCard {
	genres := runs[0].Preds.Genres
	var cards []genreCard
	for j, g := range genres {
		card := genreCard{Genre: g}
		var roc, pr []curve
		auc, ap := metricRow{Label: "ROC-AUC"}, metricRow{Label: "average precision"}
		for i, r := range runs {
			y, s := column(r.Preds, g)
			if y == nil {
				auc.Cells, ap.Cells = append(auc.Cells, metricCell{Value: "-"}), append(ap.Cells, metricCell{Value: "-"})
				continue
			}
			fpr, tpr := metrics.ROCCurve(y, s)
			rec, prec := metrics.PRCurve(y, s)
			roc = append(roc, curve{fpr, tpr, palette[i%len(palette)]})
			pr = append(pr, curve{rec, prec, palette[i%len(palette)]})
			a, _ := metrics.ROCAUC(y, s)
			p, _ := metrics.AveragePrecision(y, s)
			ca, cp := metricCell{Value: f3(&a)}, metricCell{Value: f3(&p)}
			if pp := paired[i]; pp != nil && j < len(pp.genres) {
				ca.Diff, ca.Interval = signed(pp.genres[j].AUC.Diff), ivText(pp.genres[j].AUC)
				cp.Diff, cp.Interval = signed(pp.genres[j].AP.Diff), ivText(pp.genres[j].AP)
			}
			auc.Cells, ap.Cells = append(auc.Cells, ca), append(ap.Cells, cp)
		}
		card.ROC = svgPlot("ROC: "+g, "false positive rate", "true positive rate", roc, true)
		card.PR = svgPlot("PR: "+g, "recall", "precision", pr, false)
		card.Rows = []metricRow{auc, ap}
		cards = append(cards, card)
	}
	return cards
}

// column is one genre's truth and scores in a run (nil when the run has
// no such genre or no rows).
func column(p Predictions, genre string) ([]bool, []float64) {
	j := -1
	for i, g := range p.Genres {
		if g == genre {
			j = i
		}
	}
	if j < 0 || len(p.Rows) == 0 {
		return nil, nil
	}
	y, s := Matrices(p.Rows)
	yc, sc := make([]bool, len(y)), make([]float64, len(s))
	for i := range y {
		if j < len(y[i]) && j < len(s[i]) {
			yc[i], sc[i] = y[i][j], s[i][j]
		}
	}
	return yc, sc
}

type curve struct {
	x, y  []float64
	color string
}

// svgPlot draws curves in a 240×240 viewBox: the page scales it to its
// card, never below the width where its 12-unit text stays >= 10 px.
func svgPlot(title, xl, yl string, cs []curve, diagonal bool) template.HTML {
	const size, l, r, t, bt = 240.0, 38.0, 8.0, 22.0, 34.0
	w, h := size-l-r, size-t-bt
	px := func(x float64) float64 { return l + x*w }
	py := func(y float64) float64 { return t + (1-y)*h }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %g %g" role="img" aria-label="%s" class="curve">`, size, size, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%g" y="15" class="t">%s</text>`, l, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" class="frame"/>`, l, t, w, h)
	for _, v := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="middle">%g</text>`, px(v), t+h+13, v)
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="end">%g</text>`, l-4, py(v)+4, v)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="ax" text-anchor="middle">%s</text>`, l+w/2, size-4, xl)
	fmt.Fprintf(&b, `<text x="10" y="%g" class="ax" text-anchor="middle" transform="rotate(-90 10 %g)">%s</text>`, t+h/2, t+h/2, yl)
	if diagonal {
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" class="chance"/>`, px(0), py(0), px(1), py(1))
	}
	for _, c := range cs {
		var pts []string
		for i := range c.x {
			if i < len(c.y) && !math.IsNaN(c.x[i]) && !math.IsNaN(c.y[i]) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(c.x[i]), py(c.y[i])))
			}
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), c.color)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func f3(p *float64) string {
	if p == nil || math.IsNaN(*p) {
		return "-"
	}
	return fmt.Sprintf("%.3f", *p)
}

func signed(p *float64) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%+.3f", *p)
}

func ivText(m MetricDiff) string {
	if m.Lo == nil || m.Hi == nil {
		return ""
	}
	return fmt.Sprintf("[%+.3f, %+.3f]", *m.Lo, *m.Hi)
}
