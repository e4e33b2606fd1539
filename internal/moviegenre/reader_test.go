package moviegenre_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/internal/moviegenre"
)

const header = "imdbId,Imdb Link,Title,IMDB Score,Genre,Poster"

// got is one row as a test compares it: its line, its fields (for a good
// row) or the sentinel its error wraps.
type got struct {
	line   int64
	fields []string
	err    error
}

func readAll(t testing.TB, in string, lim moviegenre.Limits) ([]got, error) {
	t.Helper()
	var out []got
	err := moviegenre.ForEach(strings.NewReader(in), moviegenre.Options{Name: "t.csv", Limits: lim}, func(r moviegenre.Row) error {
		g := got{line: r.Line}
		if r.Err != nil {
			for _, s := range []error{moviegenre.ErrFieldCount, moviegenre.ErrQuote, moviegenre.ErrLineTooLong, moviegenre.ErrFieldTooLong} {
				if errors.Is(r.Err, s) {
					g.err = s
				}
			}
			if g.err == nil {
				t.Errorf("line %d: error %v wraps no sentinel", r.Line, r.Err)
			}
		} else {
			g.fields = r.Fields
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

func ok(line int64, f ...string) got { return got{line: line, fields: f} }
func bad(line int64, err error) got  { return got{line: line, err: err} }

func TestForEachRows(t *testing.T) {
	six := func(id string) []string { return []string{id, "l", "T", "1", "G", "p"} }
	row := func(id string) string { return strings.Join(six(id), ",") }
	tests := []struct {
		name string
		in   string
		want []got
	}{
		{"lf", header + "\n" + row("1") + "\n" + row("2") + "\n", []got{ok(2, six("1")...), ok(3, six("2")...)}},
		{"crlf, no final line end", header + "\r\n" + row("1") + "\r\n" + row("2"), []got{ok(2, six("1")...), ok(3, six("2")...)}},
		{"latin-1", header + "\r\n1,l,Am\xe9lie \xff,1,G,p\r\n", []got{ok(2, "1", "l", "Amélie ÿ", "1", "G", "p")}},
		// A leading UTF-8 BOM means UTF-8: é is two bytes, not "Ã©".
		{"utf-8 bom", "\xef\xbb\xbf" + header + "\r\n1,l,Am\xc3\xa9lie,1,G,p\r\n", []got{ok(2, "1", "l", "Amélie", "1", "G", "p")}},
		{"utf-8 bom, invalid byte", "\xef\xbb\xbf" + header + "\r\n1,l,A\xe9,1,G,p\r\n", []got{ok(2, "1", "l", "A\ufffd", "1", "G", "p")}},
		{"quoted comma and quote", header + "\r\n1,l,\"Hi, \"\"you\"\"\",1,G,p\r\n", []got{ok(2, "1", "l", `Hi, "you"`, "1", "G", "p")}},
		{"quoted line break kept", header + "\r\n1,l,\"a\r\nb\",1,G,p\r\n" + row("2") + "\r\n", []got{ok(2, "1", "l", "a\nb", "1", "G", "p"), ok(4, six("2")...)}},
		{"blank lines skipped", header + "\r\n\r\n" + row("1") + "\r\n\n" + row("2") + "\r\n", []got{ok(3, six("1")...), ok(5, six("2")...)}},
		{"empty fields", header + "\n,,,,,\n", []got{ok(2, "", "", "", "", "", "")}},
		{"too few fields", header + "\n1,l,T\n" + row("2") + "\n", []got{bad(2, moviegenre.ErrFieldCount), ok(3, six("2")...)}},
		{"too many fields", header + "\n1,l,T,1,G,p,x\n", []got{bad(2, moviegenre.ErrFieldCount)}},
		{"bare quote costs one line", header + "\n1,l,Bare \"q\",1,G,p\n" + row("2") + "\n", []got{bad(2, moviegenre.ErrQuote), ok(3, six("2")...)}},
		{"text after closing quote", header + "\n1,l,\"a\"b,1,G,p\n" + row("2") + "\n", []got{bad(2, moviegenre.ErrQuote), ok(3, six("2")...)}},
		// A stray quote swallows lines and then closes somewhere: one row is
		// lost, reading starts again on the next line.
		{"broken quote closed later", header + "\n1,l,\"Broken,1,G,p\n" + row("2") + "\n3,l,\"ok\",1,G,p\n" + row("4") + "\n",
			[]got{bad(2, moviegenre.ErrQuote), ok(3, six("2")...), ok(4, "3", "l", "ok", "1", "G", "p"), ok(5, six("4")...)}},
		{"broken quote to end of file", header + "\n" + row("1") + "\n2,l,\"oops,1,G,p\n" + row("3") + "\n" + row("4"),
			[]got{ok(2, six("1")...), bad(3, moviegenre.ErrQuote), ok(4, six("3")...), ok(5, six("4")...)}},
		{"quoted field runs on, closes, wrong count", header + "\n1,l,\"x\n\",1\n" + row("3") + "\n",
			[]got{bad(2, moviegenre.ErrQuote), bad(3, moviegenre.ErrQuote), ok(4, six("3")...)}},
		{"header only", header + "\r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := readAll(t, tt.in, moviegenre.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(rows, tt.want, func(a, b got) bool {
				return a.line == b.line && a.err == b.err && slices.Equal(a.fields, b.fields)
			}) {
				t.Errorf("got  %v\nwant %v", rows, tt.want)
			}
		})
	}
}

func TestForEachBounds(t *testing.T) {
	lim := moviegenre.Limits{MaxLineBytes: 200, MaxFieldBytes: 50}
	long := strings.Repeat("x", 60)
	tests := []struct {
		name string
		in   string
		want []got
	}{
		{"line of commas", header + "\n" + strings.Repeat(",", 5000) + "\n1,l,T,1,G,p\n", []got{bad(2, moviegenre.ErrLineTooLong), ok(3, "1", "l", "T", "1", "G", "p")}},
		{"long field", header + "\n1,l," + long + ",1,G,p\n", []got{bad(2, moviegenre.ErrFieldTooLong)}},
		{"long quoted field", header + "\n1,l,\"" + long + "\",1,G,p\n", []got{bad(2, moviegenre.ErrFieldTooLong)}},
		{"field at the limit", header + "\n1,l," + long[:50] + ",1,G,p\n", []got{ok(2, "1", "l", long[:50], "1", "G", "p")}},
		// An open quote may not swallow more than a row's worth of lines.
		{"open quote past the line limit", header + "\n1,l,\"T" + strings.Repeat("\nabc,def", 40) + "\n",
			append([]got{bad(2, moviegenre.ErrLineTooLong)}, repeat(bad(0, moviegenre.ErrFieldCount), 40, 3)...)},
		// A file with CR line ends only is one huge line.
		{"CR only", header + "\r" + strings.Repeat("1,l,T,1,G,p\r", 30), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := readAll(t, tt.in, lim)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), "header (line 1)") || len(err.Error()) > 400 {
					t.Fatalf("want a short header error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(rows, tt.want, func(a, b got) bool {
				return a.line == b.line && a.err == b.err && slices.Equal(a.fields, b.fields)
			}) {
				t.Errorf("got  %v\nwant %v", rows, tt.want)
			}
		})
	}
}

// repeat is n copies of g on consecutive lines from first.
func repeat(g got, n int, first int64) []got {
	out := make([]got, n)
	for i := range out {
		out[i] = g
		out[i].line = first + int64(i)
	}
	return out
}

func TestForEachMessages(t *testing.T) {
	title := strings.Repeat("T", 1000)
	in := header + "\n1,l,T\n2,l,\"" + title + "\",1,G,p\n3,l,\"x\n" + strings.Repeat("y,z\n", 3)
	var msgs []string
	err := moviegenre.ForEach(strings.NewReader(in), moviegenre.Options{Limits: moviegenre.Limits{MaxFieldBytes: 100}}, func(r moviegenre.Row) error {
		msgs = append(msgs, r.Err.Error())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"wrong number of fields: got 3, want 6", "field 3 is 1000 bytes, more than 100", "the quoted field opened on line 4 does not close"} {
		if !strings.Contains(msgs[i], want) {
			t.Errorf("message %d %q lacks %q", i, msgs[i], want)
		}
		if len(msgs[i]) > 300 {
			t.Errorf("message %d is %d bytes: %q", i, len(msgs[i]), msgs[i])
		}
	}
}

func TestForEachHeader(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "m.csv: empty file"},
		{"blank lines only", "\r\n\r\n", "empty file"},
		{"other columns", "id,link\r\n1,x\r\n", `m.csv: header (line 1) is ["id" "link"], want imdbId,Imdb Link,Title,IMDB Score,Genre,Poster`},
		{"bom read as latin-1 by another tool", "\xc3\xaf\xc2\xbb\xc2\xbf" + header + "\r\n", "header (line 1) is"},
		{"broken header", "\"imdbId,Imdb Link\r\n", "header (line 1): broken quote"},
		// An added column is shown, not cut off at the sixth.
		{"extra column", header + ",Extra\r\n", `is ["imdbId" "Imdb Link" "Title" "IMDB Score" "Genre" "Poster" "Extra"], want`},
		{"many extra columns", header + strings.Repeat(",X", 30) + "\r\n", `"X" "X"] (got 36, want 6 fields), want`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := moviegenre.ForEach(strings.NewReader(tc.in), moviegenre.Options{Name: "m.csv"}, func(moviegenre.Row) error {
				t.Fatal("no row expected")
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestForEachStopsOnCallbackAndReadErrors(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := moviegenre.ForEach(strings.NewReader(header+"\n1,l,T,1,G,p\n2,l,T,1,G,p\n"), moviegenre.Options{}, func(moviegenre.Row) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("err %v after %d rows, want the callback's error after 1", err, n)
	}
	boom := errors.New("disk gone")
	err = moviegenre.ForEach(io.MultiReader(strings.NewReader(header+"\n1,l,T"), errReader{boom}), moviegenre.Options{Name: "x.csv"}, func(moviegenre.Row) error { return nil })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "x.csv") {
		t.Errorf("err %v, want the read error naming the file", err)
	}
	// Also when it happens inside a quoted field that runs over lines.
	err = moviegenre.ForEach(io.MultiReader(strings.NewReader(header+"\n1,l,\"T\n"), errReader{boom}), moviegenre.Options{Name: "x.csv"}, func(moviegenre.Row) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("err %v inside a quoted field, want the read error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestWriterRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w, err := moviegenre.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]string{
		{"1", "http://x/tt1", "Amélie, \"the\" film (2001)", "8.3", "Comedy|Romance", "https://p/1.jpg"},
		{"2", "", "Two\nlines", "", "", ""},
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteRaw("3,broken"); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]string{"4", "", "日本", "", "", ""}); err == nil {
		t.Error("a character outside ISO-8859-1 was written")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte("Am\xe9lie")) || !bytes.HasSuffix(b.Bytes(), []byte("3,broken\r\n")) {
		t.Errorf("not ISO-8859-1 with CRLF: %q", b.Bytes())
	}
	var back []moviegenre.Row
	if err := moviegenre.ForEach(&b, moviegenre.Options{}, func(r moviegenre.Row) error { back = append(back, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || !slices.Equal(back[0].Fields, rows[0]) || !slices.Equal(back[1].Fields, rows[1]) || back[2].Line != 5 || !errors.Is(back[2].Err, moviegenre.ErrFieldCount) {
		t.Errorf("read back %+v", back)
	}
}

func TestExcerpt(t *testing.T) {
	if got := moviegenre.Excerpt("short"); got != `"short"` {
		t.Errorf("got %s", got)
	}
	long := strings.Repeat("é", 100) // 200 bytes: the cut must not split a character
	got := moviegenre.Excerpt(long)
	if !strings.HasSuffix(got, "… (200 bytes)") || strings.Contains(got, `\x`) || len(got) > 90 {
		t.Errorf("got %s", got)
	}
}

// FuzzForEach checks, for any input, that reading ends, every row has one
// line number in increasing order and either six fields or an error, and
// that input encoding/csv reads as clean six-field rows is read the same.
func FuzzForEach(f *testing.F) {
	for _, s := range []string{
		header + "\r\n1,l,T,1,G,p\r\n",
		header + "\n1,l,\"a\nb\",1,G,p\n",
		header + "\n1,l,\"Broken,1,G,p\n2,l,T,1,G,p\n",
		header + "\n1,l,Bare \"q\",1,G,p\n",
		"\xef\xbb\xbf" + header + "\n1,l,\xc3\xa9,1,G,p\n",
		header + "\n\"\n\"\n\"\n",
		header + "\r" + "1,l,T,1,G,p\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := moviegenre.Limits{MaxLineBytes: 256, MaxFieldBytes: 64}
		var rows []moviegenre.Row
		err := moviegenre.ForEach(bytes.NewReader(in), moviegenre.Options{Limits: lim}, func(r moviegenre.Row) error {
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			return // a header error: nothing else to check
		}
		lines := int64(bytes.Count(in, []byte{'\n'}) + 1)
		prev := int64(1)
		for _, r := range rows {
			if r.Line <= prev || r.Line > lines {
				t.Fatalf("line %d after %d (of %d)", r.Line, prev, lines)
			}
			prev = r.Line
			if (r.Err == nil) != (len(r.Fields) == len(moviegenre.Columns)) && r.Err == nil {
				t.Fatalf("line %d: %d fields and no error", r.Line, len(r.Fields))
			}
		}
		// Differential check against encoding/csv on what both must agree on.
		if bytes.HasPrefix(in, []byte{0xEF, 0xBB, 0xBF}) || bytes.IndexByte(in, '\r') >= 0 || len(in) > 200 {
			return
		}
		cr := csv.NewReader(strings.NewReader(moviegenre.Latin1ToUTF8(in)))
		cr.FieldsPerRecord = -1
		recs, cerr := cr.ReadAll()
		if cerr != nil || len(recs) == 0 {
			return
		}
		for _, rec := range recs {
			for _, fld := range rec {
				if len(fld) > lim.MaxFieldBytes {
					return
				}
			}
			if len(rec) != len(moviegenre.Columns) {
				return
			}
		}
		if len(rows) != len(recs)-1 {
			t.Fatalf("%d rows, encoding/csv %d", len(rows), len(recs)-1)
		}
		for i, r := range rows {
			if r.Err != nil || !slices.Equal(r.Fields, recs[i+1]) {
				t.Fatalf("row %d: %q (%v), encoding/csv %q", i, r.Fields, r.Err, recs[i+1])
			}
		}
	})
}

// filler yields n copies of b without holding them.
type filler struct {
	b byte
	n int64
}

func (f *filler) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), f.n))
	for i := range p[:k] {
		p[i] = f.b
	}
	f.n -= int64(k)
	return k, nil
}

// TestForEachMemoryBounded reads a 20 MB line of commas and a 200 MB quoted
// title (issue 12: 2.4 GB and 3.3 GB before) and checks that what the reader
// allocates stays near its line limit, and that the rows after them are read.
func TestForEachMemoryBounded(t *testing.T) {
	in := io.MultiReader(
		strings.NewReader(header+"\n"),
		&filler{',', 20 << 20}, strings.NewReader("\n"), // line 2
		strings.NewReader("1,l,\""), &filler{'T', 200 << 20}, strings.NewReader("\",1,G,p\n"), // line 3
		strings.NewReader("2,l,T,1,G,p\n"), // line 4
	)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var rows []moviegenre.Row
	err := moviegenre.ForEach(in, moviegenre.Options{}, func(r moviegenre.Row) error {
		rows = append(rows, r)
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !errors.Is(rows[0].Err, moviegenre.ErrLineTooLong) || !errors.Is(rows[1].Err, moviegenre.ErrLineTooLong) || rows[2].Err != nil || rows[2].Line != 4 {
		t.Fatalf("rows %+v", rows)
	}
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %.1f MB for 220 MB of over-long rows", float64(got)/(1<<20))
	if got > 16<<20 {
		t.Errorf("allocated %d MB reading 220 MB of over-long rows; want a few MB", got>>20)
	}
}
