// Package scrape is the first pipeline stage: it reads a MovieGenre CSV,
// downloads every row's poster into the shared poster store with colly, and
// writes a ledger with exactly one outcome per CSV row.
//
// Rows flow through a go-streams pipeline (CSV rows → fetch and validate →
// store → ledger); every element carries its own result, so nothing is
// dropped and per-row problems never stop the run. The store keeps a state
// file (StateFile) so that a rerun fetches only what is missing, what failed
// long enough ago (retry_failed_after), and rows whose link changed.
//
// An empty Poster field is skipped as no_link when fallback_imdb_page is off;
// when it is on, the row's IMDb title page is tried instead, like for a
// poster link that failed. Rows repeating an earlier imdbId are skipped as
// duplicate_row; different ids sharing one link are each fetched into their
// own file. Progress goes to env.Progress as a bar, else to the logger.
package scrape

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/digestcache"
	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/stages"
)

// Stage is the scrape stage. Make one per run (InputIdentity keeps the
// CSV it read for that run's Run).
type Stage struct {
	Cfg Config
	// Verify reads every stored poster to identify the output, trusting
	// no digest the store's cache remembers (`run --verify`).
	Verify bool
	csv    csvInput

	// What identifying an output reads, kept for the Stage's life:
	// planning asks twice (RetriesDue, then OutputIdentity), and on a
	// cluster every cell's process plans. An output's ledger never changes
	// after its commit; the store's posters are checked on every call,
	// through its digest cache (stat first, read only what changed).
	digestMu sync.Mutex
	ledgers  map[string]*outputLedger
	stores   map[string]*digestcache.Cache
}

var _ stages.Stage = (*Stage)(nil)

// stageVersion is bumped when the outputs change for the same config and CSV.
const stageVersion = "1"

// stateFlushEvery bounds what an interruption can lose: posters stored after
// the last flush are fetched again on the next run.
const stateFlushEvery = 3 * time.Second

// Name implements stages.Stage.
func (s *Stage) Name() string { return stages.Scrape }

// Version implements stages.Stage.
func (s *Stage) Version() string { return stageVersion }

// PosterFile is the name of id's poster in the store.
func PosterFile(id int64) string { return strconv.FormatInt(id, 10) + ".jpg" }

// What the planner decided for a row before any network work.
type action int

const (
	actDone    action = iota // outcome already known (skipped, or failed recently)
	actPresent               // the store should hold it: verify the file
	actFetch                 // fetch it
)

// item is one CSV row on its way through the flow. Each step fills in its
// part; nothing is ever dropped.
type item struct {
	row    csvRow
	link   string // poster link after rewrites
	act    action
	cached stateEntry
	out    LedgerRow
	poster *fetched
	fail   *failure  // fetched now and failed
	failAt time.Time // when the recorded failure happened (for next_retry_at)
	intr   bool      // cut short by cancellation: no outcome
	fatal  error     // an I/O or invariant failure: the run fails
}

// runner is one Run's worth of state.
type runner struct {
	cfg   Config
	env   stages.Env
	log   *slog.Logger
	store string
	state *storeState
	f     *fetcher
	prog  *progress
}

// Run implements stages.Stage: read the CSV's rows, fetch what they need
// into the store, then write the ledger and the summary.
func (s *Stage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	start := time.Now()
	cfg := s.Cfg
	var ps stages.Problems
	cfg.Validate("/scrape", &ps)
	if err := ps.Err(); err != nil {
		return stages.Result{}, fmt.Errorf("scrape: config: %w", err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if env.PosterStore == "" || env.OutDir == "" {
		return stages.Result{}, errors.New("scrape: env needs OutDir and PosterStore")
	}
	rows, csvSHA, err := s.readRows(ctx, cfg, env)
	if err != nil {
		return stages.Result{}, err
	}
	r, err := newRunner(ctx, cfg, env, log)
	if err != nil {
		return stages.Result{}, err
	}
	items := r.plan(rows, time.Now())
	if err := r.fetchAll(ctx, items); err != nil {
		return stages.Result{}, err
	}
	summary, err := r.writeOutputs(items, csvSHA, time.Since(start))
	if err != nil {
		return stages.Result{}, err
	}
	log.Info("scrape done", "rows", summary["rows"], "outcomes", summary["outcomes"],
		"reasons", summary["reasons"], "requests", summary["requests"],
		"seconds", summary["seconds"], "next_retry_at", summary["next_retry_at"])
	return stages.Result{Summary: summary}, nil
}

// readRows stores the CSV that InputIdentity hashed for this run's
// fingerprint (or, Run called alone, reads it now) in the output and
// parses its rows, streaming. It returns the rows and the CSV's sha256.
func (s *Stage) readRows(ctx context.Context, cfg Config, env stages.Env) ([]csvRow, string, error) {
	src := s.csv.take()
	if src == nil {
		var err error
		if src, err = openCSV(ctx, cfg); err != nil {
			return nil, "", err
		}
	}
	defer src.remove()
	path, err := storeCSV(ctx, src, env)
	if err != nil {
		return nil, "", fmt.Errorf("scrape: %w", err)
	}
	var check *csvSource
	if path == src.path {
		check = src // read from the source again: it must not have changed
	}
	rows, err := parseCSV(ctx, path, cfg, check)
	if err != nil {
		return nil, "", err
	}
	if len(rows) == 0 {
		// Nothing to scrape, clean or train on: say so here, not at train.
		return nil, "", fmt.Errorf("scrape: %s: no data rows (only a header)", cfg.CSV)
	}
	return rows, src.sha256, nil
}

// newRunner prepares the poster store (stale temporaries removed, state
// loaded) and the fetcher.
func newRunner(ctx context.Context, cfg Config, env stages.Env, log *slog.Logger) (*runner, error) {
	if err := os.MkdirAll(env.PosterStore, 0o755); err != nil {
		return nil, fmt.Errorf("scrape: poster store: %w", err)
	}
	if n, err := removeStaleTemps(env.PosterStore); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("removed temporary files left by an interrupted run", "files", n, "store", env.PosterStore)
	}
	state, err := loadState(env.PosterStore)
	if err != nil {
		return nil, err
	}
	f, err := newFetcher(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &runner{cfg: cfg, env: env, log: log, store: env.PosterStore, state: state, f: f}, nil
}

// fetchAll streams the items through the fetch and store steps, then
// flushes the state; an interruption returns ctx's error.
func (r *runner) fetchAll(ctx context.Context, items []*item) error {
	r.prog = startProgress(len(items), r.env.Progress, r.log, r.cfg.ProgressEvery)
	runErr := r.stream(ctx, items)
	r.prog.finish()
	r.f.c.Wait() // every colly goroutine has ended (requests are cancelled with ctx)
	if err := r.state.flush(); err != nil {
		return errors.Join(runErr, err)
	}
	if runErr != nil {
		return runErr
	}
	return ctx.Err()
}

// writeOutputs writes the ledger, the limits and the summary.
func (r *runner) writeOutputs(items []*item, csvSHA string, took time.Duration) (map[string]any, error) {
	ledger := make([]LedgerRow, len(items))
	for i, it := range items {
		ledger[i] = it.out
	}
	if err := writeLedger(filepath.Join(r.env.OutDir, LedgerFile), ledger); err != nil {
		return nil, err
	}
	if err := WriteLimits(r.env.OutDir, limitsOf(r.cfg)); err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	summary := r.summary(items, csvSHA, took)
	js, err := json.MarshalIndent(summary, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("scrape: summary: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(r.env.OutDir, SummaryFile), append(js, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	return summary, nil
}

// plan decides, row by row and in CSV order, what each row needs.
func (r *runner) plan(rows []csvRow, now time.Time) []*item {
	items := make([]*item, len(rows))
	firstLine := map[int64]int64{}
	for i, row := range rows {
		it := &item{row: row, act: actDone}
		it.out = LedgerRow{Line: row.Line, ImdbID: row.ID}
		items[i] = it
		if row.Err != nil {
			it.out.ImdbID = 0
			it.skip(ReasonMalformedRow, fmt.Sprintf("line %d: %v", row.Line, row.Err))
			continue
		}
		if l, dup := firstLine[row.ID]; dup {
			it.skip(ReasonDuplicateRow, fmt.Sprintf("imdbId %d already on line %d", row.ID, l))
			continue
		}
		firstLine[row.ID] = row.Line
		if row.Poster != "" {
			it.link = r.f.rewrite(row.Poster)
		} else if !r.cfg.FallbackIMDbPage {
			it.skip(ReasonNoLink, "empty Poster field")
			continue
		}
		it.cached = r.state.get(row.ID)
		switch c := it.cached; {
		case c.Stored != nil && c.Stored.Link == it.link:
			it.act = actPresent
		case c.Failed != nil && c.Failed.Link == it.link && now.Sub(c.Failed.At) < r.cfg.RetryFailedAfter:
			it.failedFromState()
		default:
			it.act = actFetch
		}
	}
	return items
}

func (it *item) skip(reason, msg string) {
	it.out.Outcome, it.out.Reason, it.out.Error = OutcomeSkipped, reason, msg
}

// failedFromState records a recent failure again without retrying it.
func (it *item) failedFromState() {
	c := it.cached.Failed
	it.act = actDone
	it.failAt = c.At
	it.out.Outcome, it.out.Reason, it.out.URL = OutcomeFailed, c.Reason, c.URL
	it.out.Error = fmt.Sprintf("failed at %s, not retried yet: %s", c.At.UTC().Format(time.RFC3339), c.Error)
}

// stream runs the items through the flow and collects them. It returns the
// first fatal error; cancellation shows as ctx.Err() in Run.
func (r *runner) stream(ctx context.Context, items []*item) error {
	in := make(chan any)
	src := extension.NewChanSource(in)
	fetch := flow.NewMap(r.guard(r.fetchStep), 2*r.cfg.Parallelism) // sleepers in backoff don't hold a request slot
	store := flow.NewMap(r.guard(r.storeStep), r.cfg.Parallelism)
	out := src.Via(fetch).Via(store).Out()

	go func() { // ends when every item is sent or ctx is done; out then drains
		defer close(in)
		for _, it := range items {
			select {
			case in <- it:
			case <-ctx.Done():
				return
			}
		}
	}()

	var fatal error
	nextFlush := time.Now().Add(stateFlushEvery)
	for el := range out {
		it := el.(*item)
		if it.fatal != nil {
			fatal = cmp.Or(fatal, it.fatal)
			continue
		}
		r.record(it)
		if now := time.Now(); now.After(nextFlush) {
			if err := r.state.flush(); err != nil {
				fatal = cmp.Or(fatal, err)
			}
			// A big state takes a while to write: keep that under 5% of the time.
			nextFlush = time.Now().Add(max(stateFlushEvery, 20*time.Since(now)))
		}
	}
	return fatal
}

// guard keeps a panic inside one item: it becomes that item's fatal error.
func (r *runner) guard(step func(*item)) flow.MapFunction[*item, *item] {
	return func(it *item) *item {
		defer func() {
			if p := recover(); p != nil {
				it.fatal = fmt.Errorf("scrape: line %d (imdbId %d): panic: %v\n%s", it.row.Line, it.row.ID, p, debug.Stack())
			}
		}()
		if it.fatal == nil && !it.intr {
			step(it)
		}
		return it
	}
}

// fetchStep verifies a stored poster or fetches and validates a new one.
func (r *runner) fetchStep(it *item) {
	if it.act == actPresent {
		if r.verifyStored(it) {
			return
		}
		it.act = actFetch // the file is gone or changed: fetch again
	}
	if it.act != actFetch {
		return
	}
	res := r.f.fetchRow(it.row.ID, it.link, it.row.ImdbLink)
	it.out.Attempts = int32(res.attempts)
	it.out.URL = res.url
	switch {
	case res.poster != nil:
		it.poster = res.poster
	case res.fail.err == errInterrupted:
		it.intr = true
	default:
		it.fail = res.fail
		it.failAt = time.Now()
		it.out.Outcome, it.out.Reason, it.out.Error = OutcomeFailed, res.fail.reason, res.fail.err.Error()
	}
}

func (r *runner) verifyStored(it *item) bool {
	st := it.cached.Stored
	data, err := regular.ReadFile(filepath.Join(r.store, PosterFile(it.row.ID)))
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != st.SHA256 {
		return false
	}
	it.out.Outcome, it.out.Source, it.out.URL = OutcomePresent, SourceStore, st.URL
	it.out.SHA256, it.out.Path = st.SHA256, PosterFile(it.row.ID)
	return true
}

// storeStep writes a fetched poster into the store, atomically.
func (r *runner) storeStep(it *item) {
	if it.poster == nil {
		return
	}
	name := PosterFile(it.row.ID)
	// The folder is fsynced once per state flush, not once per poster (the
	// state names a poster only after that sync; see storeState.flush).
	if err := atomicfile.WriteFileNoDirSync(filepath.Join(r.store, name), it.poster.body, 0o644); err != nil {
		it.fatal = fmt.Errorf("scrape: store poster of imdbId %d: %w", it.row.ID, err)
		return
	}
	it.out.Outcome, it.out.Source, it.out.URL = OutcomeDownloaded, it.poster.source, it.poster.url
	it.out.SHA256, it.out.Path = it.poster.sha256, name
}

// record updates the state and the counters with a finished item.
func (r *runner) record(it *item) {
	if it.intr {
		return
	}
	defer r.prog.add() // after the counters: the bar completes on the last row
	switch {
	case it.poster != nil:
		r.prog.downloaded.Add(1)
		r.state.setStored(it.row.ID, storedPoster{
			Link: it.link, URL: it.poster.url, Source: it.poster.source,
			SHA256: it.poster.sha256, Size: int64(len(it.poster.body)), FetchedAt: time.Now().UTC(),
		})
		it.poster.body = nil // stored; let it go
	case it.fail != nil:
		r.prog.failed.Add(1)
		r.state.setFailed(it.row.ID, failedFetch{
			Link: it.link, URL: it.out.URL, Reason: it.fail.reason, Error: it.fail.err.Error(), At: it.failAt.UTC(),
		})
	case it.out.Outcome == OutcomeFailed:
		r.prog.failed.Add(1)
	}
}

func (r *runner) summary(items []*item, csvSHA string, took time.Duration) map[string]any {
	outcomes := map[string]int{OutcomeDownloaded: 0, OutcomePresent: 0, OutcomeFailed: 0, OutcomeSkipped: 0}
	reasons := map[string]int{}
	sources := map[string]int{}
	var next time.Time
	attempts := 0
	for _, it := range items {
		o := it.out
		outcomes[o.Outcome]++
		if o.Reason != "" {
			reasons[o.Reason]++
		}
		if o.Source != "" {
			sources[o.Source]++
		}
		attempts += int(o.Attempts)
		if o.Outcome == OutcomeFailed {
			if due := it.failAt.Add(r.cfg.RetryFailedAfter); next.IsZero() || due.Before(next) {
				next = due
			}
		}
	}
	nextAt := ""
	if !next.IsZero() {
		nextAt = next.UTC().Format(time.RFC3339)
	}
	secs := took.Seconds()
	return map[string]any{
		"rows":          len(items),
		"outcomes":      outcomes,
		"reasons":       reasons,
		"sources":       sources,
		"next_retry_at": nextAt,
		"requests":      r.f.requests.Load(),
		"attempts":      attempts,
		"seconds":       float64(int64(secs*1000)) / 1000,
		"downloaded_per_s": func() float64 {
			if secs <= 0 {
				return 0
			}
			return float64(int64(float64(outcomes[OutcomeDownloaded])/secs*10)) / 10
		}(),
		"csv_sha256":   csvSHA,
		"poster_store": relStore(r.env.OutDir, r.store),
		"state_file":   StateFile,
		"colly":        collySettings(r.f.c, r.cfg),
	}
}

// writeLedger writes the ledger as zstd Parquet, atomically.
func writeLedger(path string, rows []LedgerRow) error {
	if err := parquetio.WriteFile(path, rows, parquet.CreatedBy("postergenre scrape", stageVersion, "")); err != nil {
		return fmt.Errorf("scrape: write ledger: %w", err)
	}
	return nil
}
