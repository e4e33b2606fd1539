// Package evaluateconfig holds the evaluate section of a pipeline config: its type,
// defaults and validation. It imports nothing heavy, so loading a config
// never links the stage's implementation (for train, TensorFlow).
package evaluateconfig

import "github.com/postergenre/postergenre/stages"

// Config is the evaluate section of a pipeline config.
type Config struct {
	// TopK predictions shown per example and the largest k of the top-k hit rates.
	TopK int `yaml:"top_k"`
	// Bootstrap resamples for the 95% intervals.
	Bootstrap int `yaml:"bootstrap"`
	// Examples: how many test posters the example page shows.
	Examples int `yaml:"examples"`
	// Plots: write PNG plots beside the report.
	Plots bool  `yaml:"plots"`
	Seed  int64 `yaml:"seed"`
}

// Default is the evaluate section's defaults.
func Default() Config {
	return Config{TopK: 3, Bootstrap: 1000, Examples: 24, Plots: true, Seed: 1}
}

// Validate appends every problem of the section, with paths under prefix.
func (c Config) Validate(prefix string, ps *stages.Problems) {
	if c.TopK < 1 || c.TopK > 28 {
		ps.Addf(prefix+"/top_k", "must be in 1..28, got %d", c.TopK)
	}
	if c.Bootstrap < 0 || c.Bootstrap > 100000 {
		ps.Addf(prefix+"/bootstrap", "must be in 0..100000, got %d", c.Bootstrap)
	}
	if c.Examples < 0 {
		ps.Addf(prefix+"/examples", "must be >= 0, got %d", c.Examples)
	}
}
