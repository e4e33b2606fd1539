// Package scrapeconfig holds the scrape section of a pipeline config: its type,
// defaults and validation. It imports nothing heavy, so loading a config
// never links the stage's implementation (for train, TensorFlow).
package scrapeconfig

import (
	"regexp"
	"time"

	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/stages"
)

// Config is the scrape section of a pipeline config.
type Config struct {
	// CSV is the MovieGenre-format input: a file path (relative to the config
	// file) or an http(s) URL.
	CSV string `yaml:"csv"`
	// CSVSHA256, when set, must match the CSV's bytes before anything runs.
	CSVSHA256 string `yaml:"csv_sha256"`
	// Parallelism bounds the requests in flight (colly LimitRule).
	Parallelism int `yaml:"parallelism"`
	// Delay between requests to the same host, plus up to RandomDelay more.
	Delay       time.Duration `yaml:"delay"`
	RandomDelay time.Duration `yaml:"random_delay"`
	// Timeout of one HTTP request.
	Timeout   time.Duration `yaml:"timeout"`
	UserAgent string        `yaml:"user_agent"`
	// RespectRobots honours robots.txt (default true).
	RespectRobots bool `yaml:"respect_robots"`
	// Retries after the first attempt on 5xx, 429, timeouts and connection
	// errors; never on other 4xx. Backoff doubles from BackoffBase up to
	// BackoffMax, with full jitter; Retry-After wins when the server sends it.
	Retries     int           `yaml:"retries"`
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// MaxBodyBytes caps one poster; MaxPixels caps width*height before decoding.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	MaxPixels    int64 `yaml:"max_pixels"`
	// MaxLineBytes and MaxFieldBytes bound one CSV row as read (line ends
	// included) and one field: a longer row is dropped as malformed_row
	// with its line number, never held whole in memory (moviegenre.Limits).
	// They are recorded in the output's limits.json, so clean reads the
	// same rows.
	MaxLineBytes  int `yaml:"max_line_bytes"`
	MaxFieldBytes int `yaml:"max_field_bytes"`
	// RetryFailedAfter: a row that failed is tried again on a later run once
	// its failure is older than this.
	RetryFailedAfter time.Duration `yaml:"retry_failed_after"`
	// FallbackIMDbPage fetches the title page's og:image when the poster link fails.
	FallbackIMDbPage bool `yaml:"fallback_imdb_page"`
	// URLRewrite rules run in order on every URL before it is fetched.
	URLRewrite []Rewrite `yaml:"url_rewrite"`
	// ProgressEvery is how often a progress log line is written when not on a terminal.
	ProgressEvery time.Duration `yaml:"progress_every"`
}

// Rewrite replaces matches of Pattern (a Go regular expression) with Replace
// ($1 style references allowed).
type Rewrite struct {
	Pattern string `yaml:"pattern"`
	Replace string `yaml:"replace"`
}

// MaxBodyBytesLimit bounds max_body_bytes: each request in flight may hold
// that much (parallelism up to 256), and no poster comes near it.
const MaxBodyBytesLimit = 64 << 20

// MaxLineBytesLimit bounds max_line_bytes (and so max_field_bytes): the
// reader holds one row at a time, the real file's longest is under 400
// bytes, and memory stays bounded by a few times this.
const MaxLineBytesLimit = 64 << 20

// Default is the scrape section's defaults.
func Default() Config {
	return Config{
		Parallelism:      8,
		Delay:            0,
		RandomDelay:      0,
		Timeout:          30 * time.Second,
		UserAgent:        "postergenre/1 (+https://github.com/postergenre/postergenre)",
		RespectRobots:    true,
		Retries:          4,
		BackoffBase:      500 * time.Millisecond,
		BackoffMax:       30 * time.Second,
		MaxBodyBytes:     5 << 20,
		MaxPixels:        poster.DefaultMaxPixels,
		MaxLineBytes:     moviegenre.DefaultMaxLineBytes,
		MaxFieldBytes:    moviegenre.DefaultMaxFieldBytes,
		RetryFailedAfter: 7 * 24 * time.Hour,
		FallbackIMDbPage: true,
		ProgressEvery:    10 * time.Second,
	}
}

// Validate appends every problem of the section, with paths under prefix.
func (c Config) Validate(prefix string, ps *stages.Problems) {
	if c.CSV == "" {
		ps.Addf(prefix+"/csv", "required: a path or http(s) URL of a MovieGenre-format CSV")
	}
	if c.CSVSHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(c.CSVSHA256) {
		ps.Addf(prefix+"/csv_sha256", "must be 64 lowercase hex digits, got %q", c.CSVSHA256)
	}
	if c.Parallelism < 1 || c.Parallelism > 256 {
		ps.Addf(prefix+"/parallelism", "must be in 1..256, got %d", c.Parallelism)
	}
	if c.Delay < 0 {
		ps.Addf(prefix+"/delay", "must be >= 0, got %s", c.Delay)
	}
	if c.RandomDelay < 0 {
		ps.Addf(prefix+"/random_delay", "must be >= 0, got %s", c.RandomDelay)
	}
	if c.Timeout <= 0 {
		ps.Addf(prefix+"/timeout", "must be > 0, got %s", c.Timeout)
	}
	if c.Retries < 0 || c.Retries > 20 {
		ps.Addf(prefix+"/retries", "must be in 0..20, got %d", c.Retries)
	}
	if c.BackoffBase <= 0 {
		ps.Addf(prefix+"/backoff_base", "must be > 0, got %s", c.BackoffBase)
	}
	if c.BackoffMax < c.BackoffBase {
		ps.Addf(prefix+"/backoff_max", "must be >= backoff_base (%s), got %s", c.BackoffBase, c.BackoffMax)
	}
	if c.MaxBodyBytes <= 0 || c.MaxBodyBytes > MaxBodyBytesLimit {
		ps.Addf(prefix+"/max_body_bytes", "must be in 1..%d (64 MiB), got %d", MaxBodyBytesLimit, c.MaxBodyBytes)
	}
	if c.MaxPixels <= 0 {
		ps.Addf(prefix+"/max_pixels", "must be > 0, got %d", c.MaxPixels)
	}
	lineMax := c.MaxLineBytes
	if lineMax < 1024 || lineMax > MaxLineBytesLimit {
		ps.Addf(prefix+"/max_line_bytes", "must be in 1024..%d (64 MiB), got %d", MaxLineBytesLimit, c.MaxLineBytes)
		lineMax = MaxLineBytesLimit // the field's own bound, one problem at a time
	}
	if c.MaxFieldBytes < 64 || c.MaxFieldBytes > lineMax {
		ps.Addf(prefix+"/max_field_bytes", "must be in 64..max_line_bytes (%d), got %d", lineMax, c.MaxFieldBytes)
	}
	if c.RetryFailedAfter < 0 {
		ps.Addf(prefix+"/retry_failed_after", "must be >= 0, got %s", c.RetryFailedAfter)
	}
	for i, r := range c.URLRewrite {
		if _, err := regexp.Compile(r.Pattern); err != nil || r.Pattern == "" {
			ps.Addf(prefix+"/url_rewrite/"+stages.Index(i)+"/pattern", "must be a non-empty Go regular expression: %v", err)
		}
	}
}

// Identity is what of the section decides which posters are accepted, and
// so the stage's fingerprint (stages.ConfigIdentifier). How they are fetched
// (parallelism, delays, timeouts, retries, rewrites to a mirror, where the
// CSV is read from — its content is identified separately) does not change
// the result, so changing it reruns nothing.
func (c Config) Identity() any {
	return struct {
		CSVSHA256        string
		MaxBodyBytes     int64
		MaxPixels        int64
		RetryFailedAfter string
		FallbackIMDbPage bool
		MaxLineBytes     int
		MaxFieldBytes    int
	}{c.CSVSHA256, c.MaxBodyBytes, c.MaxPixels, c.RetryFailedAfter.String(), c.FallbackIMDbPage, c.MaxLineBytes, c.MaxFieldBytes}
}

var _ stages.ConfigIdentifier = Config{}
