package serve

import (
	"image"
	"net/http"

	"github.com/postergenre/postergenre/internal/poster"
)

// sniffed maps the content types http.DetectContentType finds to the
// formats internal/poster decodes.
var sniffed = map[string]string{"image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif"}

// decode turns bytes into a poster: 415 when they are not a JPEG, PNG or
// GIF (by content, whatever the request claims), 422 when the header
// declares more than maxPixels (internal/poster checks it before any pixel
// is decoded) or the image is corrupt.
func decode(data []byte, maxPixels int64) (image.Image, ImageInfo, *apiError) {
	info := ImageInfo{Bytes: len(data)}
	ct := http.DetectContentType(data)
	format, ok := sniffed[ct]
	if !ok {
		return nil, info, errf(http.StatusUnsupportedMediaType, "not_an_image", "not a JPEG, PNG or GIF image (the content looks like %s)", ct)
	}
	info.Format = format
	img, h, err := poster.Decode(data, maxPixels)
	info.Width, info.Height = h.Width, h.Height
	if err != nil {
		return nil, info, errf(http.StatusUnprocessableEntity, poster.Reason(err), "%v", err)
	}
	return img, info, nil
}
