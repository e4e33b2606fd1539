// Package stages holds the contract every pipeline stage implements and the
// ordered list of stages. It knows nothing about caching or locking: that is
// the pipeline package's job. A stage only reads its inputs and writes its
// outputs into the folder it is given.
package stages

import (
	"context"
	"log/slog"
)

// Names of the five stages, in run order.
const (
	Scrape   = "scrape"
	Clean    = "clean"
	Encode   = "encode"
	Train    = "train"
	Evaluate = "evaluate"
)

// Order lists the stages in the order they run. Each stage reads the outputs
// of the stages before it (see Inputs).
var Order = []string{Scrape, Clean, Encode, Train, Evaluate}

// Inputs says which upstream outputs each stage reads. The fingerprint of a
// stage covers exactly these (plus its own config section and code version).
var Inputs = map[string][]string{
	Scrape:   nil,
	Clean:    {Scrape},
	Encode:   {Clean},
	Train:    {Encode},
	Evaluate: {Encode, Train},
}

// Env is what the pipeline hands a stage for one run.
type Env struct {
	// OutDir is an empty staging folder the stage writes into. The pipeline
	// renames it to its final place only after Run returns nil, so a stage
	// never needs to clean up after a failure.
	OutDir string
	// Inputs maps an upstream stage name to its completed output folder.
	Inputs map[string]string
	// PosterStore is the folder of downloaded posters, <imdbId>.jpg, shared
	// by every config in a working folder.
	PosterStore string
	// Workdir is the pipeline's working folder (for caches that outlive one
	// output folder, e.g. the scrape stage's state).
	Workdir string
	// Logger carries the attributes stage= and run=.
	Logger *slog.Logger
	// Progress shows how far long steps are (a bar on a terminal, log
	// lines otherwise); nil means none. Start tasks with StartTask.
	Progress Progress
	// TensorBoardDir, when set, is where a stage that trains writes
	// TensorBoard event files as it goes (inside the run folder, so
	// `tensorboard --logdir work/runs` shows every run side by side).
	TensorBoardDir string
	// Resume asks a stage that supports it (train) to continue from its last
	// checkpoint instead of starting over.
	Resume bool
	// Prev is the stage's previous completed output folder for the same
	// fingerprint family, if any ("" otherwise). Incremental stages (scrape)
	// read their last state from it.
	Prev string
}

// Result is what a stage reports back; Summary ends up in the stage's
// manifest.json and in the run log.
type Result struct {
	Summary map[string]any
	// Headline, when set, holds the numbers a run is judged by (evaluate's
	// test metrics, the primary one first). The pipeline records it in the
	// stage manifest and shows it in the run summary, history and grid.
	Headline []Metric
}

// Stage is one step of the pipeline. What sets one stage apart from the
// others in the pipeline's eyes is said through the optional interfaces in
// optional.go (input and output identity, retries due, keeping a failed
// attempt, run-folder links, row counts), never by its name.
type Stage interface {
	// Name is one of the constants above.
	Name() string
	// Version is bumped whenever the stage's output for the same config and
	// inputs changes; it is part of the fingerprint.
	Version() string
	// Run does the work. Per-item problems are recorded in the stage's
	// outputs and counted in Result; only I/O, config and invariant failures
	// return an error.
	Run(ctx context.Context, env Env) (Result, error)
}
