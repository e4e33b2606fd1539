package demodata_test

import (
	"bytes"
	"crypto/sha256"
	"image"
	"image/color"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/app/demodata"
	"github.com/postergenre/postergenre/internal/moviegenre"
)

func TestGenerateIsDeterministicAndHasItsFaults(t *testing.T) {
	a, err := demodata.Generate(t.TempDir(), 40, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := demodata.Generate(t.TempDir(), 40, 3)
	ca, _ := os.ReadFile(a.CSV)
	cb, _ := os.ReadFile(b.CSV)
	if sha256.Sum256(ca) != sha256.Sum256(cb) {
		t.Error("same n and seed gave different CSVs")
	}
	if !bytes.Contains(ca, []byte("\r\n")) {
		t.Error("CSV lines are not CRLF, as MovieGenre.csv")
	}
	// Read back with the reader every stage uses: every row, one malformed.
	rows, malformed := 0, 0
	err = moviegenre.ForEach(bytes.NewReader(ca), moviegenre.Options{Name: a.CSV}, func(r moviegenre.Row) error {
		rows++
		if r.Err != nil {
			malformed++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != a.Rows || malformed != a.Faults.MalformedLines {
		t.Errorf("data rows %d (%d malformed), Dataset.Rows %d (%d malformed)", rows, malformed, a.Rows, a.Faults.MalformedLines)
	}
	f := a.Faults
	if len(f.EmptyPosterLink) == 0 || len(f.DeadLink) == 0 || len(f.CorruptJPEG) == 0 || len(f.RepeatedID) == 0 || len(f.EmptyGenre) == 0 || f.MalformedLines == 0 {
		t.Errorf("faults missing: %+v", f)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "images", "M", "1000017.jpg")); err == nil {
		t.Error("the dead link's poster exists") // i=2 → id 1000000+2*7+3
	}
}

func TestGenreSignalStaysInItsRegion(t *testing.T) {
	// Horror's region is dark, documentary's light grey; a poster's other
	// regions hold only the background every genre shares.
	mean := func(g int, r image.Rectangle) float64 {
		img := demodata.Draw(g, newRand())
		var s float64
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := img.RGBAAt(x, y)
				s += float64(c.R) + float64(c.G) + float64(c.B)
			}
		}
		return s / float64(3*r.Dx()*r.Dy())
	}
	if h, d := mean(0, demodata.Region(0)), mean(3, demodata.Region(3)); h > 60 || d < 110 {
		t.Errorf("horror region mean %.0f (want dark), documentary region mean %.0f (want light)", h, d)
	}
	for g := range demodata.Genres {
		r := demodata.Region(g)
		if !r.In(image.Rect(0, 0, demodata.Width, demodata.Height)) || r.Dx() < 40 || r.Dy() < 60 {
			t.Errorf("Region(%d) = %v: outside the poster or too small", g, r)
		}
		for o := range demodata.Genres {
			if o != g && r.Overlaps(demodata.Region(o)) {
				t.Errorf("Region(%d) overlaps Region(%d)", g, o)
			}
		}
	}
	// The same background (same seed) with and without horror's pattern:
	// outside Region(0) the two posters are identical.
	a, b := demodata.Draw(0, newRand()), demodata.Draw(1, newRand())
	if a.RGBAAt(150, 250) == (color.RGBA{}) || a.RGBAAt(150, 250) != b.RGBAAt(150, 250) {
		t.Errorf("outside both regions: %v vs %v, want the same background", a.RGBAAt(150, 250), b.RGBAAt(150, 250))
	}
}

func TestMisleadingShare(t *testing.T) {
	ds, err := demodata.Generate(t.TempDir(), 400, 7)
	if err != nil {
		t.Fatal(err)
	}
	mis := 0
	for i := 0; i < 400; i++ {
		if ds.Drawn[int64(1000000+i*7+3)] != i%len(demodata.Genres) {
			mis++
		}
	}
	if share := float64(mis) / 400; share < demodata.Misleading/2 || share > demodata.Misleading*1.5 {
		t.Errorf("misleading posters %.2f, want near %.2f", share, demodata.Misleading)
	}
}

func newRand() *rand.Rand { return rand.New(rand.NewSource(1)) }
