package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot files, relative to the report folder.
const (
	PlotTraining     = "plots/training_curves.png"
	PlotGenres       = "plots/genre_distribution.png"
	PlotCooccurrence = "plots/genre_cooccurrence.png"
	PlotROC          = "plots/roc_curves.png"
)

// renderPlots returns the PNG bytes of every plot the report has data for, by file name.
func (r *Report) renderPlots() (map[string][]byte, error) {
	out := map[string][]byte{}
	type job struct {
		name string
		ok   bool
		fn   func() ([]byte, error)
	}
	jobs := []job{
		{PlotTraining, len(r.History) > 0, r.trainingPlot},
		{PlotGenres, len(r.GenreCounts) > 0, r.genrePlot},
		{PlotCooccurrence, len(r.Cooccurrence) == len(r.Genres) && len(r.Genres) > 0, r.cooccurrencePlot},
		{PlotROC, len(r.ROC) > 0, r.rocPlot},
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

func png(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func line(p *plot.Plot, name string, xys plotter.XYs, i int, dashed bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
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
	loss := plot.New()
	loss.Title.Text = "Loss"
	loss.X.Label.Text = "epoch"
	acc := plot.New()
	acc.Title.Text = "Paper accuracy"
	acc.X.Label.Text = "epoch"
	for _, s := range []struct {
		p    *plot.Plot
		name string
		get  func(Epoch) Num
		i    int
		dash bool
	}{
		{loss, "train", func(e Epoch) Num { return e.TrainLoss }, 0, false},
		{loss, "validation", func(e Epoch) Num { return e.ValLoss }, 1, true},
		{acc, "train", func(e Epoch) Num { return e.TrainPaperAcc }, 0, false},
		{acc, "validation", func(e Epoch) Num { return e.ValPaperAcc }, 1, true},
	} {
		if xys := series(s.get); len(xys) > 0 {
			if err := line(s.p, s.name, xys, s.i, s.dash); err != nil {
				return nil, err
			}
		}
	}
	if r.Summary.BestEpoch > 0 {
		for _, p := range []*plot.Plot{loss, acc} {
			p.Add(&bestLine{x: float64(r.Summary.BestEpoch)})
			p.Legend.Add(fmt.Sprintf("best epoch %d", r.Summary.BestEpoch), &bestLine{})
		}
	}
	for _, p := range []*plot.Plot{loss, acc} {
		p.Legend.Top = true
		p.Add(plotter.NewGrid())
	}
	const w, h = 10 * vg.Inch, 4 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	cs := plot.Align([][]*plot.Plot{{loss, acc}}, tiles, dc)
	loss.Draw(cs[0][0])
	acc.Draw(cs[0][1])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// genrePlot is the paper's Fig. 3: each genre's share of posters, per split.
func (r *Report) genrePlot() ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Genre distribution per split"
	p.Y.Label.Text = "share of the split's posters"
	splits := []string{"train", "validation", "test"}
	bw := vg.Points(max(5, min(16, 120/float64(max(1, len(r.Genres))))))
	i := 0
	for _, sp := range splits {
		counts, ok := r.GenreCounts[sp]
		rows := r.SplitRows[sp]
		if !ok || rows == 0 {
			continue
		}
		vals := make(plotter.Values, len(r.Genres))
		for j, g := range r.Genres {
			vals[j] = float64(counts[g]) / float64(rows)
		}
		bc, err := plotter.NewBarChart(vals, bw)
		if err != nil {
			return nil, err
		}
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = 0
		bc.Offset = vg.Length(i-1) * bw
		p.Add(bc)
		p.Legend.Add(fmt.Sprintf("%s (%d)", sp, rows), bc)
		i++
	}
	p.Legend.Top = true
	p.NominalX(r.Genres...)
	rotate(&p.X)
	w := vg.Length(max(6, float64(len(r.Genres))*0.45)) * vg.Inch
	return png(p, w, 4.5*vg.Inch)
}

func rotate(a *plot.Axis) {
	a.Tick.Label.Rotation = math.Pi / 2
	a.Tick.Label.XAlign = draw.XRight
	a.Tick.Label.YAlign = draw.YCenter
}

// condGrid is P(column genre | row genre) from the co-occurrence counts.
type condGrid struct{ c [][]int }

func (g condGrid) Dims() (c, r int) { return len(g.c), len(g.c) }
func (g condGrid) X(c int) float64  { return float64(c) }
func (g condGrid) Y(r int) float64  { return float64(len(g.c) - 1 - r) }
func (g condGrid) Z(c, r int) float64 {
	if g.c[r][r] == 0 {
		return 0
	}
	return float64(g.c[r][c]) / float64(g.c[r][r])
}

// cooccurrencePlot is the paper's Fig. 4: how often genre B is listed with genre A.
func (r *Report) cooccurrencePlot() ([]byte, error) {
	cm := moreland.ExtendedBlackBody()
	cm.SetMin(0)
	cm.SetMax(1)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("P(column genre | row genre), %d posters (%s)", r.CooccurrenceRows, r.CooccurrenceFrom)
	hm := plotter.NewHeatMap(condGrid{r.Cooccurrence}, cm.Palette(255))
	hm.Min, hm.Max = 0, 1
	p.Add(hm)
	n := len(r.Genres)
	var xt, yt []plot.Tick
	for j, g := range r.Genres {
		xt = append(xt, plot.Tick{Value: float64(j), Label: g})
		yt = append(yt, plot.Tick{Value: float64(n - 1 - j), Label: g})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	rotate(&p.X)
	// Colour key as a thin legend of five swatches.
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c, err := cm.At(v)
		if err != nil {
			return nil, err
		}
		p.Legend.Add(fmt.Sprintf("%.2f", v), swatch{c})
	}
	// room on the right for the colour key
	p.X.Min, p.X.Max = -0.5, float64(n)+0.8
	p.Legend.Top = true
	side := vg.Length(max(5, float64(n)*0.35+2)) * vg.Inch
	return png(p, side+vg.Inch, side)
}

type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.c, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y},
	})
}

// rocPlot draws every genre's ROC curve on the test split.
func (r *Report) rocPlot() ([]byte, error) {
	p := plot.New()
	p.Title.Text = "ROC per genre (test split)"
	p.X.Label.Text = "false positive rate"
	p.Y.Label.Text = "true positive rate"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	for i, c := range r.ROC {
		xys := make(plotter.XYs, len(c.FPR))
		for j := range c.FPR {
			xys[j] = plotter.XY{X: c.FPR[j], Y: c.TPR[j]}
		}
		if err := line(p, fmt.Sprintf("%s (%.3f)", c.Genre, float64(c.AUC)), xys, i, i >= 7 && i < 14); err != nil {
			return nil, err
		}
	}
	chance, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	chance.Color = color.Gray{Y: 150}
	chance.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(chance)
	p.Legend.Add("chance (0.5)", chance)
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	h := vg.Length(max(5, float64(len(r.ROC))*0.22)) * vg.Inch
	return png(p, 7*vg.Inch, h)
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
