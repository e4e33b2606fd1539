package demodata

import (
	"fmt"
	"image"
	"image/color"
	"math/rand"
)

// NonPosterKinds are the synthetic non-posters NonPoster draws: what the
// poster-or-not detector must flag.
var NonPosterKinds = []string{"noise", "flat", "text"}

// NonPoster draws a Width×Height image that is no movie poster: "noise"
// (random colours in cells of 2 to 12 pixels, so that it is still noise
// after a model's downscaling averages pixels), "flat" (one random colour,
// a little sensor noise) or "text" (a white page of black lines of words,
// as a scanned document).
func NonPoster(kind string, rng *rand.Rand) (*image.RGBA, error) {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	switch kind {
	case "noise":
		cell := 2 + rng.Intn(11)
		cols := (Width + cell - 1) / cell
		colours := make([]color.RGBA, cols*((Height+cell-1)/cell))
		for i := range colours {
			colours[i] = color.RGBA{uint8(rng.Intn(256)), uint8(rng.Intn(256)), uint8(rng.Intn(256)), 255}
		}
		for y := range Height {
			for x := range Width {
				img.SetRGBA(x, y, colours[(y/cell)*cols+x/cell])
			}
		}
	case "flat":
		c := [3]float64{float64(rng.Intn(256)), float64(rng.Intn(256)), float64(rng.Intn(256))}
		for y := range Height {
			for x := range Width {
				n := (rng.Float64() - 0.5) * 6
				img.SetRGBA(x, y, color.RGBA{clamp(c[0] + n), clamp(c[1] + n), clamp(c[2] + n), 255})
			}
		}
	case "text":
		drawTextPage(img, rng)
	default:
		return nil, fmt.Errorf("demodata: unknown non-poster kind %q (want one of %v)", kind, NonPosterKinds)
	}
	return img, nil
}

// drawTextPage fills img with a white page and lines of black "words" of
// random widths, in a random point size and margin.
func drawTextPage(img *image.RGBA, rng *rand.Rand) {
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	size := 3 + rng.Intn(4)        // x-height in pixels
	lead := size + 2 + rng.Intn(4) // line pitch
	margin := 8 + rng.Intn(12)
	ink := color.RGBA{uint8(rng.Intn(40)), uint8(rng.Intn(40)), uint8(rng.Intn(40)), 255}
	for y := margin; y+size < Height-margin; y += lead {
		if rng.Intn(9) == 0 { // paragraph break
			continue
		}
		x := margin
		end := Width - margin - rng.Intn(3)*10
		for x < end {
			w := 2 + rng.Intn(5)*size/2 + rng.Intn(size*2)
			for xx := x; xx < min(x+w, end); xx++ {
				for yy := y; yy < y+size; yy++ {
					if rng.Intn(5) > 0 { // letters are not solid bars
						img.SetRGBA(xx, yy, ink)
					}
				}
			}
			x += w + size/2 + 1
		}
	}
}
