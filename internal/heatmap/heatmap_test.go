package heatmap_test

import (
	"math"
	"testing"

	"github.com/postergenre/postergenre/internal/heatmap"
)

// A 2×2 map with cells centred at pixels (2,2), (6,2), (2,6), (6,6) of an
// 8×8 input: At interpolates between centres and holds the edge values
// beyond them; ShareInside counts the upsampled mass.
func TestAtAndShare(t *testing.T) {
	m := heatmap.Map{Rows: 2, Cols: 2, Values: []float32{1, 0, 0, 0}, InputWidth: 8, InputHeight: 8, OriginX: 2, OriginY: 2, Stride: 4}
	for _, tc := range []struct {
		x, y float64
		want float32
	}{{2, 2, 1}, {0, 0, 1}, {4, 2, 0.5}, {4, 4, 0.25}, {6, 6, 0}, {7, 7, 0}} {
		if got := m.At(tc.x, tc.y); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("At(%g,%g) = %g, want %g", tc.x, tc.y, got, tc.want)
		}
	}
	all := m.ShareInside(func(x, y int) bool { return true })
	left := m.ShareInside(func(x, y int) bool { return x < 4 })
	if all != 1 || left <= 0.8 || left >= 1 {
		t.Errorf("share: all %g, left half %g (want 1 and most of it)", all, left)
	}
	if got := (heatmap.Map{Rows: 1, Cols: 1, Values: []float32{0}, InputWidth: 2, InputHeight: 2, Stride: 1}).ShareInside(func(int, int) bool { return true }); !math.IsNaN(got) {
		t.Errorf("share of an all-zero map: %g, want NaN", got)
	}
	img := m.Overlay(make([]byte, 8*8*3), 3)
	if b := img.Bounds(); b.Dx() != 24 || b.Dy() != 24 {
		t.Errorf("overlay %v, want 24×24", b)
	}
	if c := heatmap.Colour(1); c.R < 200 || c.B > 60 {
		t.Errorf("Colour(1) = %v: want red", c)
	}
}
