package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/metrics"
)

// Plot files, relative to the report folder.
const (
	PlotTraining     = "plots/training_curves.png"
	PlotGenres       = "plots/genre_distribution.png"
	PlotCooccurrence = "plots/genre_cooccurrence.png"
	PlotROC          = "plots/roc_curves.png"
	PlotPR           = "plots/pr_curves.png"
	PlotCalibration  = "plots/calibration.png"
	PlotConfusion    = "plots/confusion_matrix.png"
)

// renderPlots returns the PNG bytes of every plot the report has data for, by file name.
func (r *Report) renderPlots() (map[string][]byte, error) {
	out := map[string][]byte{}
	type job struct {
		name string
		ok   bool
		fn   func() ([]byte, error)
	}
	g := len(r.Genres)
	jobs := []job{
		{PlotTraining, len(r.History) > 0, r.trainingPlot},
		{PlotGenres, len(r.GenreCounts) > 0, r.genrePlot},
		{PlotCooccurrence, len(r.Cooccurrence) == g && g > 0, r.cooccurrencePlot},
		{PlotROC, len(r.ROC) > 0, r.rocPlot},
		{PlotPR, len(r.PR) > 0, r.prPlot},
		{PlotCalibration, len(r.Calibration.Bins) > 0, r.calibrationPlot},
		{PlotConfusion, len(r.Confusion.Counts) == g && g > 0, r.confusionPlot},
	}
	for _, j := range jobs {
		if !j.ok {
			continue
		}
		b, err := j.fn()
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", j.name, err)
		}
		out[j.name] = b
	}
	return out, nil
}

// margin is the white space around a figure and between its parts.
const margin = 3 * vg.Millimeter

// newPlot is a plot with the grid and the tick labels every figure here uses.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks{}, ticks{}
	return p
}

// figure draws panels side by side and, when leg has entries, one legend
// to their right: outside the data, so that it never hides a curve.
func figure(w, h vg.Length, panels []*plot.Plot, leg *plot.Legend) ([]byte, error) {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseBackgroundColor(color.White))
	dc := draw.Crop(draw.New(img), margin, -margin, margin, -margin)
	area := dc
	if leg != nil {
		leg.Left, leg.Top = true, true
		lw := leg.Rectangle(dc).Size().X
		area = draw.Crop(dc, 0, -(lw + margin), 0, 0)
		leg.Draw(draw.Crop(dc, dc.Size().X-lw, 0, 0, -margin*3))
	}
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: margin * 2}
	cs := plot.Align([][]*plot.Plot{panels}, tiles, area)
	for i, p := range panels {
		p.Draw(cs[0][i])
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newLegend is a legend in the plots' font, for figure.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font.Size = vg.Points(10)
	l.ThumbnailWidth = vg.Points(24)
	l.Padding = vg.Points(3)
	return &l
}

// ticks labels the default tick positions with as many decimals as their
// spacing needs, so that a narrow range (a loss between 1.32 and 1.41)
// never shows repeated labels like "1.4, 1.4, 1.3".
type ticks struct{}

func (ticks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	var major []float64
	for _, t := range ts {
		if t.Label != "" {
			major = append(major, t.Value)
		}
	}
	step := math.Inf(1)
	for i := 1; i < len(major); i++ {
		step = math.Min(step, math.Abs(major[i]-major[i-1]))
	}
	dec := 0
	if !math.IsInf(step, 0) && step > 0 {
		dec = max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	}
	// A step like 0.25 needs one more decimal than its order of magnitude says.
	for ; dec < 8; dec++ {
		if distinct(major, dec) {
			break
		}
	}
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', dec, 64)
		}
	}
	return ts
}

// distinct tells whether every value formats differently and exactly
// enough (to 1e-9 of its value) with dec decimals.
func distinct(vs []float64, dec int) bool {
	seen := map[string]bool{}
	for _, v := range vs {
		s := strconv.FormatFloat(v, 'f', dec, 64)
		back, _ := strconv.ParseFloat(s, 64)
		if seen[s] || math.Abs(back-v) > 1e-9*math.Max(1, math.Abs(v)) {
			return false
		}
		seen[s] = true
	}
	return true
}

// seriesStyle gives series i a colour and, past the palette's seven
// colours, a dash pattern, so that 28 genres stay distinguishable.
func seriesStyle(i int) draw.LineStyle {
	dashes := [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(1.5), vg.Points(2.5)}, {vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}}
	return draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.6), Dashes: dashes[(i/7)%len(dashes)]}
}

func line(p *plot.Plot, leg *plot.Legend, name string, xys plotter.XYs, st draw.LineStyle) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.LineStyle = st
	p.Add(l)
	if name != "" && leg != nil {
		leg.Add(name, l)
	}
	return nil
}

func finite(v Num) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// trainingPlot is the paper's Fig. 5: loss and accuracy per epoch, train vs validation.
func (r *Report) trainingPlot() ([]byte, error) {
	series := func(get func(Epoch) Num) plotter.XYs {
		var xys plotter.XYs
		for _, e := range r.History {
			if v := get(e); finite(v) {
				xys = append(xys, plotter.XY{X: float64(e.Epoch), Y: float64(v)})
			}
		}
		return xys
	}
	loss := newPlot("Loss", "epoch", "")
	acc := newPlot("Paper accuracy", "epoch", "")
	leg := newLegend()
	train, val := seriesStyle(0), seriesStyle(1)
	val.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	for _, s := range []struct {
		p    *plot.Plot
		name string // legend entry, once for both panels
		get  func(Epoch) Num
		st   draw.LineStyle
	}{
		{loss, encode.SplitTrain, func(e Epoch) Num { return e.TrainLoss }, train},
		{loss, encode.SplitValidation, func(e Epoch) Num { return e.ValLoss }, val},
		{acc, "", func(e Epoch) Num { return e.TrainPaperAcc }, train},
		{acc, "", func(e Epoch) Num { return e.ValPaperAcc }, val},
	} {
		if xys := series(s.get); len(xys) > 0 {
			if err := line(s.p, leg, s.name, xys, s.st); err != nil {
				return nil, err
			}
		}
	}
	if r.Summary.BestEpoch > 0 {
		for _, p := range []*plot.Plot{loss, acc} {
			p.Add(&bestLine{x: float64(r.Summary.BestEpoch)})
		}
		leg.Add(fmt.Sprintf("best epoch %d", r.Summary.BestEpoch), &bestLine{})
	}
	for _, p := range []*plot.Plot{loss, acc} {
		p.Add(plotter.NewGrid())
		p.X.Tick.Marker = epochTicks{}
	}
	return figure(11*vg.Inch, 4*vg.Inch, []*plot.Plot{loss, acc}, leg)
}

// epochTicks labels whole epochs only.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (ticks{}).Ticks(lo, hi) {
		if t.Label != "" && t.Value != math.Trunc(t.Value) {
			continue
		}
		if t.Label != "" {
			t.Label = strconv.Itoa(int(t.Value))
		}
		out = append(out, t)
	}
	return out
}

// genrePlot is the paper's Fig. 3: each genre's share of posters, per
// split, as horizontal bars so that genre names read level and whole.
func (r *Report) genrePlot() ([]byte, error) {
	p := newPlot("Genre distribution per split", "share of the split's posters", "")
	leg := newLegend()
	n := len(r.Genres)
	const perGenre = 0.42 // inches of height per genre
	h := vg.Length(max(3.5, float64(n)*perGenre+1.4)) * vg.Inch
	// Bars are sized in points: a group takes ~75% of a genre's height.
	var splits []string
	for _, sp := range []string{encode.SplitTrain, encode.SplitValidation, encode.SplitTest} {
		if _, ok := r.GenreCounts[sp]; ok && r.SplitRows[sp] > 0 {
			splits = append(splits, sp)
		}
	}
	bw := vg.Length(perGenre*0.75/float64(max(1, len(splits)))) * vg.Inch
	names := make([]string, n)
	for j, g := range r.Genres {
		names[n-1-j] = g // the first genre on top
	}
	for i, sp := range splits {
		counts, rows := r.GenreCounts[sp], r.SplitRows[sp]
		vals := make(plotter.Values, n)
		for j, g := range r.Genres {
			vals[n-1-j] = float64(counts[g]) / float64(rows)
		}
		bc, err := plotter.NewBarChart(vals, bw)
		if err != nil {
			return nil, err
		}
		bc.Horizontal = true
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = 0
		// first split on top within a group
		bc.Offset = vg.Length(float64(len(splits)-1)/2-float64(i)) * bw
		p.Add(bc)
		leg.Add(fmt.Sprintf("%s (%d posters)", sp, rows), bc)
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	p.X.Min = 0
	p.Add(plotter.NewGrid())
	return figure(8*vg.Inch, h, []*plot.Plot{p}, leg)
}

// blues is a white-to-dark-blue colour map over [0, 1]: the zero cells
// blend with the page, the high ones stand out, and the colour bar has a
// frame so that its white end is visible.
func blues() (palette.ColorMap, error) {
	cm, err := moreland.NewLuminance([]color.Color{
		color.NRGBA{R: 8, G: 48, B: 107, A: 255},
		color.NRGBA{R: 66, G: 146, B: 198, A: 255},
		color.NRGBA{R: 198, G: 219, B: 239, A: 255},
		color.NRGBA{R: 247, G: 251, B: 255, A: 255},
	})
	if err != nil {
		return nil, err
	}
	cm.SetMin(0)
	cm.SetMax(1)
	return palette.Reverse(cm), nil
}

// grid is a square matrix for plotter.HeatMap, row 0 drawn on top.
type grid struct {
	n int
	z func(row, col int) float64
}

func (g grid) Dims() (c, r int)   { return g.n, g.n }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }
func (g grid) Z(c, r int) float64 { return g.z(g.n-1-r, c) }

// heatmap draws an n×n matrix of values in [0, 1] (NaN cells grey) with
// each cell's text written in it and a framed colour bar beside it.
func heatmap(title, xLabel, yLabel, barLabel string, names []string, z func(row, col int) float64, cell func(row, col int) string) ([]byte, error) {
	n := len(names)
	cm, err := blues()
	if err != nil {
		return nil, err
	}
	p := newPlot(title, xLabel, yLabel)
	hm := plotter.NewHeatMap(grid{n, z}, cm.Palette(256))
	hm.Min, hm.Max = 0, 1
	hm.NaN = color.Gray{Y: 225}
	p.Add(hm)
	var xt, yt []plot.Tick
	for j, g := range names {
		xt = append(xt, plot.Tick{Value: float64(j), Label: g})
		yt = append(yt, plot.Tick{Value: float64(n - 1 - j), Label: g})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5, -0.5, float64(n)-0.5

	size := vg.Points(max(6, min(12, 110/float64(n))))
	var xys plotter.XYs
	var labels []string
	var styles []text.Style
	for row := 0; row < n; row++ {
		for col := 0; col < n; col++ {
			s := cell(row, col)
			if s == "" {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(col), Y: float64(n - 1 - row)})
			labels = append(labels, s)
			c := color.Color(color.Black)
			if v := z(row, col); !math.IsNaN(v) && v > 0.55 {
				c = color.White
			}
			styles = append(styles, text.Style{Color: c, Font: font.From(plot.DefaultFont, size), XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler})
		}
	}
	if len(xys) > 0 {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, err
		}
		lb.TextStyle = styles
		p.Add(lb)
	}

	side := vg.Length(max(4.5, float64(n)*0.55+2)) * vg.Inch
	w := side + 1.3*vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, side), vgimg.UseBackgroundColor(color.White))
	dc := draw.Crop(draw.New(img), margin, -margin, margin, -margin)
	const barW = 1.1 * vg.Inch
	main := draw.Crop(dc, 0, -barW, 0, 0)
	p.Draw(main)
	data := p.DataCanvas(main)

	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	bar.HideX()
	bar.Y.Label.Text = barLabel
	bar.Y.Tick.Marker = ticks{}
	bar.Y.Padding, bar.X.Padding = 0, 0
	bc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: dc.Max.X - barW + margin, Y: data.Min.Y},
		Max: vg.Point{X: dc.Max.X - margin, Y: data.Max.Y},
	}}
	bar.Draw(bc)
	inner := bar.DataCanvas(bc)
	inner.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 80}, Width: vg.Points(0.8)}, []vg.Point{
		inner.Min, {X: inner.Max.X, Y: inner.Min.Y}, inner.Max, {X: inner.Min.X, Y: inner.Max.Y}, inner.Min,
	})
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// cooccurrencePlot is the paper's Fig. 4: how often genre B is listed with
// genre A. The diagonal (always 1) shows how many posters list A instead.
func (r *Report) cooccurrencePlot() ([]byte, error) {
	c := r.Cooccurrence
	cond := func(row, col int) float64 {
		if row == col || c[row][row] == 0 {
			return math.NaN()
		}
		return float64(c[row][col]) / float64(c[row][row])
	}
	cell := func(row, col int) string {
		if row == col {
			return "n=" + strconv.Itoa(c[row][row])
		}
		if v := cond(row, col); !math.IsNaN(v) {
			return strconv.FormatFloat(v, 'f', 2, 64)
		}
		return ""
	}
	title := fmt.Sprintf("P(column genre | row genre), %d posters (%s)", r.CooccurrenceRows, r.CooccurrenceFrom)
	return heatmap(title, "listed with", "genre", "share of the row genre's posters", r.Genres, cond, cell)
}

// confusionPlot is the single-label confusion matrix: first true genre
// (rows) against the top-scored genre (columns); colour is the share of
// the row, the text the count.
func (r *Report) confusionPlot() ([]byte, error) {
	c := r.Confusion.Counts
	rowSum := make([]int, len(c))
	total := 0
	for i := range c {
		for _, v := range c[i] {
			rowSum[i] += v
		}
		total += rowSum[i]
	}
	share := func(row, col int) float64 {
		if rowSum[row] == 0 {
			return math.NaN()
		}
		return float64(c[row][col]) / float64(rowSum[row])
	}
	cell := func(row, col int) string {
		if rowSum[row] == 0 {
			return ""
		}
		if len(c) > 10 {
			return strconv.Itoa(c[row][col])
		}
		return fmt.Sprintf("%d\n%.0f%%", c[row][col], 100*share(row, col))
	}
	title := fmt.Sprintf("Confusion: first true genre vs top genre (%d test posters)", total)
	return heatmap(title, "top-scored genre", "first true genre", "share of the row", r.Genres, share, cell)
}

// rocPlot draws every genre's ROC curve on the test split.
func (r *Report) rocPlot() ([]byte, error) {
	p := newPlot("ROC per genre (test split)", "false positive rate", "true positive rate")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	leg := newLegend()
	for i, c := range r.ROC {
		xys := make(plotter.XYs, len(c.FPR))
		for j := range c.FPR {
			xys[j] = plotter.XY{X: c.FPR[j], Y: c.TPR[j]}
		}
		if err := line(p, leg, fmt.Sprintf("%s  AUC %.3f", c.Genre, float64(c.AUC)), xys, seriesStyle(i)); err != nil {
			return nil, err
		}
	}
	chance := draw.LineStyle{Color: color.Gray{Y: 150}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	if err := line(p, leg, "chance  AUC 0.5", plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, chance); err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid())
	return figure(9*vg.Inch, curveHeight(len(r.ROC)), []*plot.Plot{p}, leg)
}

// curveHeight leaves room for a legend of n curves beside a square-ish plot.
func curveHeight(n int) vg.Length {
	return vg.Length(max(5.5, float64(n+1)*0.21+0.6)) * vg.Inch
}

// prPlot draws every genre's precision–recall curve on the test split,
// with its AP and the AP of a constant score (the genre's prevalence).
func (r *Report) prPlot() ([]byte, error) {
	p := newPlot("Precision–recall per genre (test split)", "recall", "precision")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	leg := newLegend()
	for i, c := range r.PR {
		xys := plotter.XYs{{X: 0, Y: c.Precision[0]}}
		for j := range c.Recall {
			if j > 0 { // a step: precision holds until the next threshold's recall
				xys = append(xys, plotter.XY{X: c.Recall[j-1], Y: c.Precision[j]})
			}
			xys = append(xys, plotter.XY{X: c.Recall[j], Y: c.Precision[j]})
		}
		name := fmt.Sprintf("%s  AP %.3f (chance %.3f)", c.Genre, float64(c.AP), float64(c.Chance))
		if err := line(p, leg, name, xys, seriesStyle(i)); err != nil {
			return nil, err
		}
	}
	p.Add(plotter.NewGrid())
	return figure(9.5*vg.Inch, curveHeight(len(r.PR)), []*plot.Plot{p}, leg)
}

// calErrors are the reliability points with Wilson 95% intervals.
type calErrors struct {
	plotter.XYs
	plotter.YErrors
}

// calibrationPlot is the reliability diagram: in each score bin, the
// share of (poster, genre) pairs that are true against the mean score,
// with a Wilson 95% interval and the bin's pair count.
func (r *Report) calibrationPlot() ([]byte, error) {
	p := newPlot(fmt.Sprintf("Reliability over every (poster, genre) pair, test split (ECE %.3f)", float64(r.Calibration.ECE)),
		"mean predicted probability in the bin", "share of pairs whose genre is true")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	leg := newLegend()
	perfect := draw.LineStyle{Color: color.Gray{Y: 150}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	if err := line(p, leg, "calibrated", plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, perfect); err != nil {
		return nil, err
	}
	var ce calErrors
	var labels []string
	for _, b := range r.Calibration.Bins {
		if b.Count == 0 {
			continue
		}
		iv := metrics.Wilson(b.Positives, b.Count, metrics.Z95)
		y := float64(b.Rate)
		ce.XYs = append(ce.XYs, plotter.XY{X: float64(b.MeanScore), Y: y})
		ce.YErrors = append(ce.YErrors, struct{ Low, High float64 }{y - iv.Low, iv.High - y})
		labels = append(labels, "n="+strconv.Itoa(b.Count))
	}
	if len(ce.XYs) > 0 {
		st := seriesStyle(0)
		if err := line(p, nil, "", ce.XYs, st); err != nil {
			return nil, err
		}
		sc, err := plotter.NewScatter(ce.XYs)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: st.Color, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		eb, err := plotter.NewYErrorBars(ce)
		if err != nil {
			return nil, err
		}
		eb.LineStyle.Color = st.Color
		p.Add(eb)
		leg.Add("model (bars: 95% Wilson interval)", sc)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: ce.XYs, Labels: labels})
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(8)
			lb.TextStyle[i].Color = color.Gray{Y: 90}
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(-10)}
		p.Add(lb)
	}
	p.Add(plotter.NewGrid())
	return figure(9*vg.Inch, 6*vg.Inch, []*plot.Plot{p}, leg)
}

// bestLine is a dotted vertical line at the best epoch.
type bestLine struct{ x float64 }

func (b *bestLine) style() draw.LineStyle {
	return draw.LineStyle{Color: color.Gray{Y: 110}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(1), vg.Points(3)}}
}

func (b *bestLine) Plot(c draw.Canvas, p *plot.Plot) {
	x := c.X(p.X.Norm(b.x))
	c.StrokeLine2(b.style(), x, c.Min.Y, x, c.Max.Y)
}

func (b *bestLine) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(b.style(), c.Min.X, y, c.Max.X, y)
}
