package encode

import (
	"image"
	"image/draw"
	"math"
	"sync"

	xdraw "golang.org/x/image/draw"
)

// Reference poster size: the CSV's thumbnails. Shrink percentages apply to
// it, whatever the size of a given poster, so every row has the same shape.
const (
	RefWidth  = 182
	RefHeight = 268
)

// TargetSize is the encoded image size: Width×Height when set, otherwise
// ShrinkPercent of 182×268 rounded as ImageMagick's -resize N% does
// (floor(N*w/100 + 0.5), at least 1): 40% → 73×107.
func TargetSize(cfg Image) (w, h int) {
	if cfg.Width > 0 && cfg.Height > 0 {
		return cfg.Width, cfg.Height
	}
	round := func(ref int) int {
		return max(1, int(math.Floor(cfg.ShrinkPercent*float64(ref)/100.0+0.5)))
	}
	return round(RefWidth), round(RefHeight)
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
	case "nearest":
		return xdraw.NearestNeighbor
	case "bilinear":
		k = xdraw.BiLinear
	case "box":
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
	case "crop":
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
	case "pad":
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
