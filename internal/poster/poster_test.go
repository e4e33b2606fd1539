package poster_test

import (
	"bytes"
	"errors"
	"image"
	"image/gif"
	"image/png"
	"testing"

	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/internal/poster/postertest"
)

func encoded(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecode(t *testing.T) {
	good := postertest.JPEG(30, 40, 1)
	sos := bytes.Index(good, []byte{0xFF, 0xDA})
	for _, tc := range []struct {
		name   string
		b      []byte
		max    int64
		format string
		errs   []error // every sentinel the error must match; nil: no error
	}{
		{"jpeg", good, 0, "jpeg", nil},
		{"png", encoded(t, "png", 12, 10), 0, "png", nil},
		{"gif", encoded(t, "gif", 5, 6), 0, "gif", nil},
		{"gray jpeg", postertest.GrayJPEG(10, 10), 0, "jpeg", nil},
		{"exactly at the limit", good, 30 * 40, "jpeg", nil},
		{"one pixel over", good, 30*40 - 1, "", []error{poster.ErrTooManyPixels}},
		{"empty", nil, 0, "", []error{poster.ErrCorrupt, poster.ErrUnknownFormat}},
		{"html", []byte("<html></html>"), 0, "", []error{poster.ErrCorrupt, poster.ErrUnknownFormat}},
		{"gif header garbage", []byte("GIF89a but not really"), 0, "", []error{poster.ErrTooManyPixels}}, // "declares" 25120×29813
		{"truncated in the scan", good[:sos+30], 0, "", []error{poster.ErrCorrupt, poster.ErrTruncated}},
		{"header only", good[:sos], 0, "", []error{poster.ErrCorrupt, poster.ErrTruncated}},
		{"jpeg bomb", postertest.HugeHeaderJPEG(20000, 20000), 0, "", []error{poster.ErrTooManyPixels}},
		{"png bomb", postertest.PNGHeader(50000, 50000), 0, "", []error{poster.ErrTooManyPixels}},
		{"png bomb under a huge limit", postertest.PNGHeader(50000, 50000), 1 << 40, "", []error{poster.ErrCorrupt, poster.ErrTruncated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, h, err := poster.Decode(tc.b, tc.max)
			if tc.errs == nil {
				if err != nil || img == nil || h.Format != tc.format || img.Bounds().Dx() != h.Width {
					t.Fatalf("img %v, header %+v, err %v", img != nil, h, err)
				}
				if r := poster.Reason(err); r != "" {
					t.Errorf("Reason(nil) = %q", r)
				}
				return
			}
			if err == nil || img != nil {
				t.Fatalf("want an error, got img %v", img != nil)
			}
			for _, e := range tc.errs {
				if !errors.Is(err, e) {
					t.Errorf("error %q does not match %q", err, e)
				}
			}
			if errors.Is(err, poster.ErrTooManyPixels) == errors.Is(err, poster.ErrCorrupt) {
				t.Errorf("error %q is both or neither too large and corrupt", err)
			}
			reason := poster.ReasonCorruptImage
			if tc.errs[0] == poster.ErrTooManyPixels {
				reason = poster.ReasonTooManyPixels
			}
			if r := poster.Reason(err); r != reason {
				t.Errorf("Reason(%q) = %q, want %q", err, r, reason)
			}
		})
	}
}

func TestDecodeHeaderAllocatesNoPixels(t *testing.T) {
	// A header check of a bomb under a huge limit must not decode (7.5 GB of
	// pixels): it returns the declared size, with no error.
	h, err := poster.DecodeHeader(postertest.PNGHeader(50000, 50000), 1<<40)
	if err != nil || h.Width != 50000 || h.Height != 50000 || h.Format != "png" {
		t.Fatalf("header %+v, err %v", h, err)
	}
}
