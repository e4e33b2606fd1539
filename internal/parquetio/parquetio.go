// Package parquetio is the one place that reads and writes the pipeline's
// Parquet files (ledger, clean rows, encode shards, predictions).
//
// parquet-go panics on some malformed input (a truncated shard, a footer
// that lies about its offsets) instead of returning an error. Such a panic
// in a worker goroutine is out of reach of the pipeline's per-stage
// recover and would take the whole process down, so every call here
// recovers and returns an error naming the file. Reading also checks the
// file's schema against the row type first: parquet-go would otherwise
// fill the columns it cannot find with zero values and a file of the wrong
// kind would pass as rows full of zeros.
package parquetio

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
)

// recoverInto turns a parquet-go panic into *err, naming the file.
func recoverInto(path, what string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("parquet file %s: corrupt file (parquet-go panicked while %s: %v)", path, what, p)
	}
}

// CheckSchema reports whether the file schema has every leaf column of T's
// schema, with the same type and repetition. Extra columns are allowed:
// a reader only needs what it reads.
func CheckSchema[T any](path string, got *parquet.Schema) error {
	want := parquet.SchemaOf(new(T))
	var problems []string
	for _, col := range want.Columns() {
		wl, _ := want.Lookup(col...)
		gl, ok := got.Lookup(col...)
		name := strings.Join(col, ".")
		switch {
		case !ok:
			problems = append(problems, "no column "+name)
		case !sameLeaf(wl.Node, gl.Node):
			problems = append(problems, fmt.Sprintf("column %s is %s, want %s", name, leafString(gl.Node), leafString(wl.Node)))
		case wl.MaxRepetitionLevel != gl.MaxRepetitionLevel:
			problems = append(problems, fmt.Sprintf("column %s has repetition level %d, want %d", name, gl.MaxRepetitionLevel, wl.MaxRepetitionLevel))
		}
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return fmt.Errorf("parquet file %s: schema does not match %s: %s", path, want.Name(), strings.Join(problems, "; "))
	}
	return nil
}

func sameLeaf(a, b parquet.Node) bool {
	return a.Type().Kind() == b.Type().Kind() && a.Optional() == b.Optional() && a.Repeated() == b.Repeated() &&
		logical(a) == logical(b)
}

func logical(n parquet.Node) string {
	if lt := n.Type().LogicalType(); lt != nil {
		return lt.String()
	}
	return ""
}

func leafString(n parquet.Node) string {
	s := n.Type().Kind().String()
	if l := logical(n); l != "" {
		s += " (" + l + ")"
	}
	switch {
	case n.Optional():
		s = "optional " + s
	case n.Repeated():
		s = "repeated " + s
	}
	return s
}

// Reader reads rows of type T from one file.
type Reader[T any] struct {
	path string
	f    *os.File
	pf   *parquet.File
	r    *parquet.GenericReader[T]
	row  int64 // rows read so far
}

// Open opens path and checks its schema against T.
func Open[T any](path string) (rd *Reader[T], err error) {
	f, err := regular.Open(path)
	if err != nil {
		return nil, fmt.Errorf("parquet file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	defer recoverInto(path, "opening", &err)
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("parquet file: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("parquet file %s: %w", path, err)
	}
	if err := CheckSchema[T](path, pf.Schema()); err != nil {
		return nil, err
	}
	return &Reader[T]{path: path, f: f, pf: pf, r: parquet.NewGenericReader[T](pf)}, nil
}

// Path is the file's path.
func (r *Reader[T]) Path() string { return r.path }

// NumRows is the row count the file's footer declares.
func (r *Reader[T]) NumRows() int64 { return r.pf.NumRows() }

// Metadata returns the value of key in the file's key-value metadata.
func (r *Reader[T]) Metadata(key string) (string, bool) { return r.pf.Lookup(key) }

// Read reads the next rows into buf, like parquet.GenericReader.Read: it
// returns io.EOF (possibly with n > 0) at the end. Any other error names
// the file and the row.
func (r *Reader[T]) Read(buf []T) (n int, err error) {
	defer recoverInto(r.path, fmt.Sprintf("reading near row %d", r.row), &err)
	n, err = r.r.Read(buf)
	r.row += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("parquet file %s: row %d: %w", r.path, r.row, err)
	}
	return n, err
}

// Close releases the file.
func (r *Reader[T]) Close() (err error) {
	defer recoverInto(r.path, "closing", &err)
	rerr := r.r.Close()
	return errors.Join(rerr, r.f.Close())
}

// ForEach calls fn with consecutive batches of at most batch rows (fn may
// keep the rows: every batch is a fresh slice). An error from fn is
// returned as is.
func ForEach[T any](path string, batch int, fn func([]T) error) error {
	r, err := Open[T](path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		buf := make([]T, batch)
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := fn(buf[:n]); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && n == 0) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// ReadFile reads every row of path.
func ReadFile[T any](path string) ([]T, error) {
	var out []T
	err := ForEach(path, 4096, func(rows []T) error {
		out = append(out, rows...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Writer writes one Parquet file atomically: nothing appears at path until
// Commit, and Abort (or a failed Commit) leaves no file behind.
type Writer[T any] struct {
	path string
	f    *atomicfile.File
	sum  hash.Hash
	w    *parquet.GenericWriter[T]
}

// Create starts a file at path. Rows are zstd-compressed unless opts say
// otherwise (options given later win).
func Create[T any](path string, opts ...parquet.WriterOption) (w *Writer[T], err error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("parquet file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	defer recoverInto(path, "creating", &err)
	w = &Writer[T]{path: path, f: f, sum: sha256.New()}
	all := append([]parquet.WriterOption{parquet.Compression(&parquet.Zstd)}, opts...)
	w.w = parquet.NewGenericWriter[T](io.MultiWriter(f, w.sum), all...)
	return w, nil
}

// Write appends rows.
func (w *Writer[T]) Write(rows []T) (err error) {
	defer recoverInto(w.path, "writing", &err)
	if _, err := w.w.Write(rows); err != nil {
		return fmt.Errorf("parquet file %s: %w", w.path, err)
	}
	return nil
}

// Flush ends the current row group.
func (w *Writer[T]) Flush() (err error) {
	defer recoverInto(w.path, "flushing", &err)
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("parquet file %s: %w", w.path, err)
	}
	return nil
}

// Commit finishes the file, moves it into place and returns the SHA-256
// of its bytes.
func (w *Writer[T]) Commit() (sum string, err error) {
	defer func() {
		if err != nil {
			w.f.Abort()
		}
	}()
	defer recoverInto(w.path, "closing", &err)
	if err := w.w.Close(); err != nil {
		return "", fmt.Errorf("parquet file %s: %w", w.path, err)
	}
	if err := w.f.Commit(); err != nil {
		return "", fmt.Errorf("parquet file %s: %w", w.path, err)
	}
	return hex.EncodeToString(w.sum.Sum(nil)), nil
}

// Abort drops the file; it is a no-op after Commit.
func (w *Writer[T]) Abort() { w.f.Abort() }

// WriteFile writes rows to path atomically in one call.
func WriteFile[T any](path string, rows []T, opts ...parquet.WriterOption) error {
	w, err := Create[T](path, opts...)
	if err != nil {
		return err
	}
	if err := w.Write(rows); err != nil {
		w.Abort()
		return err
	}
	_, err = w.Commit()
	return err
}
