package moviegenre

import (
	"encoding/csv"
	"fmt"
	"io"
)

// Writer writes a MovieGenre CSV as the real file is: ISO-8859-1, CRLF,
// the header first. It is for fixtures and demo data.
type Writer struct {
	w  io.Writer
	cw *csv.Writer
}

// NewWriter writes the header to w and returns a Writer for the rows.
func NewWriter(w io.Writer) (*Writer, error) {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	mw := &Writer{w: w, cw: cw}
	if err := mw.Write(Columns); err != nil {
		return nil, err
	}
	return mw, nil
}

// Write writes one row of len(Columns) fields (UTF-8), quoting as needed.
func (w *Writer) Write(fields []string) error {
	if len(fields) != len(Columns) {
		return fmt.Errorf("moviegenre: write: %d fields, want %d", len(fields), len(Columns))
	}
	enc := make([]string, len(fields))
	for i, f := range fields {
		b, err := EncodeLatin1(f)
		if err != nil {
			return fmt.Errorf("moviegenre: write field %s: %w", Columns[i], err)
		}
		enc[i] = string(b) // csv.Writer copies bytes; it never decodes them
	}
	return w.cw.Write(enc)
}

// WriteRaw writes line (UTF-8, without its line end) as it is, then CRLF:
// for malformed rows in fixtures.
func (w *Writer) WriteRaw(line string) error {
	b, err := EncodeLatin1(line)
	if err != nil {
		return fmt.Errorf("moviegenre: write raw line: %w", err)
	}
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return err
	}
	_, err = w.w.Write(append(b, '\r', '\n'))
	return err
}

// Flush writes any buffered rows to the underlying writer.
func (w *Writer) Flush() error {
	w.cw.Flush()
	return w.cw.Error()
}

// EncodeLatin1 encodes UTF-8 text as ISO-8859-1; a character above U+00FF
// has no ISO-8859-1 byte and is an error.
func EncodeLatin1(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if r > 0xFF { // an invalid UTF-8 byte reads as U+FFFD: refused too

			return nil, fmt.Errorf("%s: character %q at byte %d is not in ISO-8859-1", Excerpt(s), r, i)
		}
		out = append(out, byte(r))
	}
	return out, nil
}
