package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestDetectorFitAndRoundTrip: on Gaussian "posters" (two blocks of
// features), the fitted detector passes DetectorPass of the validation
// rows, flags points far off in either block, and reads back from
// detector.bin and model.json with the same verdicts.
func TestDetectorFitAndRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dims := []int{6, 3}
	gen := func(n int, shift float64) [][]float32 {
		out := make([][]float32, n)
		for i := range out {
			r := make([]float32, 9)
			for j := range r {
				r[j] = float32(rng.NormFloat64()*float64(1+j%3) + float64(j))
			}
			r[7] += r[6] // correlated features
			r[0] += float32(shift)
			out[i] = r
		}
		return out
	}
	train, val := gen(800, 0), gen(400, 0)
	d, err := fitDetector(train, val, dims)
	if err != nil {
		t.Fatal(err)
	}
	if d.rec.ValidationPass < DetectorPass || d.rec.ValidationPass > DetectorPass+0.01 {
		t.Errorf("validation pass %.4f, want %.2f (at most one row above)", d.rec.ValidationPass, DetectorPass)
	}
	far := gen(50, 25)
	flagged := 0
	for _, x := range far {
		if !d.check(x).LooksLikePoster {
			flagged++
		}
	}
	if flagged != len(far) {
		t.Errorf("%d of %d far points flagged", flagged, len(far))
	}
	for _, s := range d.rec.Shrinkage {
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Errorf("shrinkage %v outside [0,1]", d.rec.Shrinkage)
		}
	}

	dir := t.TempDir()
	raw, _ := jsonMarshal(Meta{Format: 1})
	if err := os.WriteFile(filepath.Join(dir, MetaFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDetector(dir, d); err != nil {
		t.Fatal(err)
	}
	meta, err := readMeta(dir)
	if err != nil || meta.PosterDetector == nil {
		t.Fatalf("model.json after calibration: %+v, %v", meta.PosterDetector, err)
	}
	back, err := loadDetector(dir, meta.PosterDetector)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range append(val[:20], far[:5]...) {
		a, b := d.check(x), back.check(x)
		if a.LooksLikePoster != b.LooksLikePoster || math.Abs(a.Distance-b.Distance) > 1e-9*math.Max(1, a.Distance) {
			t.Fatalf("loaded detector: %+v, fitted %+v", b, a)
		}
	}
	// A damaged file is refused.
	os.WriteFile(filepath.Join(dir, DetectorFile), []byte("xx"), 0o644)
	if _, err := loadDetector(dir, meta.PosterDetector); err == nil {
		t.Error("a damaged detector.bin loaded")
	}
}

func TestTailShare(t *testing.T) {
	q := []float64{0, 1, 2, 3, 4} // quartiles
	for _, tc := range []struct{ v, want float64 }{{-1, 1}, {0, 1}, {1, 0.75}, {2.5, 0.375}, {4, 0}, {9, 0}} {
		if got := tailShare(q, tc.v); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("tailShare(%g) = %g, want %g", tc.v, got, tc.want)
		}
	}
}
