package scrape

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/internal/moviegenre"
)

// maxCSVBytes caps a CSV fetched over HTTP (the real one is 9 MB).
const maxCSVBytes = 1 << 30

// LoadCSV reads cfg.CSV — an absolute file path or an http(s) URL — and, when
// cfg.CSVSHA256 is set, checks the bytes against it.
func LoadCSV(ctx context.Context, cfg Config) ([]byte, error) {
	var data []byte
	var err error
	if strings.HasPrefix(cfg.CSV, "http://") || strings.HasPrefix(cfg.CSV, "https://") {
		data, err = fetchCSV(ctx, cfg.CSV)
	} else {
		data, err = os.ReadFile(cfg.CSV)
	}
	if err != nil {
		return nil, fmt.Errorf("scrape: read csv: %w", err)
	}
	if cfg.CSVSHA256 != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != cfg.CSVSHA256 {
			return nil, fmt.Errorf("scrape: csv %s: sha256 mismatch: want %s, got %s", cfg.CSV, cfg.CSVSHA256, got)
		}
	}
	return data, nil
}

func fetchCSV(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCSVBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(data) > maxCSVBytes {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", u, maxCSVBytes)
	}
	return data, nil
}

// csvRow is one data row of the CSV, or a line that could not be read as one
// (Err set).
type csvRow struct {
	Line     int64 // physical line where the row starts; the header is line 1
	ID       int64
	ImdbLink string
	Poster   string
	Err      error // why the row is malformed; nil for a good row
}

// parseCSV reads the data rows of a MovieGenre CSV in file order with the
// one MovieGenre reader, so clean later reads the same rows with the same
// line numbers. A bad row never stops it: it becomes a row with Err set.
// Only a missing or different header is an error.
func parseCSV(data []byte, cfg Config) ([]csvRow, error) {
	var rows []csvRow
	opts := moviegenre.Options{Name: cfg.CSV, Limits: limitsOf(cfg).CSV}
	err := moviegenre.ForEach(bytes.NewReader(data), opts, func(r moviegenre.Row) error {
		rows = append(rows, makeRow(r))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	return rows, nil
}

func makeRow(r moviegenre.Row) csvRow {
	row := csvRow{Line: r.Line, Err: r.Err}
	if r.Err != nil {
		return row
	}
	id, err := strconv.ParseInt(strings.TrimSpace(r.Fields[moviegenre.ColID]), 10, 64)
	if err != nil || id <= 0 {
		row.Err = fmt.Errorf("imdbId %s is not a positive integer", moviegenre.Excerpt(r.Fields[moviegenre.ColID]))
		return row
	}
	row.ID = id
	row.ImdbLink = strings.TrimSpace(r.Fields[moviegenre.ColLink])
	row.Poster = strings.TrimSpace(r.Fields[moviegenre.ColPoster])
	return row
}
