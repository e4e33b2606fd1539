package parquetio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rowA struct {
	ID     int64     `parquet:"id"`
	Name   string    `parquet:"name"`
	Values []float32 `parquet:"values,list"`
}

// rowB shares no column type with rowA's "name": a file of the wrong kind.
type rowB struct {
	ID   int64 `parquet:"id"`
	Name int32 `parquet:"name"`
}

type rowOther struct {
	Line    int64  `parquet:"line"`
	Outcome string `parquet:"outcome"`
}

func writeA(t *testing.T, path string, n int) {
	t.Helper()
	rows := make([]rowA, n)
	for i := range rows {
		rows[i] = rowA{ID: int64(i), Name: strings.Repeat("x", i%50), Values: []float32{float32(i), 1}}
	}
	if err := WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.parquet")
	writeA(t, path, 5000)
	got, err := ReadFile[rowA](path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5000 || got[4999].ID != 4999 || got[7].Values[0] != 7 {
		t.Fatalf("read back %d rows, last %+v", len(got), got[len(got)-1])
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

// TestReadRejectsBadFiles: a truncated file or one of another schema is an
// error naming the file, never a panic and never rows of zero values.
func TestReadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeA(t, good, 20000)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.parquet")
	if err := WriteFile(other, []rowOther{{Line: 2, Outcome: "downloaded"}}); err != nil {
		t.Fatal(err)
	}
	wrongType := filepath.Join(dir, "wrongtype.parquet")
	if err := WriteFile(wrongType, []rowB{{ID: 1, Name: 3}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
		bytes            []byte
	}{
		{"truncated half", "half.parquet", "half.parquet", data[:len(data)/2]},
		{"truncated footer", "footer.parquet", "footer.parquet", data[:len(data)-3]},
		{"header only", "head.parquet", "head.parquet", data[:4]},
		{"empty", "empty.parquet", "empty.parquet", []byte{}},
		{"other schema", other, "no column id", nil},
		{"wrong column type", wrongType, "column name is INT32", nil},
		{"missing", "missing.parquet", "missing.parquet", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			if c.bytes != nil {
				if err := os.WriteFile(path, c.bytes, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := ReadFile[rowA](path)
			if err == nil {
				t.Fatalf("read %d rows from a bad file, want an error", len(rows))
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(path)) {
				t.Fatalf("error %q should name %s and say %q", err, filepath.Base(path), c.want)
			}
			t.Log(err)
		})
	}
}

// TestCorruptPagesRecovered flips bytes inside the data pages: whatever
// parquet-go makes of it (error or panic), Read returns (never panics).
func TestCorruptPagesRecovered(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeA(t, good, 20000)
	data, _ := os.ReadFile(good)
	for i, off := range []int{8, 100, len(data) / 3, len(data) / 2} {
		bad := append([]byte(nil), data...)
		for j := off; j < off+64 && j < len(bad)-8; j++ {
			bad[j] ^= 0xA5
		}
		path := filepath.Join(dir, "bad"+string(rune('a'+i))+".parquet")
		os.WriteFile(path, bad, 0o644)
		_, err := ReadFile[rowA](path) // must return; an error, if any, names the file
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name %s", err, path)
		}
	}
}

// badRow has a field parquet-go cannot map: SchemaOf panics on it. It
// stands in for any parquet-go panic, which must come back as an error
// naming the file instead of ending the process.
type badRow struct {
	C chan int `parquet:"c"`
}

func TestPanicsBecomeErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeA(t, good, 10)
	if _, err := ReadFile[badRow](good); err == nil || !strings.Contains(err.Error(), "good.parquet") || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("read: got %v, want a recovered panic naming the file", err)
	}
	out := filepath.Join(dir, "out.parquet")
	if err := WriteFile(out, []badRow{{}}); err == nil || !strings.Contains(err.Error(), "out.parquet") {
		t.Fatalf("write: got %v, want a recovered panic naming the file", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("a failed write left files: %v", entries)
	}
}
