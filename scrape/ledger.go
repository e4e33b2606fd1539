package scrape

// Outcome of one CSV row.
const (
	OutcomeDownloaded = "downloaded"      // fetched and stored on this run
	OutcomePresent    = "already_present" // the store already held it for the same link
	OutcomeFailed     = "failed"          // every attempt failed; Reason says why
	OutcomeSkipped    = "skipped"         // not fetched: no link, duplicate row, malformed row
)

// LedgerRow is one line of the ledger (ledger.parquet in the stage's output
// folder): exactly one per data row of the CSV, in CSV order.
type LedgerRow struct {
	Line     int64  `parquet:"line"`     // 1-based physical line of the row in the CSV (header is line 1)
	ImdbID   int64  `parquet:"imdb_id"`  // 0 when the row's id did not parse
	Outcome  string `parquet:"outcome"`  // one of the Outcome constants
	Reason   string `parquet:"reason"`   // e.g. http_404, timeout, not_image, too_large, truncated, too_many_pixels, no_link, duplicate_row, malformed_row
	Source   string `parquet:"source"`   // poster, imdb_page, store (already present), "" when none
	URL      string `parquet:"url"`      // the URL finally fetched (after rewrites), if any
	Attempts int32  `parquet:"attempts"` // HTTP attempts made on this run
	Error    string `parquet:"error"`    // last error, human-readable
	SHA256   string `parquet:"sha256"`   // of the stored poster, when one is stored
	Path     string `parquet:"path"`     // poster file relative to the store, when one is stored
}

// Files the stage writes into its output folder.
const (
	LedgerFile  = "ledger.parquet" // []LedgerRow
	CSVFile     = "movies.csv"     // the exact input bytes, so later stages read what scrape read
	SummaryFile = "summary.json"
)
