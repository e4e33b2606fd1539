package scrape

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/postergenre/postergenre/internal/poster"
)

// Reasons a row fails or is skipped (LedgerRow.Reason). HTTP statuses are
// "http_<code>".
const (
	ReasonTimeout       = "timeout"
	ReasonConnection    = "connection"
	ReasonNotImage      = "not_image"
	ReasonTooLarge      = "too_large"
	ReasonTruncated     = "truncated"
	ReasonTooManyPixels = poster.ReasonTooManyPixels
	ReasonCorruptImage  = poster.ReasonCorruptImage
	ReasonRobots        = "robots_disallowed"
	ReasonBadURL        = "bad_url"
	ReasonNoOGImage     = "no_og_image"
	ReasonNoLink        = "no_link"
	ReasonDuplicateRow  = "duplicate_row"
	ReasonMalformedRow  = "malformed_row"
)

// Sources of a stored poster (LedgerRow.Source).
const (
	SourcePoster   = "poster"
	SourceIMDbPage = "imdb_page"
	SourceStore    = "store"
)

// checkImage decides whether body is a poster we keep. limit is the
// collector's effective body cap (colly truncates silently at it), 0 for none.
// It returns "" and nil for a good image, or a reason and what went wrong.
func checkImage(body []byte, contentType string, maxBytes, maxPixels int64, limit int) (string, error) {
	if int64(len(body)) > maxBytes || (limit > 0 && len(body) >= limit) {
		return ReasonTooLarge, fmt.Errorf("body of at least %d bytes exceeds max_body_bytes %d", len(body), maxBytes)
	}
	if len(body) == 0 {
		return ReasonNotImage, errors.New("empty body")
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "image/"):
	case mt == "" || mt == "application/octet-stream" || mt == "binary/octet-stream":
		// Some servers label everything as bytes: trust the content then.
		if sniffed := http.DetectContentType(body); !strings.HasPrefix(sniffed, "image/") {
			return ReasonNotImage, fmt.Errorf("content type %q, content looks like %q", contentType, sniffed)
		}
	default:
		return ReasonNotImage, fmt.Errorf("content type %q is not an image", contentType)
	}
	// The one poster decoder: header and pixel limit first, then every pixel.
	if _, _, err := poster.Decode(body, maxPixels); err != nil {
		return decodeReason(err), err
	}
	return "", nil
}

func decodeReason(err error) string {
	switch {
	case errors.Is(err, poster.ErrTooManyPixels):
		return ReasonTooManyPixels
	case errors.Is(err, poster.ErrUnknownFormat):
		return ReasonNotImage
	case errors.Is(err, poster.ErrTruncated):
		return ReasonTruncated
	default:
		return ReasonCorruptImage
	}
}
