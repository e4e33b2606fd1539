// Package demodata generates the embedded demo's data: synthetic posters
// (no studio artwork) and a CSV in the MovieGenre format, with a visual
// signal per genre and the faults real data has. The demo then serves them
// over loopback HTTP so the scrape stage fetches them exactly as it fetches
// the real CDN.
//
// The signal, per the label's first genre in the paper's order:
//
//	Horror       dark, noisy, red drips
//	Romance      warm gradient, two round "figures"
//	Action       high-contrast diagonal stripes
//	Documentary  light grey page with rows of dark "text"
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

// Genres drawn, in the paper's label order.
var Genres = []string{"Horror", "Romance", "Action", "Documentary"}

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
	ds := &Dataset{Dir: dir, CSV: filepath.Join(dir, "MovieGenre.csv")}
	var buf bytes.Buffer
	w, err := moviegenre.NewWriter(&buf)
	if err != nil {
		return nil, err
	}

	type row struct {
		id     int64
		fields []string
	}
	var rows []row
	for i := 0; i < n; i++ {
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
		link := fmt.Sprintf("https://%s/images/M/%d.jpg", Host, id)
		f := []string{
			fmt.Sprint(id), fmt.Sprintf("http://www.imdb.com/title/tt%d", id),
			fmt.Sprintf("Synthetic %s Story %d (%d)", Genres[first], i, year),
			fmt.Sprintf("%.1f", 4+rng.Float64()*5), strings.Join(genres, "|"), link,
		}
		img := Draw(first, rng)
		var jb bytes.Buffer
		if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 88}); err != nil {
			return nil, err
		}
		data := jb.Bytes()
		switch i {
		case 1:
			f[5] = ""
			ds.Faults.EmptyPosterLink = append(ds.Faults.EmptyPosterLink, id)
		case 2:
			data = nil // never written: the link 404s
			ds.Faults.DeadLink = append(ds.Faults.DeadLink, id)
		case 3:
			data = data[:len(data)/2]
			ds.Faults.CorruptJPEG = append(ds.Faults.CorruptJPEG, id)
		case 4:
			f[4] = ""
			ds.Faults.EmptyGenre = append(ds.Faults.EmptyGenre, id)
		case 5:
			f[2] = fmt.Sprintf("Synthetic Untitled %d", i)
			ds.Faults.NoYear = append(ds.Faults.NoYear, id)
		}
		if data != nil {
			if err := atomicfile.WriteFile(filepath.Join(imgDir, fmt.Sprintf("%d.jpg", id)), data, 0o644); err != nil {
				return nil, err
			}
		}
		rows = append(rows, row{id, f})
	}
	// Then a repeated row (exact copy), a conflicting repeat and a malformed row.
	conflict := append([]string(nil), rows[11].fields...)
	conflict[3] = "1.0"
	for _, r := range rows {
		if err := w.Write(r.fields); err != nil {
			return nil, err
		}
	}
	for _, f := range [][]string{rows[10].fields, conflict} {
		if err := w.Write(f); err != nil {
			return nil, err
		}
	}
	ds.Faults.RepeatedID = append(ds.Faults.RepeatedID, rows[10].id)
	ds.Faults.ConflictingID = append(ds.Faults.ConflictingID, rows[11].id)
	if err := w.WriteRaw("1999999,http://www.imdb.com/title/tt1999999,Broken Row (2001)"); err != nil {
		return nil, err
	}
	ds.Faults.MalformedLines = 1
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(ds.CSV, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	ds.Rows = n + 3
	ds.Good = n - 5 // rows 1..5 are faults; the repeats and the malformed row are extra
	return ds, nil
}

// Draw paints one synthetic poster for a genre index of Genres.
func Draw(genre int, rng *rand.Rand) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	set := func(x, y int, c [3]float64) {
		n := (rng.Float64() - 0.5) * 30 // sensor-like noise
		img.SetRGBA(x, y, color.RGBA{clamp(c[0] + n), clamp(c[1] + n), clamp(c[2] + n), 255})
	}
	jitter := func(v float64) float64 { return v * (0.8 + 0.4*rng.Float64()) }
	switch genre {
	case 0: // Horror: dark with red drips
		base := [3]float64{jitter(25), jitter(15), jitter(20)}
		drips := make([]int, 3+rng.Intn(4))
		for i := range drips {
			drips[i] = rng.Intn(Width)
		}
		for y := 0; y < Height; y++ {
			for x := 0; x < Width; x++ {
				c := base
				for _, d := range drips {
					if abs(x-d) < 5 && y < 60+((d*7)%150) {
						c = [3]float64{jitter(170), 10, 15}
					}
				}
				set(x, y, c)
			}
		}
	case 1: // Romance: warm gradient, two figures
		top := [3]float64{jitter(240), jitter(150), jitter(160)}
		bot := [3]float64{jitter(250), jitter(190), jitter(110)}
		cx := Width/2 + rng.Intn(30) - 15
		cy := Height/2 + rng.Intn(40) - 20
		for y := 0; y < Height; y++ {
			t := float64(y) / Height
			for x := 0; x < Width; x++ {
				c := [3]float64{top[0]*(1-t) + bot[0]*t, top[1]*(1-t) + bot[1]*t, top[2]*(1-t) + bot[2]*t}
				for _, fx := range []int{cx - 28, cx + 28} {
					if dist(x, y, fx, cy) < 24 || (abs(x-fx) < 16 && y > cy && y < cy+90) {
						c = [3]float64{120, 50, 60}
					}
				}
				set(x, y, c)
			}
		}
	case 2: // Action: high-contrast diagonals
		a := [3]float64{jitter(250), jitter(200), 20}
		b := [3]float64{10, 10, jitter(60)}
		period := 18 + rng.Intn(14)
		slope := 0.6 + rng.Float64()
		for y := 0; y < Height; y++ {
			for x := 0; x < Width; x++ {
				c := b
				if int(float64(x)+slope*float64(y))%period < period/2 {
					c = a
				}
				set(x, y, c)
			}
		}
	default: // Documentary: grey page with text rows
		bg := [3]float64{jitter(185), jitter(185), jitter(180)}
		margin := 12 + rng.Intn(10)
		for y := 0; y < Height; y++ {
			line := (y/9)%2 == 0 && y > 40
			for x := 0; x < Width; x++ {
				c := bg
				if line && x > margin && x < Width-margin && (x/11+y/9)%5 != 0 {
					c = [3]float64{60, 60, 65}
				}
				set(x, y, c)
			}
		}
	}
	return img
}

func clamp(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v))) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func dist(x, y, cx, cy int) float64 { return math.Hypot(float64(x-cx), float64(y-cy)) }
