package demodata_test

import (
	"bytes"
	"crypto/sha256"
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

func TestGenresLookDifferent(t *testing.T) {
	// The demo's signal: mean brightness alone separates horror (dark) from documentary (light grey).
	mean := func(g int) float64 {
		img := demodata.Draw(g, newRand())
		var s float64
		for _, p := range img.Pix {
			s += float64(p)
		}
		return s / float64(len(img.Pix))
	}
	if h, d := mean(0), mean(3); h > d-60 {
		t.Errorf("horror mean %.0f not darker than documentary %.0f", h, d)
	}
}

func newRand() *rand.Rand { return rand.New(rand.NewSource(1)) }
