package report_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/evaluate/report"
)

// posterStore writes a 182×268 JPEG per test row into dir, except for
// the ids in missing, and returns a PosterFunc reading them back.
func posterStore(t testing.TB, dir string, rows []report.Row, missing map[int64]bool) report.PosterFunc {
	t.Helper()
	for i, row := range rows {
		if missing[row.ImdbID] {
			continue
		}
		img := image.NewRGBA(image.Rect(0, 0, 182, 268))
		c := color.RGBA{R: uint8(40 * (i % 6)), G: uint8(90 + 20*(i%5)), B: uint8(200 - 30*(i%4)), A: 255}
		for y := 0; y < 268; y++ {
			for x := 0; x < 182; x++ {
				if (x/20+y/20)%2 == 0 {
					img.Set(x, y, c)
				} else {
					img.Set(x, y, color.White)
				}
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.jpg", row.ImdbID)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return func(id int64) ([]byte, error) { return os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.jpg", id))) }
}

var dataURI = regexp.MustCompile(`src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"`)

func TestHTML(t *testing.T) {
	in := input()
	r, err := report.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mistakes) != 8 || len(r.Hits) != 8 {
		t.Fatalf("gallery: %d mistakes, %d hits, want 8 each", len(r.Mistakes), len(r.Hits))
	}
	missing := map[int64]bool{r.Mistakes[0].ImdbID: true}
	dir := t.TempDir()
	if d := os.Getenv("REPORT_TEST_DIR"); d != "" {
		dir = d // keep the output to look at
	}
	store := t.TempDir()
	posters := posterStore(t, store, in.Test.Rows, missing)
	if err := report.Write(dir, r, report.WriteOptions{Plots: false, HTML: true, Posters: posters}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, id := range []string{"headline", "genres", "confusion", "curves", "mistakes", "hits", "training", "data", "notes"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("report.html lacks section %q", id)
		}
	}
	for _, s := range []string{"Paper accuracy", "prior: always Romance", "Documentary", "poster not readable"} {
		if !strings.Contains(page, s) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	// Self-contained: nothing fetched from anywhere, not even a link out.
	for _, s := range []string{"http://", "https://", "src=\"plots/", "<link", "<script"} {
		if strings.Contains(page, s) {
			t.Errorf("report.html contains %q", s)
		}
	}
	// Plots were not asked for as files, yet the page has them all.
	if _, err := os.Stat(filepath.Join(dir, report.PlotsDir)); err == nil {
		t.Error("plots/ written with Plots: false")
	}
	imgs := dataURI.FindAllStringSubmatch(page, -1)
	var pngs, jpegs int
	for _, m := range imgs {
		raw, err := base64.StdEncoding.DecodeString(m[2])
		if err != nil {
			t.Errorf("%s: base64: %v", m[1], err)
			continue
		}
		img, format, err := image.Decode(bytes.NewReader(raw))
		if err != nil || "image/"+format != m[1] {
			t.Errorf("%s: decoded as %q: %v", m[1], format, err)
			continue
		}
		switch format {
		case "png":
			pngs++
		case "jpeg":
			jpegs++
			if img.Bounds().Dx() != 182 || img.Bounds().Dy() != 268 {
				t.Errorf("poster %v, want the full 182×268", img.Bounds())
			}
		}
	}
	// every plot but the confusion matrix (a table on the page); 16 cards, one poster missing
	if pngs != 6 || jpegs != 15 {
		t.Errorf("%d PNG plots and %d JPEG posters embedded, want 6 and 15", pngs, jpegs)
	}
	if c := r.Hits[0]; !strings.Contains(page, c.Title) {
		t.Errorf("report.html lacks the top hit's title %q", c.Title)
	}
	if n := strings.Count(page, `class="case hit"`); n != 8 {
		t.Errorf("%d hit cards, want 8", n)
	}
}

// The gallery orders by top score and splits on whether the top genre is
// a true genre; the confusion matrix counts first true genre × argmax.
func TestGalleryAndConfusionByHand(t *testing.T) {
	in := input()
	in.Genres = []string{"A", "B", "C"}
	in.TrainPrevalence = []float64{0.5, 0.3, 0.2}
	in.Test = report.Split{
		Y: [][]bool{{true, false, false}, {true, true, false}, {false, true, false}, {false, false, true}, {false, true, true}},
		S: [][]float64{
			{0.7, 0.2, 0.1},  // A → A: hit
			{0.1, 0.8, 0.1},  // A → B: top-1 hit (B is true), paper miss
			{0.1, 0.85, 0.1}, // B → B: hit
			{0.9, 0.05, 0.5}, // C → A: mistake, the most confident
			{0.6, 0.3, 0.1},  // B → A: mistake
		},
		Rows: []report.Row{{ImdbID: 1}, {ImdbID: 2}, {ImdbID: 3}, {ImdbID: 4}, {ImdbID: 5}},
	}
	in.Val = in.Test
	in.Val.Rows = nil
	in.Cooccurrence, in.GenreCounts, in.Examples = nil, nil, nil
	r, err := report.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1, 1, 0}, {1, 1, 0}, {1, 0, 0}}
	if !reflect.DeepEqual(r.Confusion.Counts, want) {
		t.Errorf("confusion %v, want %v", r.Confusion.Counts, want)
	}
	ids := func(cs []report.Case) (out []int64) {
		for _, c := range cs {
			out = append(out, c.ImdbID)
		}
		return out
	}
	if got := ids(r.Mistakes); !reflect.DeepEqual(got, []int64{4, 5}) {
		t.Errorf("mistakes %v, want [4 5]", got)
	}
	if got := ids(r.Hits); !reflect.DeepEqual(got, []int64{3, 2, 1}) {
		t.Errorf("hits %v, want [3 2 1]", got)
	}
	page, err := r.HTML(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// the diagonal cells, in order: A→A 1, B→B 1, C→C 0
	diag := regexp.MustCompile(`<td class="diag"[^>]*>(\d+)`).FindAllStringSubmatch(string(page), -1)
	if len(diag) != 3 || diag[0][1] != "1" || diag[1][1] != "1" || diag[2][1] != "0" {
		t.Errorf("diagonal cells %v", diag)
	}
	if !strings.Contains(string(page), "no poster store") {
		t.Error("cards without a poster store should say so")
	}
}
