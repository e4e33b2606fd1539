package cli_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/procstat"
	"github.com/postergenre/postergenre/scrape"
)

// bigCSVBytes is the size of the big CSVs below: far more than the binary
// needs to run, so a CSV held in memory shows in its peak RSS.
const bigCSVBytes = 384 << 20

// bigCSV writes a MovieGenre header and then lines of 1 MiB (each over
// max_line_bytes: a malformed row, no fetch) up to bigCSVBytes.
func bigCSV(w io.Writer) error {
	if _, err := io.WriteString(w, strings.Join(moviegenre.Columns, ",")+"\n"); err != nil {
		return err
	}
	line := append(bytes.Repeat([]byte("x"), 1<<20-1), '\n')
	for n := 0; n < bigCSVBytes; n += len(line) {
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// runBinRSS runs the binary with TMPDIR set and returns its exit code,
// stderr and peak RSS (procstat.PeakRSSOf).
func runBinRSS(t *testing.T, bin, tmp string, args ...string) (int, string, int64) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	rss, err := procstat.PeakRSSOf(cmd.ProcessState)
	if err != nil {
		t.Fatal(err)
	}
	return code, errb.String(), rss
}

// TestBigCSVMemory: a CSV of 384 MiB, over HTTP or local, is streamed —
// the binary's peak RSS stays far below the CSV's size (it was above it:
// the CSV was read whole, 3.26 GB for an endless URL) — and a big local CSV
// is stored as a reference (path + sha256), not copied. A small CSV's peak
// is the baseline.
func TestBigCSVMemory(t *testing.T) {
	bin := pipelineBin(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "big.csv")
	f, err := os.Create(local)
	if err != nil {
		t.Fatal(err)
	}
	if err := bigCSV(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	small := filepath.Join(dir, "small.csv")
	os.WriteFile(small, []byte(strings.Join(moviegenre.Columns, ",")+"\n"+strings.Repeat("y", 2<<20)+"\n"), 0o644)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { bigCSV(w) }))
	defer srv.Close()

	tests := []struct {
		name, csv string
		stored    string // the file the scrape output keeps
		big       bool
	}{
		{"small local (baseline)", small, scrape.CSVFile, false},
		{"big over HTTP", srv.URL + "/big.csv", scrape.CSVFile, true},
		{"big local", local, scrape.CSVRefFile, true},
	}
	var baseline int64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work, tmp := t.TempDir(), t.TempDir()
			cfg := filepath.Join(dir, "c.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("version: 1\nname: big\nscrape:\n  csv: %s\n", tt.csv)), 0o644)
			code, errs, rss := runBinRSS(t, bin, tmp, "run", cfg, "--only", "scrape", "--workdir", work, "--log-format", "json", "--quiet")
			t.Logf("%s: peak RSS %d MiB (baseline %d MiB; big CSV %d MiB)", tt.name, rss>>20, baseline>>20, bigCSVBytes>>20)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, lastLines(errs, 10))
			}
			if !tt.big {
				baseline = rss
			} else if baseline == 0 || rss-baseline > bigCSVBytes/4 {
				t.Errorf("peak RSS %d MiB, %d MiB over the baseline, want under %d MiB: the CSV is held in memory",
					rss>>20, (rss-baseline)>>20, bigCSVBytes/4>>20)
			}
			out, _ := filepath.Glob(filepath.Join(work, "stages", "scrape", "*", tt.stored))
			if len(out) != 1 {
				t.Errorf("scrape output has no %s", tt.stored)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left in TMPDIR: %v", left)
			}
		})
	}
}
