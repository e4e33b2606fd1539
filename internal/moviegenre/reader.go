package moviegenre

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Default bounds: the real file's longest line is under 400 bytes, so these
// only ever stop hostile or broken input.
const (
	DefaultMaxLineBytes  = 1 << 20
	DefaultMaxFieldBytes = 64 << 10
)

// Limits bound what the reader holds for one row. A zero field means its
// default. Scrape records the limits it read with beside its ledger, so that
// clean reads the same rows.
type Limits struct {
	// MaxLineBytes bounds one row as read from the file: its physical line,
	// or its lines when a quoted field runs over several (line ends included).
	MaxLineBytes int `json:"max_line_bytes"`
	// MaxFieldBytes bounds one field, decoded to UTF-8.
	MaxFieldBytes int `json:"max_field_bytes"`
}

// DefaultLimits are the generous defaults.
func DefaultLimits() Limits {
	return Limits{MaxLineBytes: DefaultMaxLineBytes, MaxFieldBytes: DefaultMaxFieldBytes}
}

func (l Limits) withDefaults() Limits {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultMaxLineBytes
	}
	if l.MaxFieldBytes <= 0 {
		l.MaxFieldBytes = DefaultMaxFieldBytes
	}
	return l
}

// Options configure ForEach.
type Options struct {
	// Name names the input in errors (a file name); "" reads "CSV".
	Name string
	Limits
}

// Why a row is malformed; Row.Err wraps exactly one of them.
var (
	ErrFieldCount   = errors.New("wrong number of fields")
	ErrQuote        = errors.New("broken quote")
	ErrLineTooLong  = errors.New("row too long")
	ErrFieldTooLong = errors.New("field too long")
)

// Row is one data row: its physical line and either its fields (len(Columns)
// of them) or Err. A row with the wrong number of fields keeps the first few
// it had (at most len(Columns)), so a consumer can still name its id.
type Row struct {
	Line   int64
	Fields []string
	Err    error
}

// ForEach reads a MovieGenre CSV from r and calls fn with every data row in
// file order; see the package comment for the format, the encoding, line
// numbers and bounds. A malformed row never stops it. It returns an error
// for a missing or different header (naming opts.Name and the header it
// wants), a read error, or fn's first error, which it returns as is.
func ForEach(r io.Reader, opts Options, fn func(Row) error) error {
	name := opts.Name
	if name == "" {
		name = "CSV"
	}
	p := &parser{lim: opts.Limits.withDefaults()}
	p.lines = newLineReader(r, p.lim.MaxLineBytes)
	head, ok, err := p.next(headerKeep)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	case !ok:
		return fmt.Errorf("%s: empty file: no header line (want %s)", name, strings.Join(Columns, ","))
	case head.Err != nil && !errors.Is(head.Err, ErrFieldCount):
		return fmt.Errorf("%s: header (line %d): %w (want %s)", name, head.Line, head.Err, strings.Join(Columns, ","))
	case head.Err != nil || !equal(head.Fields, Columns):
		return fmt.Errorf("%s: header (line %d) is %s, want %s", name, head.Line, headerFields(head), strings.Join(Columns, ","))
	}
	for {
		row, ok, err := p.next(len(Columns))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !ok {
			return nil
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// excerptMax bounds text quoted in messages, in bytes.
const excerptMax = 64

// Excerpt quotes s for a message, cut to a few dozen characters (with how
// long it really was), so that a hostile field never fills a log or report.
func Excerpt(s string) string {
	if len(s) <= excerptMax {
		return strconv.Quote(s)
	}
	cut := excerptMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
}

// headerKeep is how many header fields a header error quotes: the expected
// columns and a few extra ones, so a header with an added column shows it.
const headerKeep = 12

// headerFields quotes a header's fields for an error, saying how many there
// were when more than headerKeep.
func headerFields(head Row) string {
	q := excerptFields(head.Fields)
	var re *rowError
	if errors.As(head.Err, &re) && errors.Is(head.Err, ErrFieldCount) && len(head.Fields) == headerKeep {
		q += " (" + re.detail + " fields)"
	}
	return q
}

func excerptFields(fs []string) string {
	q := make([]string, len(fs))
	for i, f := range fs {
		q[i] = Excerpt(f)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// physLine is one physical line, decoded, without its line end.
type physLine struct {
	num  int64
	text string
	size int  // bytes as read, line end included
	long bool // longer than the limit: text is only its first few bytes
}

// lineReader yields physical lines, each held to at most max bytes, with
// lines pushed back by the parser served first.
type lineReader struct {
	br      *bufio.Reader
	max     int
	num     int64
	utf8    bool // the file started with a UTF-8 BOM
	started bool
	pending []physLine
	buf     []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

func (lr *lineReader) pushBack(ls []physLine) {
	lr.pending = append(append([]physLine(nil), ls...), lr.pending...)
}

// next returns the next physical line, or io.EOF.
func (lr *lineReader) next() (physLine, error) {
	if len(lr.pending) > 0 {
		l := lr.pending[0]
		lr.pending = lr.pending[1:]
		return l, nil
	}
	if !lr.started {
		lr.started = true
		if b, _ := lr.br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
			lr.utf8 = true
			lr.br.Discard(3)
		}
	}
	lr.buf = lr.buf[:0]
	size, long := 0, false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		size += len(chunk)
		// Keep only what fits: a 20 MB line costs its first max bytes.
		if room := lr.max + 1 - len(lr.buf); room > 0 {
			lr.buf = append(lr.buf, chunk[:min(room, len(chunk))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return physLine{}, fmt.Errorf("line %d: %w", lr.num+1, err)
		}
		if size == 0 {
			return physLine{}, io.EOF
		}
		break
	}
	lr.num++
	b := lr.buf
	if size > lr.max {
		long = true
		b = b[:min(len(b), 4*excerptMax)] // only ever quoted in a message
	} else {
		b = bytes.TrimSuffix(b, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
	}
	return physLine{num: lr.num, text: lr.decode(b), size: size, long: long}, nil
}

func (lr *lineReader) decode(b []byte) string {
	if lr.utf8 {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return Latin1ToUTF8(b)
}

// Latin1ToUTF8 decodes ISO-8859-1: every byte is the code point of the same
// value, so the decoding never fails.
func Latin1ToUTF8(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// parser splits physical lines into rows.
type parser struct {
	lines *lineReader
	lim   Limits
}

// rowError is a malformed row's error: one of the sentinels with its detail.
type rowError struct {
	kind   error
	detail string
}

func (e *rowError) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *rowError) Unwrap() error { return e.kind }

func rowErr(kind error, format string, args ...any) error {
	return &rowError{kind, fmt.Sprintf(format, args...)}
}

// next reads one row; ok is false at the end of the input.
func (p *parser) next(keep int) (row Row, ok bool, err error) {
	var first physLine
	for {
		first, err = p.lines.next()
		if err == io.EOF {
			return Row{}, false, nil
		}
		if err != nil {
			return Row{}, false, err
		}
		if first.text != "" || first.long {
			break // blank lines are skipped, as encoding/csv does
		}
	}
	row.Line = first.num
	if first.long {
		row.Err = rowErr(ErrLineTooLong, "line is longer than %d bytes (max_line_bytes); it starts %s", p.lim.MaxLineBytes, Excerpt(first.text))
		return row, true, nil
	}
	rec := record{p: p, lines: []physLine{first}, size: first.size, keep: keep}
	fields, n, perr := rec.parse()
	var re *rowError
	if perr != nil && !errors.As(perr, &re) {
		return Row{}, false, perr // a read error, not a malformed row
	}
	if len(rec.lines) > 1 && (perr != nil || n != len(Columns)) {
		// A quoted field ran over several lines and did not end as a row:
		// most likely a stray quote. Report it where it started and read the
		// lines after that one again.
		p.lines.pushBack(rec.lines[1:])
		last := rec.lines[len(rec.lines)-1].num
		switch {
		case perr == nil:
			row.Err = rowErr(ErrQuote, "a quoted field runs from line %d to line %d, leaving %d fields", first.num, last, n)
		case re.kind == ErrQuote:
			row.Err = rowErr(ErrQuote, "the quoted field opened on line %d does not close properly (%s)", first.num, re.detail)
		default:
			row.Err = perr
		}
		return row, true, nil
	}
	switch {
	case perr != nil:
		row.Err = perr
		row.Fields = fields
	case n != len(Columns):
		row.Err = rowErr(ErrFieldCount, "got %d, want %d", n, len(Columns))
		row.Fields = fields
	default:
		if rec.fieldErr != nil {
			row.Err = rec.fieldErr
			break
		}
		row.Fields = fields
	}
	return row, true, nil
}

// record parses the fields of one row from its first physical line on,
// pulling more lines while a quoted field is open.
type record struct {
	p        *parser
	lines    []physLine // every physical line the row used
	size     int
	keep     int   // fields kept; the rest are only counted
	fieldErr error // the first field over MaxFieldBytes
}

// parse returns the kept fields, how many fields there were, and a quote or
// length error.
func (r *record) parse() ([]string, int, error) {
	text := r.lines[0].text
	var fields []string
	n := 0
	add := func(f string, size int) {
		if size > r.p.lim.MaxFieldBytes && r.fieldErr == nil {
			r.fieldErr = rowErr(ErrFieldTooLong, "field %d is %d bytes, more than %d (max_field_bytes); it starts %s", n+1, size, r.p.lim.MaxFieldBytes, Excerpt(f))
		}
		if n < r.keep {
			fields = append(fields, f)
		}
		n++
	}
	i := 0
	for {
		if i < len(text) && text[i] == '"' {
			f, size, rest, next, err := r.quoted(text[i+1:])
			if err != nil {
				return fields, n, err
			}
			add(f, size)
			text, i = rest, next
			if i < 0 {
				return fields, n, nil
			}
			continue
		}
		end := strings.IndexByte(text[i:], ',')
		f := text[i:]
		if end >= 0 {
			f = text[i : i+end]
		}
		if q := strings.IndexByte(f, '"'); q >= 0 {
			return fields, n, rowErr(ErrQuote, "column %d: bare \" in a field that is not quoted", i+q+1)
		}
		add(f, len(f))
		if end < 0 {
			return fields, n, nil
		}
		i += end + 1
	}
}

// quoted reads a quoted field from s (just after its opening quote), pulling
// lines as needed. It returns the field (only its start when it is longer
// than MaxFieldBytes), its true size, the text of the line it ended on, and
// where the next field starts there (-1: the row ended).
func (r *record) quoted(s string) (field string, size int, text string, next int, err error) {
	var sb strings.Builder
	max := r.p.lim.MaxFieldBytes
	flen := 0
	write := func(t string) { // keeps at most max+1 bytes: enough to know it is too long
		flen += len(t)
		if room := max + 1 - sb.Len(); room > 0 {
			sb.WriteString(t[:min(room, len(t))])
		}
	}
	text = s
	i := 0
	for {
		j := strings.IndexByte(text[i:], '"')
		if j < 0 { // the field goes on past the end of this line
			write(text[i:])
			write("\n")
			l, err := r.p.lines.next()
			if err == io.EOF {
				return "", 0, "", 0, rowErr(ErrQuote, "a quoted field is not closed at the end of the file")
			}
			if err != nil {
				return "", 0, "", 0, err
			}
			r.lines = append(r.lines, l)
			r.size += l.size
			if l.long || r.size > r.p.lim.MaxLineBytes {
				return "", 0, "", 0, rowErr(ErrLineTooLong, "the row starting on line %d is longer than %d bytes (max_line_bytes) by line %d", r.lines[0].num, r.p.lim.MaxLineBytes, l.num)
			}
			text, i = l.text, 0
			continue
		}
		write(text[i : i+j])
		i += j + 1
		switch {
		case i < len(text) && text[i] == '"': // "" is one quote
			write(`"`)
			i++
			continue
		case i == len(text):
			next = -1
		case text[i] == ',':
			next = i + 1
		default:
			return "", 0, "", 0, rowErr(ErrQuote, "line %d, column %d: extraneous or missing \" in a quoted field", r.lines[len(r.lines)-1].num, i+1)
		}
		return sb.String(), flen, text, next, nil
	}
}
