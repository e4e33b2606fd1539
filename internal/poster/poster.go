// Package poster is the one poster decoder: scrape's validation, clean's
// check, encode and predict all decode through it, under one pixel limit.
//
// A poster is JPEG, PNG or GIF, whatever its file name says. Its header is
// read first and a declared width×height above the limit is refused before
// any pixel is allocated, so a small file claiming a huge canvas
// (a decompression bomb) costs nothing. A decoder panic is a corrupt image.
//
// The limit is scrape's max_pixels. Each stage records the limit it applied
// beside its output (scrape.LimitsFile) and the next stage reads it there,
// so the setting has one home and every stage applies the same value.
package poster

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"strings"
)

// DefaultMaxPixels is max_pixels' default: 40 megapixels, far above any
// real poster (the CDN thumbnails are 182×268) and 160 MB decoded.
const DefaultMaxPixels = 40_000_000

// Errors callers match (errors.Is) to name a reason. ErrUnknownFormat and
// ErrTruncated are kinds of ErrCorrupt: an error wrapping one also matches
// ErrCorrupt.
var (
	ErrCorrupt       = errors.New("corrupt image")
	ErrUnknownFormat = errors.New("not a JPEG, PNG or GIF image")
	ErrTruncated     = errors.New("truncated image")
	ErrTooManyPixels = errors.New("too many pixels")
)

// The reasons a refused poster is recorded under: in scrape's ledger,
// clean's and encode's rejects and serve's error codes. Reason maps a
// decoder error to one.
const (
	ReasonTooManyPixels = "too_many_pixels"
	ReasonCorruptImage  = "corrupt_image"
)

// Reason names why err, an error of DecodeHeader or Decode, refuses a
// poster: ReasonTooManyPixels or else ReasonCorruptImage; "" for nil.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTooManyPixels):
		return ReasonTooManyPixels
	default:
		return ReasonCorruptImage
	}
}

// Header is what a poster's header declares.
type Header struct {
	Width, Height int
	Format        string // "jpeg", "png" or "gif"
}

// DecodeHeader reads b's header and checks its size against maxPixels
// (width×height; <= 0 means DefaultMaxPixels). It allocates no pixels.
func DecodeHeader(b []byte, maxPixels int64) (h Header, err error) {
	defer recoverCorrupt(&err)
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Header{}, classify("read header", err)
	}
	h = Header{Width: cfg.Width, Height: cfg.Height, Format: format}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return h, fmt.Errorf("%w: %s header declares %d×%d", ErrCorrupt, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return h, fmt.Errorf("%w: %s is %d×%d, more than max_pixels %d", ErrTooManyPixels, format, cfg.Width, cfg.Height, maxPixels)
	}
	return h, nil
}

// Decode checks b's header (DecodeHeader), then decodes every pixel.
func Decode(b []byte, maxPixels int64) (img image.Image, h Header, err error) {
	defer recoverCorrupt(&err)
	if h, err = DecodeHeader(b, maxPixels); err != nil {
		return nil, h, err
	}
	img, _, err = image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, h, classify("decode "+h.Format, err)
	}
	return img, h, nil
}

func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: decoder panic: %v", ErrCorrupt, r)
	}
}

// classify wraps a decoder error in the sentinels it belongs to.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, image.ErrFormat):
		return fmt.Errorf("%w: %w: %s: %v", ErrCorrupt, ErrUnknownFormat, what, err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		// image/jpeg reports data ending inside a scan as "short Huffman data".
		strings.Contains(err.Error(), "unexpected EOF"), strings.Contains(err.Error(), "short Huffman data"):
		return fmt.Errorf("%w: %w: %s: %v", ErrCorrupt, ErrTruncated, what, err)
	default:
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
	}
}
