package serve

import (
	"bytes"
	"errors"
	"image"
	"net/http"

	"github.com/postergenre/postergenre/encode"
)

// sniffed maps the content types http.DetectContentType finds to the
// formats encode.DecodePoster decodes.
var sniffed = map[string]string{"image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif"}

// decode turns bytes into a poster: 415 when they are not a JPEG, PNG or
// GIF (by content, whatever the request claims), 422 when the header
// declares more than maxPixels (checked before any pixel is decoded) or
// the image is corrupt.
//
// The decoding itself is encode.DecodePoster, the decoder predict uses (it
// recovers decoder panics and has its own, larger pixel cap); when poster
// decoding moves to one package with a caller-given limit, the header check
// here becomes that call's limit.
func decode(data []byte, maxPixels int64) (image.Image, ImageInfo, *apiError) {
	info := ImageInfo{Bytes: len(data)}
	ct := http.DetectContentType(data)
	format, ok := sniffed[ct]
	if !ok {
		return nil, info, errf(http.StatusUnsupportedMediaType, "not_an_image", "not a JPEG, PNG or GIF image (the content looks like %s)", ct)
	}
	info.Format = format
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, info, errf(http.StatusUnprocessableEntity, "corrupt_image", "%s header: %v", format, err)
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, info, errf(http.StatusUnprocessableEntity, "too_many_pixels", "the %s declares %d×%d pixels; the cap is %d", format, cfg.Width, cfg.Height, maxPixels)
	}
	img, err := encode.DecodePoster(data)
	switch {
	case errors.Is(err, encode.ErrTooManyPixels):
		return nil, info, errf(http.StatusUnprocessableEntity, "too_many_pixels", "%v", err)
	case err != nil:
		return nil, info, errf(http.StatusUnprocessableEntity, "corrupt_image", "%v", err)
	}
	return img, info, nil
}
