package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	_ "image/gif" // posters in the store are JPEG; these decode what else a store may hold
	_ "image/jpeg"
	_ "image/png"
	"math"
	"sort"
	"strings"
)

// HTMLFile is the self-contained page: plots and posters are embedded as
// data: URIs, so it opens offline by double-click and survives being
// copied alone.
const HTMLFile = "report.html"

//go:embed report.html.tmpl
var htmlSource string

var htmlTmpl = template.Must(template.New(HTMLFile).Funcs(template.FuncMap{
	"f3":           f3,
	"interval":     interval,
	"short":        short,
	"pct":          func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) },
	"join":         strings.Join,
	"fig":          figFor,
	"deref":        func(n *Num) Num { return *n },
	"list":         func(s ...string) []string { return s },
	"card":         func(c htmlCase, hit bool) htmlCard { return htmlCard{C: c, Hit: hit} },
	"displayTitle": displayTitle,
	"deltaClass":   deltaClass,
}).Parse(htmlSource))

// deltaClass marks a metric whose model − baseline interval excludes 0:
// "better" in the model's favour, "worse" against it.
func deltaClass(m Metric) string {
	lo, hi := m.DeltaCILow, m.DeltaCIHigh
	if !finite(lo) || !finite(hi) || (lo <= 0 && hi >= 0) {
		return ""
	}
	if (lo > 0) == m.HigherIsBetter {
		return "better"
	}
	return "worse"
}

type htmlCard struct {
	C   htmlCase
	Hit bool
}

// displayTitle adds the year to a title unless it already ends with it
// (MovieGenre titles end in "(YYYY)").
func displayTitle(title string, year int) string {
	if yr := fmt.Sprintf("(%d)", year); year > 0 && !strings.HasSuffix(strings.TrimSpace(title), yr) {
		return title + " " + yr
	}
	return title
}

type htmlFig struct {
	Name, Caption string
	Src           template.HTMLAttr
}

// figFor is the figure name of page p, or nil when it was not rendered.
func figFor(p htmlPage, name string) *htmlFig {
	uri, ok := p.Plots[name]
	if !ok {
		return nil
	}
	f := &htmlFig{Name: name, Src: uri}
	for _, o := range plotOrder {
		if o.name == name {
			f.Caption = o.caption
		}
	}
	return f
}

// PosterFunc returns the bytes of a poster (JPEG, PNG or GIF) by IMDb id.
type PosterFunc func(imdbID int64) ([]byte, error)

type htmlPage struct {
	R        *Report
	Plots    map[string]template.HTMLAttr
	Conf     htmlConfusion
	Mistakes []htmlCase
	Hits     []htmlCase
	TopK     int
	Posters  bool // a poster store was given
}

type htmlConfusion struct {
	Rows    []htmlConfRow
	Total   int
	Correct int
}

type htmlConfRow struct {
	Genre string
	Total int
	Cells []htmlCell
}

type htmlCell struct {
	Count int
	Share float64
	Style template.CSS
	Diag  bool
}

type htmlCase struct {
	Case
	Poster   template.HTMLAttr // src attribute, empty when the poster could not be read
	Missing  string            // why there is no poster
	Truth    []string
	Top      string
	Bars     []htmlBar
	Heatmaps []htmlHeatmap
}

// htmlHeatmap is one Grad-CAM overlay under a gallery card's bars.
type htmlHeatmap struct {
	Genre, Role string
	Src         template.HTMLAttr
}

type htmlBar struct {
	Genre string
	Score float64
	Width string // CSS percentage
	True  bool
}

// plotOrder is the order plots appear in report.html, with their captions.
var plotOrder = []struct{ name, caption string }{
	{PlotConfusion, "Single-label view: each row is the posters whose first true genre is that genre; the columns say which genre the model scored highest. The diagonal is paper accuracy."},
	{PlotPR, "Precision against recall as the threshold falls, per genre. A constant score's curve is flat at the genre's prevalence (its AP, shown as chance)."},
	{PlotCalibration, "Every (poster, genre) pair binned by predicted probability: a calibrated model's points lie on the diagonal. With a softmax output the scores of a poster sum to 1, so a poster with several genres cannot score each of them near 1."},
	{PlotROC, "True against false positive rate per genre; the diagonal is chance."},
	{PlotTraining, "Loss and paper accuracy per epoch on train and validation; the dotted line marks the epoch whose weights were kept."},
	{PlotGenres, "Each genre's share of posters in each split (a poster may have several genres)."},
	{PlotCooccurrence, "How often the column genre is listed with the row genre; the diagonal gives how many posters list the row genre."},
}

// HTML renders report.html. plots are PNG bytes by plot name (those
// missing are left out); posters, when not nil, supplies the gallery's
// posters, and heatmaps their Grad-CAM overlays.
func (r *Report) HTML(plots map[string][]byte, posters PosterFunc, heatmaps map[int64][]GalleryHeatmap) ([]byte, error) {
	pg := htmlPage{R: r, Plots: map[string]template.HTMLAttr{}, TopK: len(r.Baseline.Ranking), Posters: posters != nil}
	for _, p := range plotOrder {
		if b, ok := plots[p.name]; ok {
			pg.Plots[p.name] = srcAttr("image/png", b)
		}
	}
	var err error
	if pg.Conf, err = r.htmlConfusion(); err != nil {
		return nil, err
	}
	pg.Mistakes = r.htmlCases(r.Mistakes, posters, heatmaps)
	pg.Hits = r.htmlCases(r.Hits, posters, heatmaps)
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, pg); err != nil {
		return nil, fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	return buf.Bytes(), nil
}

// srcAttr is an img src attribute holding b as a data: URI. It is built
// here from bytes we encoded (base64 has no quote or ampersand), so it is
// safe to insert verbatim; as a template.URL, html/template would write
// every '+' as "&#43;" and grow the page by a third.
func srcAttr(mime string, b []byte) template.HTMLAttr {
	return template.HTMLAttr(`src="data:` + mime + ";base64," + base64.StdEncoding.EncodeToString(b) + `"`)
}

func (r *Report) htmlConfusion() (htmlConfusion, error) {
	var out htmlConfusion
	cm, err := blues()
	if err != nil {
		return out, err
	}
	for i, row := range r.Confusion.Counts {
		hr := htmlConfRow{Genre: r.Genres[i]}
		for _, c := range row {
			hr.Total += c
		}
		out.Total += hr.Total
		for j, c := range row {
			cell := htmlCell{Count: c, Diag: i == j, Share: math.NaN()}
			if i == j {
				out.Correct += c
			}
			if hr.Total > 0 {
				cell.Share = float64(c) / float64(hr.Total)
				col, err := cm.At(cell.Share)
				if err != nil {
					return out, err
				}
				cr, cg, cb, _ := col.RGBA()
				fg := "#000"
				if cell.Share > 0.55 {
					fg = "#fff"
				}
				cell.Style = template.CSS(fmt.Sprintf("background:#%02x%02x%02x;color:%s", cr>>8, cg>>8, cb>>8, fg))
			}
			hr.Cells = append(hr.Cells, cell)
		}
		out.Rows = append(out.Rows, hr)
	}
	return out, nil
}

// barGenres is how many genres a gallery card shows at least (the top
// scores); true genres outside them are added.
const barGenres = 6

func (r *Report) htmlCases(cs []Case, posters PosterFunc, heatmaps map[int64][]GalleryHeatmap) []htmlCase {
	var out []htmlCase
	for _, c := range cs {
		hc := htmlCase{Case: c, Top: r.Genres[argmax(c.Scores)]}
		for _, h := range heatmaps[c.ImdbID] {
			hc.Heatmaps = append(hc.Heatmaps, htmlHeatmap{Genre: h.Genre, Role: h.Role, Src: srcAttr("image/png", h.PNG)})
		}
		for j, y := range c.Label {
			if y {
				hc.Truth = append(hc.Truth, r.Genres[j])
			}
		}
		shown := map[int]bool{}
		for _, j := range topK(c.Scores, barGenres) {
			shown[j] = true
		}
		for j, y := range c.Label {
			if y {
				shown[j] = true
			}
		}
		var idx []int
		for j := range shown {
			idx = append(idx, j)
		}
		sort.Slice(idx, func(a, b int) bool {
			if c.Scores[idx[a]] != c.Scores[idx[b]] {
				return c.Scores[idx[a]] > c.Scores[idx[b]]
			}
			return idx[a] < idx[b]
		})
		for _, j := range idx {
			hc.Bars = append(hc.Bars, htmlBar{Genre: r.Genres[j], Score: c.Scores[j], Width: fmt.Sprintf("%.1f%%", 100*math.Max(0, math.Min(1, c.Scores[j]))), True: c.Label[j]})
		}
		switch {
		case posters == nil:
			hc.Missing = "no poster store"
		default:
			b, err := posters(c.ImdbID)
			if err != nil {
				hc.Missing = "poster not readable"
				break
			}
			_, format, err := image.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				hc.Missing = "poster not an image"
				break
			}
			hc.Poster = srcAttr("image/"+format, b)
		}
		out = append(out, hc)
	}
	return out
}
