// Package encodeconfig holds the encode section of a pipeline config: its type,
// defaults and validation. It imports nothing heavy, so loading a config
// never links the stage's implementation (for train, TensorFlow).
package encodeconfig

import "github.com/postergenre/postergenre/stages"

// Label modes (label_mode): how a row's listed genres become its label.
const (
	// LabelMulti is multi-hot over the selected genres.
	LabelMulti = "multi"
	// LabelFirst is one-hot of the first listed genre among the selected
	// ones, as the 3-genre blog post.
	LabelFirst = "first"
)

// Config is the encode section of a pipeline config.
type Config struct {
	// Genres selects and orders the label columns; empty = every genre found,
	// in the stable vocabulary order (descending count, then name).
	Genres []string `yaml:"genres"`
	// LabelMode: LabelMulti or LabelFirst.
	LabelMode string `yaml:"label_mode"`
	// YearMin/YearMax restrict rows to a year range; 0 = unbounded.
	YearMin int   `yaml:"year_min"`
	YearMax int   `yaml:"year_max"`
	Split   Split `yaml:"split"`
	Image   Image `yaml:"image"`
	// ShardRows rows per Parquet file; RowGroupRows rows per row group.
	ShardRows    int `yaml:"shard_rows"`
	RowGroupRows int `yaml:"row_group_rows"`
	// Workers decoding and resizing in parallel; 0 = all cores.
	Workers int `yaml:"workers"`
}

// Split chooses how rows are assigned to train/validation/test.
type Split struct {
	// Method: "paper" (test = id%7==0; every 6th movie of a year validation),
	// "hash" (a stable hash of the id into the fractions below) or "era"
	// (the movies of TestFrom and later are the test split; the earlier
	// ones are hashed into train and validation in the ratio Train to
	// Validation): how much a model leans on the design fashion of the
	// years it was trained on.
	Method     string  `yaml:"method"`
	Train      float64 `yaml:"train"`
	Validation float64 `yaml:"validation"`
	Test       float64 `yaml:"test"`
	// Salt changes the hash assignment without changing the code.
	Salt string `yaml:"salt"`
	// TestFrom is the first test year of method "era". Left out of the
	// section's hash when unset, so the outputs of other splits keep theirs.
	TestFrom int32 `yaml:"test_from" json:"TestFrom,omitempty"`
}

// Fit and filter names of Image. DefaultFit and DefaultFilter are the only
// home of the defaults: a reader meeting an empty fit or filter (an older
// manifest or model.json) uses them too.
const (
	FitStretch = "stretch"
	FitCrop    = "crop"
	FitPad     = "pad"

	FilterCatmullRom = "catmullrom"
	FilterBilinear   = "bilinear"
	FilterNearest    = "nearest"
	FilterBox        = "box"

	DefaultFit    = FitStretch
	DefaultFilter = FilterCatmullRom
)

// Image says how posters become model input.
type Image struct {
	// ShrinkPercent of the reference poster size (182×268), rounded as
	// ImageMagick's -resize N% does: 40 → 73×107. Ignored when Width and
	// Height are set.
	ShrinkPercent float64 `yaml:"shrink_percent"`
	Width         int     `yaml:"width"`
	Height        int     `yaml:"height"`
	// Fit for posters whose aspect differs from the target: "stretch" (the
	// paper: resize to exactly the target) or "crop" (scale to cover, centre crop)
	// or "pad" (scale to fit, pad with black).
	Fit string `yaml:"fit"`
	// Filter: "catmullrom" (default; close to ImageMagick's), "bilinear",
	// "nearest", "box".
	Filter string `yaml:"filter"`
}

// Default is the encode section's defaults.
func Default() Config {
	return Config{
		LabelMode:    LabelMulti,
		Split:        Split{Method: "hash", Train: 0.8, Validation: 0.1, Test: 0.1},
		Image:        Image{ShrinkPercent: 40, Fit: DefaultFit, Filter: DefaultFilter},
		ShardRows:    2048,
		RowGroupRows: 256,
	}
}

// Validate appends every problem of the section, with paths under prefix.
func (c Config) Validate(prefix string, ps *stages.Problems) {
	seen := map[string]bool{}
	for i, g := range c.Genres {
		if g == "" {
			ps.Addf(prefix+"/genres/"+stages.Index(i), "must not be empty")
		}
		if seen[g] {
			ps.Addf(prefix+"/genres/"+stages.Index(i), "duplicate genre %q", g)
		}
		seen[g] = true
	}
	if c.LabelMode != LabelMulti && c.LabelMode != LabelFirst {
		ps.Addf(prefix+"/label_mode", `must be %q or %q, got %q`, LabelMulti, LabelFirst, c.LabelMode)
	}
	if c.YearMin < 0 || c.YearMax < 0 || (c.YearMin > 0 && c.YearMax > 0 && c.YearMin > c.YearMax) {
		ps.Addf(prefix+"/year_max", "year range %d..%d is invalid", c.YearMin, c.YearMax)
	}
	switch c.Split.Method {
	case "paper":
	case "era":
		if c.Split.TestFrom < 1900 || c.Split.TestFrom > 2100 {
			ps.Addf(prefix+"/split/test_from", `must be the first test year (1900..2100) with method "era", got %d`, c.Split.TestFrom)
		}
		if c.Split.Train <= 0 || c.Split.Validation < 0 {
			ps.Addf(prefix+"/split/train", `method "era" hashes the years before test_from into train and validation: train must be > 0 and validation >= 0, got %g and %g`, c.Split.Train, c.Split.Validation)
		}
	case "hash":
		for _, f := range []struct {
			name string
			v    float64
		}{{"train", c.Split.Train}, {"validation", c.Split.Validation}, {"test", c.Split.Test}} {
			if f.v < 0 || f.v > 1 {
				ps.Addf(prefix+"/split/"+f.name, "must be in 0..1, got %g", f.v)
			}
		}
		if s := c.Split.Train + c.Split.Validation + c.Split.Test; s < 0.999 || s > 1.001 {
			ps.Addf(prefix+"/split", "train+validation+test must sum to 1, got %g", s)
		}
	default:
		ps.Addf(prefix+"/split/method", `must be "paper", "hash" or "era", got %q`, c.Split.Method)
	}
	im := c.Image
	if (im.Width == 0) != (im.Height == 0) {
		ps.Addf(prefix+"/image", "width and height must be set together (got %d×%d)", im.Width, im.Height)
	}
	if im.Width < 0 || im.Width > 1024 || im.Height < 0 || im.Height > 1024 {
		ps.Addf(prefix+"/image", "width and height must be in 1..1024, got %d×%d", im.Width, im.Height)
	}
	if im.Width == 0 && (im.ShrinkPercent <= 0 || im.ShrinkPercent > 400) {
		ps.Addf(prefix+"/image/shrink_percent", "must be in (0, 400], got %g", im.ShrinkPercent)
	}
	switch im.Fit {
	case FitStretch, FitCrop, FitPad:
	default:
		ps.Addf(prefix+"/image/fit", `must be "stretch", "crop" or "pad", got %q`, im.Fit)
	}
	switch im.Filter {
	case FilterCatmullRom, FilterBilinear, FilterNearest, FilterBox:
	default:
		ps.Addf(prefix+"/image/filter", `must be "catmullrom", "bilinear", "nearest" or "box", got %q`, im.Filter)
	}
	if c.ShardRows < 1 {
		ps.Addf(prefix+"/shard_rows", "must be >= 1, got %d", c.ShardRows)
	}
	if c.RowGroupRows < 1 || c.RowGroupRows > c.ShardRows {
		ps.Addf(prefix+"/row_group_rows", "must be in 1..shard_rows (%d), got %d", c.ShardRows, c.RowGroupRows)
	}
	if c.Workers < 0 {
		ps.Addf(prefix+"/workers", "must be >= 0, got %d", c.Workers)
	}
}
