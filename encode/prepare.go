package encode

import (
	"image"
	"image/draw"
	"math"
	"sync"

	xdraw "golang.org/x/image/draw"

	"github.com/postergenre/postergenre/encode/encodeconfig"
)

// Preprocess is how a decoded poster becomes model input: resized to
// Width×Height with Fit and Filter (see PrepareImage). The encode stage
// records it in its manifest, train copies it into model.json, and every
// reader of a poster (encode, evaluate through the shards, predict) applies
// it through Image, so a model sees the same pixels in training and serving.
type Preprocess struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Fit    string `json:"fit,omitempty"`
	Filter string `json:"filter,omitempty"`
}

// PreprocessOf is the preprocessing an encode Image config asks for.
func PreprocessOf(im Image) Preprocess {
	w, h := TargetSize(im)
	return Preprocess{Width: w, Height: h, Fit: im.Fit, Filter: im.Filter}.WithDefaults()
}

// Preprocess is the preprocessing the shards were written with.
func (m Manifest) Preprocess() Preprocess {
	return Preprocess{Width: m.Width, Height: m.Height, Fit: m.Fit, Filter: m.Filter}.WithDefaults()
}

// WithDefaults fills an empty Fit or Filter (an older manifest or model.json)
// with encodeconfig's defaults.
func (p Preprocess) WithDefaults() Preprocess {
	if p.Fit == "" {
		p.Fit = encodeconfig.DefaultFit
	}
	if p.Filter == "" {
		p.Filter = encodeconfig.DefaultFilter
	}
	return p
}

// Image prepares a decoded poster: Height×Width×3 bytes of RGB, HWC.
func (p Preprocess) Image(img image.Image) []byte {
	p = p.WithDefaults()
	return PrepareImage(img, p.Width, p.Height, p.Fit, p.Filter)
}

// boxKernel averages every source pixel a destination pixel covers (area
// resampling) when shrinking.
var boxKernel = &xdraw.Kernel{Support: 0.5, At: func(float64) float64 { return 1 }}

type scalerKey struct {
	filter         string
	dw, dh, sw, sh int
}

// scalers caches kernel scalers by size: a cached scaler keeps its weights
// and pools its temporary buffer, instead of rebuilding both per image
// (the same result, far less garbage). Safe for concurrent use.
var scalers sync.Map // scalerKey → xdraw.Scaler

func scaler(filter string, dw, dh, sw, sh int) xdraw.Scaler {
	var k *xdraw.Kernel
	switch filter {
	case encodeconfig.FilterNearest:
		return xdraw.NearestNeighbor
	case encodeconfig.FilterBilinear:
		k = xdraw.BiLinear
	case encodeconfig.FilterBox:
		k = boxKernel
	default:
		k = xdraw.CatmullRom
	}
	key := scalerKey{filter, dw, dh, sw, sh}
	if s, ok := scalers.Load(key); ok {
		return s.(xdraw.Scaler)
	}
	s, _ := scalers.LoadOrStore(key, k.NewScaler(dw, dh, sw, sh))
	return s.(xdraw.Scaler)
}

// toRGBA converts any decoded image to *image.RGBA at the origin, through
// image/draw's fast paths for YCbCr (every subsampling), Gray, CMYK and
// Paletted sources. Transparent pixels become black (premultiplied alpha
// dropped later).
func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return dst
}

// PrepareImage turns a decoded poster into model input: RGB uint8, HWC,
// width×height×3 bytes. fit says what happens when the poster's aspect ratio
// differs from the target's:
//   - "stretch" (the paper): the whole poster is resized to exactly the target;
//   - "crop": scaled to cover the target, the centre kept;
//   - "pad": scaled to fit inside the target, centred on black.
//
// filter is "catmullrom" (default), "bilinear", "nearest" or "box" (area average).
func PrepareImage(img image.Image, width, height int, fit, filter string) []byte {
	src := toRGBA(img)
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	sr, dr := src.Rect, dst.Rect
	switch fit {
	case encodeconfig.FitCrop:
		// Largest centred source rectangle with the target's aspect.
		if sw*height > sh*width { // source wider: crop the sides
			cw := max(1, int(math.Round(float64(sh)*float64(width)/float64(height))))
			x0 := (sw - cw) / 2
			sr = image.Rect(x0, 0, x0+cw, sh)
		} else {
			ch := max(1, int(math.Round(float64(sw)*float64(height)/float64(width))))
			y0 := (sh - ch) / 2
			sr = image.Rect(0, y0, sw, y0+ch)
		}
	case encodeconfig.FitPad:
		if sw*height > sh*width { // source wider: bars top and bottom
			h := max(1, int(math.Round(float64(width)*float64(sh)/float64(sw))))
			y0 := (height - h) / 2
			dr = image.Rect(0, y0, width, y0+h)
		} else {
			w := max(1, int(math.Round(float64(height)*float64(sw)/float64(sh))))
			x0 := (width - w) / 2
			dr = image.Rect(x0, 0, x0+w, height)
		}
	}
	if sr.Eq(src.Rect) && dr.Eq(dst.Rect) && sw == width && sh == height && src.Stride == 4*sw {
		copy(dst.Pix, src.Pix)
	} else {
		scaler(filter, dr.Dx(), dr.Dy(), sr.Dx(), sr.Dy()).Scale(dst, dr, src, sr, xdraw.Src, nil)
	}
	out := make([]byte, width*height*3)
	for i, j := 0, 0; i < len(dst.Pix); i, j = i+4, j+3 {
		out[j], out[j+1], out[j+2] = dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2]
	}
	return out
}
