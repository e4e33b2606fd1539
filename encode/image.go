package encode

import (
	"math"
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
