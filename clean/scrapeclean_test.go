package clean_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/internal/procstat"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/scrape/scrapeconfig"
	"github.com/postergenre/postergenre/stages"
)

// posterServer serves /p/<id>.jpg: a small JPEG, except id 5 whose header
// claims 20000×20000 (refused by max_pixels).
func posterServer(t *testing.T) *httptest.Server {
	re := regexp.MustCompile(`^/p/(\d+)\.jpg$`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := re.FindStringSubmatch(r.URL.Path)
		if m == nil {
			http.NotFound(w, r)
			return
		}
		id, _ := strconv.Atoi(m[1])
		w.Header().Set("Content-Type", "image/jpeg")
		if id == 5 {
			w.Write(cleantest.HugeHeaderJPEG(20000, 20000))
			return
		}
		w.Write(cleantest.JPEG(30, 44, id))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestScrapeAndCleanAgreeOnEveryRow runs the real scrape stage (against a
// loopback server) and the real clean stage on CSVs that used to split
// differently in the two: with a UTF-8 byte-order mark, and with broken
// quotes. Every data row must get exactly one outcome in each, on the same
// line.
func TestScrapeAndCleanAgreeOnEveryRow(t *testing.T) {
	link := func(id int) string { return fmt.Sprintf("https://cdn.example/p/%d.jpg", id) }
	good := func(id int, title string) string {
		return fmt.Sprintf("%d,http://www.imdb.com/title/tt%d,%s,6.5,Drama|Action,%s", id, id, title, link(id))
	}
	lines := []string{
		good(1, "Am\u00e9lie (2001)"), // 2: é in the file's encoding
		good(2, "Two (2002)"),         // 3
		`3,http://www.imdb.com/title/tt3,"Broken (1999),7,Drama,` + link(3), // 4: quote swallows line 5, then breaks
		good(4, "Four (2004)"),                                         // 5: read again after line 4
		"40,http://www.imdb.com/title/tt40",                            // 6: too few fields
		good(5, "Bomb (2005)"),                                         // 7: poster refused by max_pixels
		good(6, `"Quoted, with a`+"\r\n"+`line break (2006)"`),         // 8-9: one good row over two lines
		good(7, "Seven (2007)"),                                        // 10
		`8,http://www.imdb.com/title/tt8,"Swallows,1,Drama,` + link(8), // 11: broken to the end
		good(9, "Nine (2009)"),                                         // 12
	}
	wantKept := map[int64]string{2: "Amélie (2001)", 3: "Two (2002)", 5: "Four (2004)", 8: "Quoted, with a\nline break (2006)", 10: "Seven (2007)", 12: "Nine (2009)"}
	wantMalformed := map[int64]bool{4: true, 6: true, 11: true}
	const rows = 10 // data rows: lines 2..12, lines 8-9 being one

	for _, tc := range []struct {
		name string
		bom  bool
	}{{"latin-1", false}, {"utf-8 with bom", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := posterServer(t)
			dir := t.TempDir()
			text := "imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n" + strings.Join(lines, "\r\n") + "\r\n"
			var data []byte
			if tc.bom {
				data = append([]byte("\xef\xbb\xbf"), text...)
			} else {
				for _, r := range text {
					data = append(data, byte(r)) // ISO-8859-1
				}
			}
			csvPath := filepath.Join(dir, "MovieGenre.csv")
			if err := os.WriteFile(csvPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			const maxPixels = 1_000_000
			scr, out, res := scrapeAndClean(t, dir, csvPath, srv.URL, func(cfg *scrapeconfig.Config) {
				cfg.Parallelism, cfg.Timeout = 2, 5*time.Second
				cfg.MaxPixels = maxPixels
			})

			ledger, err := parquet.ReadFile[scrape.LedgerRow](filepath.Join(scr, scrape.LedgerFile))
			if err != nil {
				t.Fatal(err)
			}
			kept, err := parquet.ReadFile[clean.Row](filepath.Join(out, clean.RowsFile))
			if err != nil {
				t.Fatal(err)
			}
			rejects, err := parquet.ReadFile[clean.Reject](filepath.Join(out, clean.RejectsFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(ledger) != rows || len(kept)+len(rejects) != rows || res.Summary["csv_rows"] != rows {
				t.Fatalf("ledger %d rows, clean %d kept + %d rejected (csv_rows %v), want %d each", len(ledger), len(kept), len(rejects), res.Summary["csv_rows"], rows)
			}
			scrapeOutcome := map[int64]scrape.LedgerRow{}
			for _, l := range ledger {
				if _, dup := scrapeOutcome[l.Line]; dup {
					t.Errorf("line %d twice in the ledger", l.Line)
				}
				scrapeOutcome[l.Line] = l
			}
			cleanOutcome := map[int64]string{}
			for _, r := range kept {
				cleanOutcome[r.Line] = "kept"
				if r.Title != wantKept[r.Line] {
					t.Errorf("line %d kept with title %q, want %q", r.Line, r.Title, wantKept[r.Line])
				}
			}
			for _, r := range rejects {
				if _, dup := cleanOutcome[r.Line]; dup {
					t.Errorf("line %d has two outcomes in clean", r.Line)
				}
				cleanOutcome[r.Line] = r.Reason
			}
			for line, l := range scrapeOutcome {
				c, ok := cleanOutcome[line]
				switch {
				case !ok:
					t.Errorf("line %d: scrape %s, no outcome in clean", line, l.Outcome)
				case wantMalformed[line] != (l.Reason == scrape.ReasonMalformedRow) || wantMalformed[line] != (c == clean.ReasonMalformedRow):
					t.Errorf("line %d: scrape %s %s, clean %s; malformed: %v", line, l.Outcome, l.Reason, c, wantMalformed[line])
				case wantKept[line] != "" && c != "kept":
					t.Errorf("line %d: clean %s (scrape %s %s %s), want kept", line, c, l.Outcome, l.Reason, l.Error)
				}
			}
			if l := scrapeOutcome[7]; l.Reason != scrape.ReasonTooManyPixels || cleanOutcome[7] != clean.ReasonNoPoster {
				t.Errorf("line 7: scrape %s, clean %s", l.Reason, cleanOutcome[7])
			}

			// The pixel limit scrape applied is recorded beside its ledger
			// and forwarded by clean for encode.
			for _, d := range []string{scr, out} {
				lim, err := scrape.ReadLimits(d)
				if err != nil || lim.MaxPixels != maxPixels {
					t.Errorf("%s: limits %+v, %v; want max_pixels %d", d, lim, err, maxPixels)
				}
			}
		})
	}
}

// TestCSVBoundsFromConfig: scrape.max_line_bytes and max_field_bytes bound
// the rows scrape reads, and reach clean through limits.json, so both drop
// the same over-long rows as malformed_row with their line and reason,
// quoting only a few bytes of them.
func TestCSVBoundsFromConfig(t *testing.T) {
	srv := posterServer(t)
	dir := t.TempDir()
	row := func(id int, title string) string {
		return fmt.Sprintf("%d,http://www.imdb.com/title/tt%d,%s,6.5,Drama|Action,https://cdn.example/p/%d.jpg", id, id, title, id)
	}
	lines := []string{
		row(1, "One (2001)"),                       // 2
		strings.Repeat(",", 5000),                  // 3: longer than max_line_bytes
		row(2, strings.Repeat("T", 600)+" (2002)"), // 4: a field longer than max_field_bytes
		row(3, "Three (2003)"),                     // 5
	}
	csvPath := filepath.Join(dir, "MovieGenre.csv")
	text := "imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(csvPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	scr, out, _ := scrapeAndClean(t, dir, csvPath, srv.URL, func(cfg *scrapeconfig.Config) {
		cfg.MaxLineBytes, cfg.MaxFieldBytes = 2048, 512
	})
	for _, d := range []string{scr, out} {
		if lim, err := scrape.ReadLimits(d); err != nil || lim.CSV.MaxLineBytes != 2048 || lim.CSV.MaxFieldBytes != 512 {
			t.Errorf("%s: limits %+v, %v; want the config's 2048/512", d, lim, err)
		}
	}
	ledger, err := parquet.ReadFile[scrape.LedgerRow](filepath.Join(scr, scrape.LedgerFile))
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := parquet.ReadFile[clean.Reject](filepath.Join(out, clean.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	scraped := map[int64]scrape.LedgerRow{}
	for _, l := range ledger {
		scraped[l.Line] = l
	}
	cleaned := map[int64]clean.Reject{}
	for _, r := range rejects {
		cleaned[r.Line] = r
	}
	for line, why := range map[int64]string{3: "row too long", 4: "field too long"} {
		l, r := scraped[line], cleaned[line]
		if l.Reason != scrape.ReasonMalformedRow || r.Reason != clean.ReasonMalformedRow || !strings.Contains(r.Detail, why) {
			t.Errorf("line %d: scrape %q, clean %q %q; want malformed_row (%s) in both", line, l.Reason, r.Reason, r.Detail, why)
		}
		if len(r.Detail) > 300 || len(l.Error) > 300 {
			t.Errorf("line %d: the reason quotes too much (%d, %d bytes)", line, len(r.Detail), len(l.Error))
		}
	}
	if len(rejects) != 2 {
		t.Errorf("rejects %+v, want lines 3 and 4 only", rejects)
	}
}

// TestHugeRowsMemoryBounded: a 20 MB line of commas and a 60 MB title
// (issue 12: 2.4 GB and 3.3 GB of RSS) through the real scrape and clean
// stages at the default limits. Scrape holds the CSV's bytes once (it
// hashes and stores exactly them); nothing may hold many copies of a row.
// The bound is the process's own peak RSS, generous, never a time.
func TestHugeRowsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes an 80 MB CSV")
	}
	srv := posterServer(t)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "MovieGenre.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\n1,http://www.imdb.com/title/tt1,One (2001),6,Drama,https://cdn.example/p/1.jpg\n")
	f.Write([]byte(strings.Repeat(",", 20<<20) + "\n"))                                                                                // line 3
	fmt.Fprintf(f, "2,http://www.imdb.com/title/tt2,\"%s (2002)\",6,Drama,https://cdn.example/p/2.jpg\n", strings.Repeat("T", 60<<20)) // line 4
	fmt.Fprintf(f, "3,http://www.imdb.com/title/tt3,Three (2003),6,Drama,https://cdn.example/p/3.jpg\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	procstat.ResetPeakRSS() // peak := current (Linux ≥ 4.0)
	before := peakRSS(t)
	_, _, res := scrapeAndClean(t, dir, csvPath, srv.URL, nil)
	peak := peakRSS(t)
	const limit = 600 << 20
	t.Logf("peak RSS %d MiB (before %d MiB) for an 80 MB CSV; limit %d MiB", peak>>20, before>>20, limit>>20)
	if peak-before > limit {
		t.Errorf("peak RSS grew by %d MiB reading an 80 MB CSV: a row was held whole or copied", (peak-before)>>20)
	}
	if res.Summary["kept"] != 2 || res.Summary["rejected"] != 2 {
		t.Errorf("clean summary %v, want lines 2 and 5 kept, 3 and 4 malformed", res.Summary)
	}
}

// peakRSS reads the process's peak resident set (VmHWM) in bytes.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	n, err := procstat.PeakRSS()
	if err != nil {
		t.Skipf("no peak RSS on this system: %v", err)
	}
	return n
}

// scrapeAndClean runs the real scrape stage on csvPath against the poster
// server at srvURL (cdn.example rewritten to it; no retries, no IMDb page
// fallback; edit, when set, changes the rest of the scrape config), then
// the clean stage with its defaults. It returns the scrape and clean
// output folders under dir and clean's result.
func scrapeAndClean(t *testing.T, dir, csvPath, srvURL string, edit func(*scrapeconfig.Config)) (scr, out string, res stages.Result) {
	t.Helper()
	scr, store, out := filepath.Join(dir, "scrape"), filepath.Join(dir, "posters"), filepath.Join(dir, "clean")
	for _, d := range []string{scr, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := scrapeconfig.Default()
	cfg.CSV, cfg.Retries, cfg.FallbackIMDbPage = csvPath, 0, false
	cfg.URLRewrite = []scrape.Rewrite{{Pattern: `^https://cdn\.example/`, Replace: srvURL + "/"}}
	if edit != nil {
		edit(&cfg)
	}
	if _, err := (&scrape.Stage{Cfg: cfg}).Run(context.Background(), stages.Env{OutDir: scr, PosterStore: store}); err != nil {
		t.Fatal(err)
	}
	res, err := (&clean.Stage{Cfg: cleanconfig.Default()}).Run(context.Background(),
		stages.Env{OutDir: out, PosterStore: store, Inputs: map[string]string{stages.Scrape: scr}})
	if err != nil {
		t.Fatal(err)
	}
	return scr, out, res
}
