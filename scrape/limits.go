package scrape

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/internal/regular"
)

// LimitsFile holds the input bounds scrape applied (Limits), beside its
// ledger. Clean reads it there, applies the same bounds and writes the same
// file beside its rows for encode. So max_pixels is set once, in the scrape
// config, and no later stage reads the config or keeps its own copy.
const LimitsFile = "limits.json"

// Limits are the bounds a stage output was made under.
type Limits struct {
	// MaxPixels is scrape's max_pixels: the largest width×height a poster
	// header may declare (poster.DecodeHeader).
	MaxPixels int64 `json:"max_pixels"`
	// CSV bounds the MovieGenre rows, so clean reads the rows scrape read.
	CSV moviegenre.Limits `json:"csv"`
}

// limitsOf is what a run under cfg applies.
func limitsOf(cfg Config) Limits {
	return Limits{MaxPixels: cfg.MaxPixels, CSV: moviegenre.Limits{MaxLineBytes: cfg.MaxLineBytes, MaxFieldBytes: cfg.MaxFieldBytes}}
}

// WriteLimits writes l into dir/LimitsFile, atomically.
func WriteLimits(dir string, l Limits) error {
	if err := atomicfile.WriteJSON(filepath.Join(dir, LimitsFile), l); err != nil {
		return fmt.Errorf("%s: %w", LimitsFile, err)
	}
	return nil
}

// ReadLimits reads the limits of a scrape output, or of a clean output
// (which forwards them). An output made before limits were recorded has no
// file: it was made under the defaults of that time, which it returns.
func ReadLimits(dir string) (Limits, error) {
	path := filepath.Join(dir, LimitsFile)
	b, err := regular.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Limits{MaxPixels: poster.DefaultMaxPixels, CSV: moviegenre.DefaultLimits()}, nil
	}
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	if err := json.Unmarshal(b, &l); err != nil {
		return Limits{}, fmt.Errorf("%s: %w", path, err)
	}
	if l.MaxPixels <= 0 || l.CSV.MaxLineBytes <= 0 || l.CSV.MaxFieldBytes <= 0 {
		return Limits{}, fmt.Errorf("%s: every limit must be > 0, got %+v", path, l)
	}
	return l, nil
}
