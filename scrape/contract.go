package scrape

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/stages"
)

// What the scrape stage tells the pipeline beyond stages.Stage.
var (
	_ stages.InputIdentifier  = (*Stage)(nil)
	_ stages.OutputIdentifier = (*Stage)(nil)
	_ stages.RetryDuer        = (*Stage)(nil)
	_ stages.RowAccounter     = (*Stage)(nil)
)

// InputIdentity is the sha256 of the CSV: the stage's input from outside
// the pipeline ("csv=<hex>"). It reads the CSV (a URL with the scrape
// timeout and retries) and keeps the bytes for Run, which then scrapes
// and stores exactly what was hashed, without reading it again.
func (s *Stage) InputIdentity(ctx context.Context) (string, error) {
	src, err := openCSV(ctx, s.Cfg)
	if err != nil {
		return "", err
	}
	s.csv.put(src)
	return "csv=" + src.sha256, nil
}

// OutputIdentity identifies an output by what downstream stages read: the
// CSV bytes and, per row, the sha256 of the poster bytes the store holds
// now — not the sha256 the ledger recorded, so a poster deleted or
// overwritten after the scrape changes the identity. A rerun that fetched
// nothing new keeps the same identity, so nothing downstream reruns.
func (s *Stage) OutputIdentity(dir string) (string, error) {
	id, _, err := storeDigest(dir)
	return id, err
}

// storeDigest hashes the output in dir with the store's current poster
// bytes, and counts the rows whose poster no longer matches the ledger
// (missing or other bytes).
func storeDigest(dir string) (id string, changed int, err error) {
	store, err := posterStoreOf(dir)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if err := hashStoredCSV(h, dir); err != nil {
		return "", 0, fmt.Errorf("scrape: output identity: %w", err)
	}
	err = forEachLedgerRow(filepath.Join(dir, LedgerFile), func(row LedgerRow) {
		sum := row.SHA256
		if row.Path != "" {
			sum = fileSHA256(filepath.Join(store, filepath.FromSlash(row.Path)))
			if sum != row.SHA256 {
				changed++
			}
		}
		fmt.Fprintf(h, "%d %d %s %s\n", row.Line, row.ImdbID, sum, row.Path)
	})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], changed, nil
}

// hashStoredCSV adds the output's CSV to h: the bytes of its copy, or the
// sha256 its reference recorded (the CSV it names is hashed again by
// InputIdentity on every plan, and a change reruns scrape).
func hashStoredCSV(h io.Writer, dir string) error {
	csv, err := regular.Open(filepath.Join(dir, CSVFile))
	if errors.Is(err, fs.ErrNotExist) {
		ref, rerr := readCSVRef(dir)
		if rerr != nil {
			return rerr
		}
		fmt.Fprintf(h, "csv-ref %s\n", ref.SHA256)
		return nil
	}
	if err != nil {
		return err
	}
	defer csv.Close()
	_, err = io.Copy(h, csv)
	return err
}

// posterStoreOf reads which poster store an output's ledger paths are in.
func posterStoreOf(dir string) (string, error) {
	path := filepath.Join(dir, SummaryFile)
	b, err := regular.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("scrape: %w", err)
	}
	var sum struct {
		PosterStore string `json:"poster_store"`
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.PosterStore == "" {
		return "", fmt.Errorf("scrape: %s: no poster_store (%v)", path, err)
	}
	return sum.PosterStore, nil
}

// fileSHA256 is the hex sha256 of a file, or "missing" when it cannot be
// read.
func fileSHA256(path string) string {
	f, err := regular.Open(path)
	if err != nil {
		return "missing"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// forEachLedgerRow reads a ledger in CSV order. A truncated ledger or one
// of another schema is an error naming it (parquetio), never a panic: this
// runs in the pipeline itself, outside any stage's recover.
func forEachLedgerRow(path string, fn func(LedgerRow)) error {
	err := parquetio.ForEach(path, 1024, func(rows []LedgerRow) error {
		for _, row := range rows {
			fn(row)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scrape: %w", err)
	}
	return nil
}

// RetriesDue reports whether the output in dir holds failures old enough to
// retry (its summary's next_retry_at has passed), or names posters the
// store no longer holds as scraped (deleted or overwritten): a rerun then
// fetches them again, and downstream stages see the change through
// OutputIdentity.
func (s *Stage) RetriesDue(dir string, now time.Time) (bool, error) {
	if _, changed, err := storeDigest(dir); err != nil || changed > 0 {
		return err == nil, err
	}
	path := filepath.Join(dir, SummaryFile)
	b, err := regular.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("scrape: %w", err)
	}
	var sum struct {
		NextRetryAt string `json:"next_retry_at"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return false, fmt.Errorf("scrape: %s: %w", path, err)
	}
	if sum.NextRetryAt == "" {
		return false, nil
	}
	t, err := time.Parse(time.RFC3339, sum.NextRetryAt)
	if err != nil {
		return false, fmt.Errorf("scrape: %s: next_retry_at: %w", path, err)
	}
	return !now.Before(t), nil
}

// RowCountKeys names the summary entries that count rows: one outcome per
// CSV row, and the reasons of the skipped and failed ones.
func (s *Stage) RowCountKeys() []string { return []string{"outcomes", "reasons"} }
