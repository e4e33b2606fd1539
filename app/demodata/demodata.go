// Package demodata generates the embedded demo's data: synthetic posters
// (no studio artwork) and a CSV in the MovieGenre format, with a visual
// signal per genre and the faults real data has. The demo then serves them
// over loopback HTTP so the scrape stage fetches them exactly as it fetches
// the real CDN.
//
// Every poster has the same kind of background (a random two-colour
// gradient with noise); the genre's signal is drawn only inside that
// genre's own rectangle (Region), one quarter of the poster each:
//
//	Horror       top left      dark, red drips
//	Romance      top right     warm, two round "figures"
//	Action       bottom left   high-contrast diagonal stripes
//	Documentary  bottom right  light grey page with rows of dark "text"
//
// A share of the movies (Misleading) have a poster drawn as another
// genre, as real posters sometimes look like another genre: no model can
// get those right from the picture, so the demo's paper accuracy lands
// near 1 − Misleading·3/4 instead of 1.000, and its ROC and PR curves
// show something to read.
package demodata

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/moviegenre"
)

// Host is the made-up host the generated CSV links to; the demo rewrites it
// to its loopback server.
const Host = "demo.postergenre.invalid"

// Poster size of the real CDN thumbnails.
const (
	Width  = 182
	Height = 268
)

// Misleading is the share of movies whose poster is drawn as another
// genre than their first listed one.
const Misleading = 0.16

// Genres drawn, in the paper's label order.
var Genres = []string{"Horror", "Romance", "Action", "Documentary"}

// Region is where genre g's signal is drawn, in poster pixels
// (Width×Height; a resized poster scales it). Outside it a poster of
// that genre holds only background, so a saliency map (Grad-CAM) of a
// model that learned the demo should light up this rectangle.
func Region(g int) image.Rectangle {
	const inset = 6
	w, h := Width/2, Height/2
	x0, y0 := (g%2)*w, (g/2)*h
	return image.Rect(x0+inset, y0+inset, x0+w-inset, y0+h-inset)
}

// fillers are extra listed genres outside the selection, as real rows have.
var fillers = []string{"Drama", "Thriller", "Comedy", "Crime", "Biography", "Mystery", "History", "Adventure"}

// Faults lists the deliberately broken rows, so tests can check each is
// dropped with its reason.
type Faults struct {
	EmptyPosterLink []int64 // Poster column empty
	DeadLink        []int64 // link answers 404
	CorruptJPEG     []int64 // served bytes are a truncated JPEG
	RepeatedID      []int64 // the row appears twice (exact copy)
	ConflictingID   []int64 // the id appears twice with different fields
	EmptyGenre      []int64 // Genre column empty
	NoYear          []int64 // title without "(YYYY)"
	MalformedLines  int     // rows with a wrong column count
}

// Dataset is what Generate wrote.
type Dataset struct {
	Dir    string // holds MovieGenre.csv and images/M/<id>.jpg
	CSV    string
	Rows   int // data rows in the CSV
	Good   int // rows that should survive every stage
	Faults Faults
	// Drawn maps a movie id to the genre index its poster shows (the
	// first listed genre's, except for the misleading posters).
	Drawn map[int64]int
}

type row struct {
	id     int64
	fields []string
}

// Generate writes n movies (plus the fault rows) into dir. The same n and
// seed give the same bytes.
func Generate(dir string, n int, seed int64) (*Dataset, error) {
	if n < 20 {
		return nil, fmt.Errorf("demodata: need at least 20 posters, got %d", n)
	}
	rng := rand.New(rand.NewSource(seed))
	imgDir := filepath.Join(dir, "images", "M")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return nil, err
	}
	ds := &Dataset{Dir: dir, CSV: filepath.Join(dir, "MovieGenre.csv"), Drawn: map[int64]int{}}
	var rows []row
	for i := 0; i < n; i++ {
		r, drawn := newMovie(i, rng)
		ds.Drawn[r.id] = drawn
		data, err := encodeJPEG(Draw(drawn, rng))
		if err != nil {
			return nil, err
		}
		data = ds.addFault(i, &r, data)
		if data != nil {
			if err := atomicfile.WriteFile(filepath.Join(imgDir, fmt.Sprintf("%d.jpg", r.id)), data, 0o644); err != nil {
				return nil, err
			}
		}
		rows = append(rows, r)
	}
	if err := ds.writeCSV(rows); err != nil {
		return nil, err
	}
	ds.Rows = n + 3
	ds.Good = n - 5 // rows 1..5 are faults; the repeats and the malformed row are extra
	return ds, nil
}

// newMovie makes movie i's CSV fields and picks the genre its poster shows.
func newMovie(i int, rng *rand.Rand) (row, int) {
	id := int64(1000000 + i*7 + 3) // ids spread over residues, as real ones
	first := i % len(Genres)
	genres := []string{Genres[first]}
	switch r := rng.Float64(); {
	case r < 0.06: // a second selected genre that comes later in the label order
		if first < len(Genres)-1 {
			genres = append(genres, Genres[first+1+rng.Intn(len(Genres)-1-first)])
		}
	case r < 0.6:
		genres = append(genres, fillers[rng.Intn(len(fillers))])
	}
	rng.Shuffle(len(genres), func(a, b int) { genres[a], genres[b] = genres[b], genres[a] })
	year := 1997 + rng.Intn(21)
	drawn := first
	if rng.Float64() < Misleading {
		drawn = (first + 1 + rng.Intn(len(Genres)-1)) % len(Genres)
	}
	f := []string{
		fmt.Sprint(id), fmt.Sprintf("http://www.imdb.com/title/tt%d", id),
		fmt.Sprintf("Synthetic %s Story %d (%d)", Genres[first], i, year),
		fmt.Sprintf("%.1f", 4+rng.Float64()*5), strings.Join(genres, "|"),
		fmt.Sprintf("https://%s/images/M/%d.jpg", Host, id),
	}
	return row{id, f}, drawn
}

func encodeJPEG(img image.Image) ([]byte, error) {
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 88}); err != nil {
		return nil, err
	}
	return jb.Bytes(), nil
}

// addFault breaks movie i when it is one of the fault rows (1..5) and
// returns the poster bytes to serve (nil: none, the link 404s).
func (ds *Dataset) addFault(i int, r *row, data []byte) []byte {
	f := &ds.Faults
	switch i {
	case 1:
		r.fields[5] = ""
		f.EmptyPosterLink = append(f.EmptyPosterLink, r.id)
	case 2:
		f.DeadLink = append(f.DeadLink, r.id)
		return nil
	case 3:
		f.CorruptJPEG = append(f.CorruptJPEG, r.id)
		return data[:len(data)/2]
	case 4:
		r.fields[4] = ""
		f.EmptyGenre = append(f.EmptyGenre, r.id)
	case 5:
		r.fields[2] = fmt.Sprintf("Synthetic Untitled %d", i)
		f.NoYear = append(f.NoYear, r.id)
	}
	return data
}

// writeCSV writes the rows, then a repeated row (exact copy), a
// conflicting repeat and a malformed row.
func (ds *Dataset) writeCSV(rows []row) error {
	var buf bytes.Buffer
	w, err := moviegenre.NewWriter(&buf)
	if err != nil {
		return err
	}
	conflict := append([]string(nil), rows[11].fields...)
	conflict[3] = "1.0"
	for _, r := range rows {
		if err := w.Write(r.fields); err != nil {
			return err
		}
	}
	for _, f := range [][]string{rows[10].fields, conflict} {
		if err := w.Write(f); err != nil {
			return err
		}
	}
	ds.Faults.RepeatedID = append(ds.Faults.RepeatedID, rows[10].id)
	ds.Faults.ConflictingID = append(ds.Faults.ConflictingID, rows[11].id)
	if err := w.WriteRaw("1999999,http://www.imdb.com/title/tt1999999,Broken Row (2001)"); err != nil {
		return err
	}
	ds.Faults.MalformedLines = 1
	if err := w.Flush(); err != nil {
		return err
	}
	return atomicfile.WriteFile(ds.CSV, buf.Bytes(), 0o644)
}

// Draw paints one synthetic poster for a genre index of Genres: the
// shared background, then the genre's pattern inside Region(genre).
func Draw(genre int, rng *rand.Rand) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	top := [3]float64{40 + rng.Float64()*170, 40 + rng.Float64()*170, 40 + rng.Float64()*170}
	bot := [3]float64{40 + rng.Float64()*170, 40 + rng.Float64()*170, 40 + rng.Float64()*170}
	// Noise from its own source: the background of two posters drawn
	// from the same seed is the same whatever their genre.
	noise := rand.New(rand.NewSource(rng.Int63()))
	pattern := patterns[genre%len(patterns)](rng)
	in := Region(genre)
	for y := 0; y < Height; y++ {
		t := float64(y) / Height
		for x := 0; x < Width; x++ {
			c := [3]float64{top[0]*(1-t) + bot[0]*t, top[1]*(1-t) + bot[1]*t, top[2]*(1-t) + bot[2]*t}
			if p := image.Pt(x, y); p.In(in) {
				c = pattern(p.X-in.Min.X, p.Y-in.Min.Y, in.Dx(), in.Dy())
			}
			n := (noise.Float64() - 0.5) * 30 // sensor-like noise
			img.SetRGBA(x, y, color.RGBA{clamp(c[0] + n), clamp(c[1] + n), clamp(c[2] + n), 255})
		}
	}
	return img
}

// A pattern colours pixel (x, y) of a w×h region; it is made per poster
// so that each draws its own variation.
type pattern func(x, y, w, h int) [3]float64

var patterns = []func(*rand.Rand) pattern{horror, romance, action, documentary}

func jitter(rng *rand.Rand, v float64) float64 { return v * (0.8 + 0.4*rng.Float64()) }

// horror: dark with red drips.
func horror(rng *rand.Rand) pattern {
	base := [3]float64{jitter(rng, 25), jitter(rng, 15), jitter(rng, 20)}
	red := [3]float64{jitter(rng, 170), 10, 15}
	drips := make([]int, 2+rng.Intn(3))
	for i := range drips {
		drips[i] = rng.Intn(80)
	}
	return func(x, y, w, h int) [3]float64 {
		for _, d := range drips {
			if abs(x-d) < 4 && y < 20+((d*7)%(h-20)) {
				return red
			}
		}
		return base
	}
}

// romance: warm gradient, two figures.
func romance(rng *rand.Rand) pattern {
	top := [3]float64{jitter(rng, 240), jitter(rng, 150), jitter(rng, 160)}
	bot := [3]float64{jitter(rng, 250), jitter(rng, 190), jitter(rng, 110)}
	dx, dy := rng.Intn(10)-5, rng.Intn(14)-7
	return func(x, y, w, h int) [3]float64 {
		cx, cy := w/2+dx, h/3+dy
		for _, fx := range []int{cx - 18, cx + 18} {
			if dist(x, y, fx, cy) < 13 || (abs(x-fx) < 9 && y > cy && y < cy+50) {
				return [3]float64{120, 50, 60}
			}
		}
		t := float64(y) / float64(h)
		return [3]float64{top[0]*(1-t) + bot[0]*t, top[1]*(1-t) + bot[1]*t, top[2]*(1-t) + bot[2]*t}
	}
}

// action: high-contrast diagonals.
func action(rng *rand.Rand) pattern {
	a := [3]float64{jitter(rng, 250), jitter(rng, 200), 20}
	b := [3]float64{10, 10, jitter(rng, 60)}
	period := 12 + rng.Intn(10)
	slope := 0.6 + rng.Float64()
	return func(x, y, w, h int) [3]float64 {
		if int(float64(x)+slope*float64(y))%period < period/2 {
			return a
		}
		return b
	}
}

// documentary: grey page with text rows.
func documentary(rng *rand.Rand) pattern {
	bg := [3]float64{jitter(rng, 185), jitter(rng, 185), jitter(rng, 180)}
	margin := 4 + rng.Intn(6)
	return func(x, y, w, h int) [3]float64 {
		if (y/7)%2 == 0 && y > 10 && x > margin && x < w-margin && (x/9+y/7)%5 != 0 {
			return [3]float64{60, 60, 65}
		}
		return bg
	}
}

func clamp(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v))) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func dist(x, y, cx, cy int) float64 { return math.Hypot(float64(x-cx), float64(y-cy)) }
