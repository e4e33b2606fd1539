package scrape

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/regular"
)

// csvRow is one data row of the CSV, or a line that could not be read as one
// (Err set).
type csvRow struct {
	Line     int64 // physical line where the row starts; the header is line 1
	ID       int64
	ImdbLink string
	Poster   string
	Err      error // why the row is malformed; nil for a good row
}

// parseCSV reads the data rows of the MovieGenre CSV at path in file order
// with the one MovieGenre reader, streaming, so clean later reads the same
// rows with the same line numbers. A bad row never stops it: it becomes a
// row with Err set. Only a missing or different header is an error. With
// check set, the bytes read must hash to check.sha256 (a local CSV read
// again after InputIdentity hashed it).
func parseCSV(ctx context.Context, path string, cfg Config, check *csvSource) ([]csvRow, error) {
	f, err := regular.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	var r io.Reader = bufio.NewReaderSize(regular.Reader(ctx, f), 1<<16)
	if check != nil {
		r = io.TeeReader(r, h)
	}
	var rows []csvRow
	opts := moviegenre.Options{Name: cfg.CSV, Limits: limitsOf(cfg).CSV}
	err = moviegenre.ForEach(r, opts, func(r moviegenre.Row) error {
		rows = append(rows, makeRow(r))
		return nil
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("scrape: %w", err)
	}
	if check != nil {
		if _, err := io.Copy(h, r); err != nil { // what the reader left unread
			return nil, fmt.Errorf("scrape: %w", err)
		}
		if err := checkSum(h, check); err != nil {
			return nil, fmt.Errorf("scrape: %w", err)
		}
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
