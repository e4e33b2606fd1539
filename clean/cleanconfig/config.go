// Package cleanconfig holds the clean section of a pipeline config: its type,
// defaults and validation. It imports nothing heavy, so loading a config
// never links the stage's implementation (for train, TensorFlow).
package cleanconfig

import (
	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/stages"
)

// Config is the clean section of a pipeline config.
type Config struct {
	// RequiredFields: a row with any of these empty is dropped (reason
	// empty_<field>). Default: all six columns.
	RequiredFields []string `yaml:"required_fields"`
	// YearMin/YearMax: when either is set, rows whose title has no year or a
	// year outside the range are dropped. 0 = unbounded.
	YearMin int `yaml:"year_min"`
	YearMax int `yaml:"year_max"`
	// PaperFilter applies the paper's own row filter: more than one listed
	// genre, an https poster link, a year in 1900..2018, a title longer than
	// one character.
	PaperFilter bool `yaml:"paper_filter"`
	// Dedupe drops repeated imdbIds, keeping the first. The paper's code does
	// not dedupe; its config turns this off to reproduce its counts.
	Dedupe bool `yaml:"dedupe"`
	// VerifyImages fully decodes every poster; one that does not decode is dropped.
	VerifyImages bool `yaml:"verify_images"`
}

// Default is the clean section's defaults.
func Default() Config {
	return Config{
		RequiredFields: append([]string(nil), moviegenre.Columns...),
		Dedupe:         true,
		VerifyImages:   true,
	}
}

// Validate appends every problem of the section, with paths under prefix.
func (c Config) Validate(prefix string, ps *stages.Problems) {
	for i, f := range c.RequiredFields {
		known := false
		for _, col := range moviegenre.Columns {
			known = known || f == col
		}
		if !known {
			ps.Addf(prefix+"/required_fields/"+stages.Index(i), "unknown column %q (want one of %v)", f, moviegenre.Columns)
		}
	}
	if c.YearMin < 0 || c.YearMin > 3000 {
		ps.Addf(prefix+"/year_min", "must be in 0..3000, got %d", c.YearMin)
	}
	if c.YearMax < 0 || c.YearMax > 3000 {
		ps.Addf(prefix+"/year_max", "must be in 0..3000, got %d", c.YearMax)
	}
	if c.YearMin > 0 && c.YearMax > 0 && c.YearMin > c.YearMax {
		ps.Addf(prefix+"/year_max", "must be >= year_min (%d), got %d", c.YearMin, c.YearMax)
	}
}
