package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	imgpng "image/png"
	"os"
	"path/filepath"
	"sort"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
)

// Files written into the report folder.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	ExamplesFile = "examples.md"
	ExamplesDir  = "examples" // <imdb_id>.png thumbnails
	PlotsDir     = "plots"
)

// WriteOptions chooses the optional outputs.
type WriteOptions struct {
	Plots      bool // PNG plots under plots/
	Thumbnails bool // examples/<id>.png from the examples' pixels
	// HTML writes report.html, its plots and posters embedded.
	HTML bool
	// Posters reads the gallery's posters for report.html (nil: none shown).
	Posters PosterFunc
	// Heatmaps are the gallery posters' Grad-CAM overlays by imdb id (nil:
	// none shown).
	Heatmaps map[int64][]GalleryHeatmap
}

// GalleryHeatmap is one gallery poster's Grad-CAM overlay for one genre:
// Role is "predicted" (the top genre) or "true" (the best-scored true genre
// other than the top).
type GalleryHeatmap struct {
	Genre string
	Role  string
	PNG   []byte
}

// Write writes the report into dir: plots and thumbnails first, then
// examples.md, report.html, report.md and, last, report.json.
func Write(dir string, r *Report, opt WriteOptions) error {
	r.Plots = nil
	var plots map[string][]byte
	if opt.Plots || opt.HTML {
		var err error
		if plots, err = r.renderPlots(); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if opt.Plots {
		if err := os.MkdirAll(filepath.Join(dir, PlotsDir), 0o755); err != nil {
			return err
		}
		for name, b := range plots {
			if err := atomicfile.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return fmt.Errorf("report: write %s: %w", name, err)
			}
			r.Plots = append(r.Plots, name)
		}
		sort.Strings(r.Plots)
	}
	thumbs := false
	if opt.Thumbnails && len(r.Examples) > 0 {
		if err := os.MkdirAll(filepath.Join(dir, ExamplesDir), 0o755); err != nil {
			return err
		}
		thumbs = true
		for _, e := range r.Examples {
			b, err := Thumbnail(e.Pixels, e.Height, e.Width)
			if err != nil {
				thumbs = false // an example without pixels: the page goes without images
				break
			}
			if err := atomicfile.WriteFile(filepath.Join(dir, ExamplesDir, fmt.Sprintf("%d.png", e.ImdbID)), b, 0o644); err != nil {
				return fmt.Errorf("report: thumbnail %d: %w", e.ImdbID, err)
			}
		}
	}
	if len(r.Examples) > 0 {
		if err := atomicfile.WriteFile(filepath.Join(dir, ExamplesFile), []byte(r.ExamplesMarkdown(thumbs)), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if opt.HTML {
		page, err := r.HTML(plots, opt.Posters, opt.Heatmaps)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, HTMLFile), page, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, MarkdownFile), []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode json: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, JSONFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// Thumbnail encodes RGB HWC pixels as a PNG.
func Thumbnail(pix []byte, h, w int) ([]byte, error) {
	if h <= 0 || w <= 0 || len(pix) != h*w*3 {
		return nil, fmt.Errorf("thumbnail: %d bytes for %d×%d×3", len(pix), h, w)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i < len(pix); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = pix[i], pix[i+1], pix[i+2], 255
	}
	var buf bytes.Buffer
	if err := imgpng.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Read loads a report.json.
func Read(path string) (*Report, error) {
	b, err := regular.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return &r, nil
}
