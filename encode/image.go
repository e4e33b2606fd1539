package encode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // posters are decoded whatever their real format
	_ "image/jpeg"
	_ "image/png"
	"math"
)

// Reference poster size: the CSV's thumbnails. Shrink percentages apply to
// it, whatever the size of a given poster, so every row has the same shape.
const (
	RefWidth  = 182
	RefHeight = 268
)

// MaxPixels bounds a poster's declared width×height, checked from its header
// (image.DecodeConfig) before any pixel is allocated.
const MaxPixels = 40_000_000

// Errors of DecodePoster; callers match them to name a reject reason.
var (
	ErrCorruptImage  = errors.New("corrupt image")
	ErrTooManyPixels = errors.New("too many pixels")
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

// DecodePoster decodes poster bytes (JPEG, PNG or GIF), refusing a header
// that declares more than MaxPixels before decoding.
func DecodePoster(b []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrCorruptImage, r)
		}
	}()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %d×%d", ErrTooManyPixels, cfg.Width, cfg.Height)
	}
	img, _, err = image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptImage, err)
	}
	return img, nil
}
