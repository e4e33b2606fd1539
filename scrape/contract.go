package scrape

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/postergenre/postergenre/internal/parquetio"
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
	data, err := readCSV(ctx, s.Cfg)
	if err != nil {
		return "", err
	}
	s.csv.put(data)
	sum := sha256.Sum256(data)
	return "csv=" + hex.EncodeToString(sum[:]), nil
}

// OutputIdentity identifies an output by what downstream stages read: the
// CSV bytes and, per row, which poster (by sha256) the store holds. A rerun
// that fetched nothing new keeps the same identity, so nothing downstream
// reruns.
func (s *Stage) OutputIdentity(dir string) (string, error) {
	h := sha256.New()
	csv, err := os.Open(filepath.Join(dir, CSVFile))
	if err != nil {
		return "", fmt.Errorf("scrape: output identity: %w", err)
	}
	defer csv.Close()
	if _, err := io.Copy(h, csv); err != nil {
		return "", fmt.Errorf("scrape: output identity: %w", err)
	}
	err = forEachLedgerRow(filepath.Join(dir, LedgerFile), func(row LedgerRow) {
		fmt.Fprintf(h, "%d %d %s %s\n", row.Line, row.ImdbID, row.SHA256, row.Path)
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
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
// retry (its summary's next_retry_at has passed).
func (s *Stage) RetriesDue(dir string, now time.Time) (bool, error) {
	path := filepath.Join(dir, SummaryFile)
	b, err := os.ReadFile(path)
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
