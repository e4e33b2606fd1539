// Package moviegenre is the one home of the MovieGenre CSV format (Kaggle's
// MovieGenre.csv): its columns, its encoding, the reader every stage uses
// (ForEach) and the writer of fixtures and demo data (Writer).
//
// # Format
//
// The header is exactly Columns. Fields follow RFC 4180 as encoding/csv
// reads it with strict quotes: a field is quoted or contains no quote, "" is
// a quote inside a quoted field, a quoted field may run over several lines.
// Lines end in CRLF or LF; blank lines between rows are skipped.
//
// # Encoding
//
// The real file is ISO-8859-1: every byte is the code point of the same
// value, so decoding never fails. A file that starts with a UTF-8 byte-order
// mark (EF BB BF) is UTF-8 instead: the mark is dropped and the rest is read
// as UTF-8, any invalid sequence becoming U+FFFD. Nothing else is guessed.
//
// # Rows and their line numbers
//
// Every data row comes out once, with the 1-based physical line it starts on
// (the header is line 1 when the file starts with it), either with its
// fields or with why it is malformed (Row.Err). A quoted field that runs
// over several lines and then breaks — a stray quote swallowing the lines
// after it — costs one row: the row is reported on the line where it
// started and reading starts again on the next line. So every consumer sees
// the same rows with the same line numbers and records one outcome for each.
//
// # Bounds
//
// Memory is bounded by Limits, whatever the input: a row (its physical
// lines, quoted line breaks included) longer than MaxLineBytes, or a field
// longer than MaxFieldBytes, is a malformed row with its line number and
// reason; the reader keeps only the start of such a line. Text quoted in
// messages is cut to a few dozen characters (Excerpt).
package moviegenre

// Names of the MovieGenre CSV's columns, as its header spells them (and as
// clean's required_fields and its empty_<column> reasons name them).
const (
	ColumnID     = "imdbId"
	ColumnLink   = "Imdb Link"
	ColumnTitle  = "Title"
	ColumnScore  = "IMDB Score"
	ColumnGenre  = "Genre"
	ColumnPoster = "Poster"
)

// Columns of the MovieGenre CSV, in file order.
var Columns = []string{ColumnID, ColumnLink, ColumnTitle, ColumnScore, ColumnGenre, ColumnPoster}

// Indexes of the columns in Columns (and in Row.Fields).
const (
	ColID = iota
	ColLink
	ColTitle
	ColScore
	ColGenre
	ColPoster
)
