package stages

import (
	"context"
	"math"
	"time"
)

// The optional capabilities below are what makes one stage behave unlike
// another in the pipeline. The pipeline discovers them with a type
// assertion (`if s, ok := st.(stages.OutputIdentifier)`), never by a
// stage's name, so everything stage-specific lives with its stage.

// InputIdentifier is a stage whose input comes from outside the pipeline
// (scrape: the MovieGenre CSV). Its identity joins the stage's fingerprint,
// so a changed input reruns the stage.
type InputIdentifier interface {
	// InputIdentity names the external input by content, e.g. "csv=<sha256>".
	InputIdentity(ctx context.Context) (string, error)
}

// OutputIdentifier identifies a completed output by what downstream stages
// read. Without it the pipeline identifies an output by the content of its
// files (less VolatileFiler's), so a rerun that wrote the same bytes keeps
// downstream outputs up to date; a stage implements it when what
// downstream reads is not only its files (scrape: the poster store too).
type OutputIdentifier interface {
	// OutputIdentity reads the completed output in dir.
	OutputIdentity(dir string) (string, error)
}

// VolatileFiler is a stage whose output holds files that differ between
// two productions from the same inputs without meaning anything different
// (timings). They are checked on reuse like every file but left out of the
// output's content identity, so a rerun that produced the same data keeps
// everything downstream up to date.
type VolatileFiler interface {
	// VolatileFiles lists patterns relative to the output folder
	// (path.Match syntax; a pattern ending in "/" is a whole folder).
	VolatileFiles() []string
}

// PosterStoreWriter is a stage that writes the poster store shared by every
// config of a working folder (scrape: posters and the store's state file,
// and it clears temporary files an interrupted writer left). The pipeline
// runs at most one such stage per working folder at a time, across
// processes and hosts.
type PosterStoreWriter interface {
	WritesPosterStore() bool
}

// RetryDuer is a stage whose up-to-date output can still be due for another
// run (scrape: failed downloads older than retry_failed_after).
type RetryDuer interface {
	// RetriesDue reads the completed output in dir.
	RetriesDue(dir string, now time.Time) (bool, error)
}

// StagingKeeper is a stage whose failed attempt is kept for Env.Resume
// (train: its checkpoints) instead of being removed.
type StagingKeeper interface {
	KeepsFailedAttempt() bool
}

// Resumer is a stage that can say, without running, where Env.Resume
// would continue from the previous attempt in prev ("epoch 3 of 12"),
// for `run --dry-run --resume`; an error says why it would start over.
type Resumer interface {
	ResumePoint(prev string) (string, error)
}

// RunLink is one entry a stage adds to the run folder beside the symlink
// <run>/<stage> that every stage output gets.
type RunLink struct {
	// Name is the entry in the run folder, e.g. "model".
	Name string
	// Path is what it points at inside the stage output ("" = the output).
	Path string
	// Copy copies instead of linking: the entry must outlive a later rerun
	// that replaces the output (the report).
	Copy bool
}

// RunLinker is a stage that adds entries to the run folder.
type RunLinker interface {
	RunLinks() []RunLink
}

// RowAccounter is a stage whose Result.Summary counts rows by outcome or
// reason: each key it names holds a map from outcome or reason to a count.
// The pipeline prints them as "where the rows went".
type RowAccounter interface {
	RowCountKeys() []string
}

// ConfigIdentifier is a config section only part of which decides a
// stage's output (scrape: not how posters are fetched, only which are
// accepted). The section's fingerprint hashes Identity instead of the
// whole section, so changing the other fields reruns nothing.
type ConfigIdentifier interface {
	Identity() any
}

// Metric is one headline number of a run (evaluate's test metrics), typed
// so the run summary, history and grid table show it without knowing it.
type Metric struct {
	// Key is stable and machine-readable, e.g. "paper_accuracy", "top5_hit".
	Key string `json:"key"`
	// Label is for people, e.g. "Top-5 hit".
	Label string  `json:"label"`
	Value float64 `json:"value"`
	// Lo and Hi bound the 95% interval; Baseline is the same metric for the
	// baseline. nil when unknown (never NaN: JSON has no NaN).
	Lo       *float64 `json:"ci_low,omitempty"`
	Hi       *float64 `json:"ci_high,omitempty"`
	Baseline *float64 `json:"baseline,omitempty"`
}

// Finite returns &x, or nil when x is NaN or infinite: the one way a
// missing number enters a Metric.
func Finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}
