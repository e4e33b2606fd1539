package scrape

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Header is the MovieGenre CSV header the stage expects, column for column.
var Header = []string{"imdbId", "Imdb Link", "Title", "IMDB Score", "Genre", "Poster"}

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

// latin1ToUTF8 decodes ISO-8859-1: every byte is the code point of the same
// value, so the decoding never fails.
func latin1ToUTF8(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/16)
	for _, c := range b {
		if c < 0x80 {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// parseCSV decodes a MovieGenre CSV (ISO-8859-1, CRLF or LF) into its data
// rows in file order. A bad line never stops it: it becomes a row with Err
// set and its line number. Only a missing or different header is an error.
func parseCSV(data []byte) ([]csvRow, error) {
	text := latin1ToUTF8(data)
	var rows []csvRow
	header := true
	var headerErr error
	err := readRecords(text, func(line int, rec []string, err error) bool {
		if header {
			header = false
			if err != nil {
				headerErr = fmt.Errorf("scrape: csv header (line %d): %w", line, err)
				return false
			}
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\u00ef\u00bb\u00bf") // a UTF-8 BOM read as Latin-1
			}
			if !slices.Equal(rec, Header) {
				headerErr = fmt.Errorf("scrape: csv header (line %d) is %q, want %q", line, rec, Header)
				return false
			}
			return true
		}
		rows = append(rows, makeRow(int64(line), rec, err))
		return true
	})
	if err != nil {
		return nil, err
	}
	if headerErr != nil {
		return nil, headerErr
	}
	if header {
		return nil, errors.New("scrape: csv is empty: no header")
	}
	return rows, nil
}

func makeRow(line int64, rec []string, err error) csvRow {
	r := csvRow{Line: line}
	switch {
	case err != nil:
		r.Err = err
	case len(rec) != len(Header):
		r.Err = fmt.Errorf("wrong number of fields: got %d, want %d", len(rec), len(Header))
	default:
		id, perr := strconv.ParseInt(strings.TrimSpace(rec[0]), 10, 64)
		if perr != nil || id <= 0 {
			r.Err = fmt.Errorf("imdbId %q is not a positive integer", rec[0])
			break
		}
		r.ID = id
		r.ImdbLink = strings.TrimSpace(rec[1])
		r.Poster = strings.TrimSpace(rec[5])
	}
	return r
}

// readRecords calls emit for every record of text with the physical line it
// starts on, or with the parse error of a line that is not a record. It uses
// encoding/csv (quotes strict, any field count). A quoted field that runs
// over several lines and then breaks (a stray quote swallowing the lines
// after it) is reported against its first line, and reading starts again on
// the next line, so one broken quote costs one row, not the rest of the file.
// emit returns false to stop.
func readRecords(text string, emit func(line int, rec []string, err error) bool) error {
	starts := []int{0} // byte offset of each physical line; starts[i] is line i+1
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' && i+1 < len(text) {
			starts = append(starts, i+1)
		}
	}
	base := 0 // lines before the current reader's input
	for base < len(starts) {
		r := csv.NewReader(strings.NewReader(text[starts[base]:]))
		r.FieldsPerRecord = -1
		restart := -1
		for restart < 0 {
			rec, err := r.Read()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				var pe *csv.ParseError
				if !errors.As(err, &pe) {
					return fmt.Errorf("scrape: read csv: %w", err)
				}
				start := base + pe.StartLine
				if pe.Line > pe.StartLine {
					err = fmt.Errorf("broken quote: the quoted field opened on line %d does not close properly (line %d, column %d: %v)",
						start, base+pe.Line, pe.Column, pe.Err)
					restart = start
				} else {
					err = fmt.Errorf("column %d: %v", pe.Column, pe.Err)
				}
				if !emit(start, nil, err) {
					return nil
				}
				continue
			}
			first, _ := r.FieldPos(0)
			last, _ := r.FieldPos(len(rec) - 1)
			start := base + first
			if last > first && len(rec) != len(Header) {
				err = fmt.Errorf("broken quote: a quoted field runs from line %d to line %d, leaving %d fields", start, base+last, len(rec))
				restart = start
				rec = nil
			}
			if !emit(start, rec, err) {
				return nil
			}
		}
		base = restart // restart is 1-based: the line after the broken one
	}
	return nil
}
