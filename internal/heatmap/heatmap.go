// Package heatmap draws Grad-CAM maps (train.Analyze computes them): the
// map itself, placed on the model's input, and its overlay on a poster as a
// PNG. It needs no TensorFlow, so the report and the web page can use it.
package heatmap

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Map is one genre's Grad-CAM map over a model's input.
type Map struct {
	Genre string `json:"genre"`
	// Rows × Cols cells, row-major, scaled from Min..Max to 0..1 (all 0
	// when the map is flat).
	Rows   int       `json:"rows"`
	Cols   int       `json:"cols"`
	Values []float32 `json:"values"`
	// Min and Max are the smallest and largest cell before scaling (Max is
	// comparable between genres of one poster; 0 when nothing in it speaks
	// for the genre).
	Min float32 `json:"min"`
	Max float32 `json:"max"`
	// Where the cells lie on the model's input (InputWidth × InputHeight
	// pixels, indices from 0): cell (i, j)'s receptive field is centred on
	// pixel (OriginX + j·Stride, OriginY + i·Stride).
	InputWidth  int     `json:"input_width"`
	InputHeight int     `json:"input_height"`
	OriginX     float64 `json:"origin_x"`
	OriginY     float64 `json:"origin_y"`
	Stride      float64 `json:"stride"`
}

// At is the map at input pixel (x, y): bilinear between cell centres,
// constant beyond the outer ones.
func (m Map) At(x, y float64) float32 {
	if m.Rows == 0 || m.Cols == 0 || m.Stride <= 0 {
		return 0
	}
	fx := clampF((x-m.OriginX)/m.Stride, 0, float64(m.Cols-1))
	fy := clampF((y-m.OriginY)/m.Stride, 0, float64(m.Rows-1))
	x0, y0 := int(fx), int(fy)
	x1, y1 := min(x0+1, m.Cols-1), min(y0+1, m.Rows-1)
	tx, ty := float32(fx-float64(x0)), float32(fy-float64(y0))
	v := func(r, c int) float32 { return m.Values[r*m.Cols+c] }
	top := v(y0, x0)*(1-tx) + v(y0, x1)*tx
	bot := v(y1, x0)*(1-tx) + v(y1, x1)*tx
	return top*(1-ty) + bot*ty
}

// Upsample returns the map at every input pixel, row-major
// InputHeight × InputWidth.
func (m Map) Upsample() []float32 {
	out := make([]float32, m.InputWidth*m.InputHeight)
	for y := range m.InputHeight {
		for x := range m.InputWidth {
			out[y*m.InputWidth+x] = m.At(float64(x), float64(y))
		}
	}
	return out
}

// ShareInside is the share of the upsampled map's mass on the input pixels
// where inside says true (NaN for an all-zero map).
func (m Map) ShareInside(inside func(x, y int) bool) float64 {
	var in, all float64
	for y := range m.InputHeight {
		for x := range m.InputWidth {
			v := float64(m.At(float64(x), float64(y)))
			all += v
			if inside(x, y) {
				in += v
			}
		}
	}
	if all == 0 {
		return math.NaN()
	}
	return in / all
}

// Overlay blends the map over pix (InputHeight × InputWidth × 3 bytes of
// RGB, the poster as the model saw it), enlarged scale times (nearest
// pixel for the poster, bilinear for the map).
func (m Map) Overlay(pix []byte, scale int) *image.RGBA {
	scale = max(scale, 1)
	w, h := m.InputWidth, m.InputHeight
	img := image.NewRGBA(image.Rect(0, 0, w*scale, h*scale))
	if len(pix) < w*h*3 {
		return img
	}
	for Y := range h * scale {
		for X := range w * scale {
			px, py := X/scale, Y/scale
			o := (py*w + px) * 3
			v := m.At((float64(X)+0.5)/float64(scale)-0.5, (float64(Y)+0.5)/float64(scale)-0.5)
			c := Colour(v)
			a := 0.15 + 0.5*float64(v) // the poster stays visible under the hot parts
			mix := func(p uint8, q uint8) uint8 { return uint8(math.Round(float64(p)*(1-a) + float64(q)*a)) }
			img.SetRGBA(X, Y, color.RGBA{mix(pix[o], c.R), mix(pix[o+1], c.G), mix(pix[o+2], c.B), 255})
		}
	}
	return img
}

// Colour maps 0..1 to a blue → cyan → yellow → red scale.
func Colour(v float32) color.RGBA {
	t := clampF(float64(v), 0, 1)
	stops := [][3]float64{{30, 60, 200}, {40, 200, 230}, {250, 230, 60}, {230, 40, 30}}
	f := t * float64(len(stops)-1)
	i := min(int(f), len(stops)-2)
	u := f - float64(i)
	var c [3]uint8
	for k := range 3 {
		c[k] = uint8(math.Round(stops[i][k]*(1-u) + stops[i+1][k]*u))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

// Scale is the enlargement that brings the longer side of a w×h input to
// about 256 pixels (at least 1): small enough for a data URI, large enough
// to see.
func Scale(w, h int) int {
	return max(1, int(math.Round(256/float64(max(w, h, 1)))))
}

// PNG encodes img.
func PNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DataURI is a PNG as a data: URI.
func DataURI(pngBytes []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes)
}

func clampF(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
