package scrape_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/poster/postertest"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/scrape/scrapeconfig"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/stages/stagestest"
)

// fakeCDN answers every case the scraper must handle. Poster paths look like
// /p/<id>/<case>.jpg; the id only makes the bytes differ between posters.
type fakeCDN struct {
	*httptest.Server
	t       *testing.T
	latency time.Duration
	total   atomic.Int64 // robots.txt aside
	all     atomic.Int64
	mu      sync.Mutex
	hits    map[string]int
}

const maxBody = 64 << 10

var posterPath = regexp.MustCompile(`^/p/(\d+)/([a-z0-9_]+)\.(jpg|png)$`)

func newFakeCDN(t *testing.T) *fakeCDN {
	f := &fakeCDN{t: t, hits: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// requests counts every request but those for robots.txt.
func (f *fakeCDN) requests() int64 { return f.total.Load() }

func (f *fakeCDN) serve(w http.ResponseWriter, r *http.Request) {
	f.all.Add(1)
	if r.URL.Path != "/robots.txt" {
		f.total.Add(1)
	}
	f.mu.Lock()
	f.hits[r.URL.Path]++
	hit := f.hits[r.URL.Path]
	f.mu.Unlock()
	if f.latency > 0 {
		select {
		case <-time.After(f.latency):
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path == "/robots.txt" {
		io.WriteString(w, "User-agent: *\nDisallow: /private/\n")
		return
	}
	if m := regexp.MustCompile(`^/title/tt(\d{7})$`).FindStringSubmatch(r.URL.Path); m != nil {
		id, _ := strconv.Atoi(m[1])
		if id >= 900 { // ids from 900 have a title page
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<html><head><meta property="og:image" content="/p/%d/ok.jpg"></head></html>`, id)
			return
		}
		http.NotFound(w, r)
		return
	}
	m := posterPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		http.NotFound(w, r)
		return
	}
	id, _ := strconv.Atoi(m[1])
	img := posterJPEG(f.t, id)
	send := func() {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(img)
	}
	switch m[2] {
	case "ok":
		send()
	case "flaky": // 500, then fine
		if hit == 1 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		send()
	case "busy": // 429 with Retry-After, then fine
		if hit == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		send()
	case "down": // 503 forever
		http.Error(w, "down", http.StatusServiceUnavailable)
	case "gone":
		http.Error(w, "forbidden", http.StatusForbidden)
	case "stall":
		<-r.Context().Done()
	case "truncated":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(img[:len(img)*2/3])
	case "html":
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>not a poster</body></html>")
	case "big": // says so up front
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(2*maxBody))
		w.Write(make([]byte, 2*maxBody))
	case "bigchunked": // doesn't say: colly's cap truncates it
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(img)
		w.(http.Flusher).Flush()
		w.Write(make([]byte, 2*maxBody))
	case "bomb":
		w.Header().Set("Content-Type", "image/png")
		w.Write(postertest.PNGHeader(50000, 50000))
	case "redirect":
		http.Redirect(w, r, fmt.Sprintf("/p/%d/ok.jpg", id), http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

var jpegCache sync.Map

// posterJPEG is a small JPEG whose pixels depend on id.
func posterJPEG(t testing.TB, id int) []byte {
	if b, ok := jpegCache.Load(id); ok {
		return b.([]byte)
	}
	img := image.NewRGBA(image.Rect(0, 0, 36, 54))
	for y := range 54 {
		for x := range 36 {
			img.Set(x, y, color.RGBA{uint8(id * 37), uint8(x * 7), uint8(y * 5), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	jpegCache.Store(id, buf.Bytes())
	return buf.Bytes()
}

// csvRow is one MovieGenre line pointing at the fake CDN through the
// cdn.example host (rewritten by the config).
func csvRow(id int, path string) string {
	poster := ""
	if path != "" {
		poster = "https://cdn.example" + path
	}
	return fmt.Sprintf("%d,http://www.imdb.com/title/tt%d,Movie %d (2001),6.5,Drama|Action,%s", id, id, id, poster)
}

func writeCSV(t *testing.T, dir string, lines []string) string {
	t.Helper()
	p := filepath.Join(dir, "movies.csv")
	body := strings.Join(append([]string{strings.Join(moviegenre.Columns, ",")}, lines...), "\r\n") + "\r\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig(csvPath, base string) scrape.Config {
	cfg := scrapeconfig.Default()
	cfg.CSV = csvPath
	cfg.Parallelism = 4
	cfg.Timeout = 400 * time.Millisecond
	cfg.Retries = 2
	cfg.BackoffBase = time.Millisecond
	cfg.BackoffMax = 2 * time.Second
	cfg.MaxBodyBytes = maxBody
	cfg.MaxPixels = 10_000_000
	cfg.FallbackIMDbPage = false
	cfg.URLRewrite = []scrape.Rewrite{
		{Pattern: `^https?://cdn\.example/`, Replace: base + "/"},
		{Pattern: `^https?://www\.imdb\.com/`, Replace: base + "/"},
	}
	return cfg
}

type runDirs struct{ store, out string }

func newDirs(t *testing.T, store string) runDirs {
	out := t.TempDir()
	if store == "" {
		store = filepath.Join(t.TempDir(), "posters")
	}
	return runDirs{store: store, out: out}
}

func runStage(ctx context.Context, t *testing.T, cfg scrape.Config, d runDirs) (stages.Result, []scrape.LedgerRow, error) {
	t.Helper()
	return runStageEnv(ctx, t, cfg, stages.Env{OutDir: d.out, PosterStore: d.store})
}

func runStageEnv(ctx context.Context, t *testing.T, cfg scrape.Config, env stages.Env) (stages.Result, []scrape.LedgerRow, error) {
	t.Helper()
	d := runDirs{store: env.PosterStore, out: env.OutDir}
	res, err := (&scrape.Stage{Cfg: cfg}).Run(ctx, env)
	if err != nil {
		return res, nil, err
	}
	return res, readLedger(t, filepath.Join(d.out, scrape.LedgerFile)), nil
}

func readLedger(t *testing.T, path string) []scrape.LedgerRow {
	t.Helper()
	rows, err := parquet.ReadFile[scrape.LedgerRow](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestStageOutcomes(t *testing.T) {
	cdn := newFakeCDN(t)
	type want struct {
		outcome, reason, source string
		attempts                int32
	}
	cases := []struct {
		path string
		want want
	}{
		{"/p/1/ok.jpg", want{scrape.OutcomeDownloaded, "", scrape.SourcePoster, 1}},
		{"/p/2/missing.jpg", want{scrape.OutcomeFailed, "http_404", "", 1}},
		{"/p/3/flaky.jpg", want{scrape.OutcomeDownloaded, "", scrape.SourcePoster, 2}},
		{"/p/4/busy.jpg", want{scrape.OutcomeDownloaded, "", scrape.SourcePoster, 2}},
		{"/p/5/down.jpg", want{scrape.OutcomeFailed, "http_503", "", 3}},
		{"/p/6/gone.jpg", want{scrape.OutcomeFailed, "http_403", "", 1}},
		{"/p/7/stall.jpg", want{scrape.OutcomeFailed, scrape.ReasonTimeout, "", 3}},
		{"/p/8/truncated.jpg", want{scrape.OutcomeFailed, scrape.ReasonTruncated, "", 1}},
		{"/p/9/html.jpg", want{scrape.OutcomeFailed, scrape.ReasonNotImage, "", 1}},
		{"/p/10/big.jpg", want{scrape.OutcomeFailed, scrape.ReasonTooLarge, "", 1}},
		{"/p/11/bigchunked.jpg", want{scrape.OutcomeFailed, scrape.ReasonTooLarge, "", 1}},
		{"/p/12/bomb.png", want{scrape.OutcomeFailed, scrape.ReasonTooManyPixels, "", 1}},
		{"/p/13/redirect.jpg", want{scrape.OutcomeDownloaded, "", scrape.SourcePoster, 1}},
		{"/private/p/14/ok.jpg", want{scrape.OutcomeFailed, scrape.ReasonRobots, "", 1}},
		{"/p/15/ok.jpg", want{scrape.OutcomeDownloaded, "", scrape.SourcePoster, 1}}, // same link as 16
		{"/p/15/ok.jpg", want{scrape.OutcomeDownloaded, "", scrape.SourcePoster, 1}},
		{"", want{scrape.OutcomeSkipped, scrape.ReasonNoLink, "", 0}},
	}
	var lines []string
	for i, c := range cases {
		lines = append(lines, csvRow(i+1, c.path))
	}
	dir := t.TempDir()
	cfg := testConfig(writeCSV(t, dir, lines), cdn.URL)
	d := newDirs(t, "")
	var prog stagestest.Progress
	res, ledger, err := runStageEnv(context.Background(), t, cfg, stages.Env{OutDir: d.out, PosterStore: d.store, Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	if tasks := prog.Tasks(); len(tasks) != 1 || tasks[0].Name != "scrape" || tasks[0].Added != int64(len(cases)) ||
		tasks[0].Total != int64(len(cases)) || !tasks[0].Done || tasks[0].Notes[len(tasks[0].Notes)-1] != "ok 6 failed 10" {
		t.Errorf("progress: %+v", tasks)
	}
	if len(ledger) != len(cases) {
		t.Fatalf("%d ledger rows, want %d", len(ledger), len(cases))
	}
	for i, c := range cases {
		r := ledger[i]
		got := want{r.Outcome, r.Reason, r.Source, r.Attempts}
		if r.Line != int64(i+2) || r.ImdbID != int64(i+1) || got != c.want {
			t.Errorf("%s: line %d id %d %+v (%s), want line %d %+v", c.path, r.Line, r.ImdbID, got, r.Error, i+2, c.want)
		}
		// Every failure's error names the URL that failed.
		if r.Outcome == scrape.OutcomeFailed && r.Reason != scrape.ReasonRobots && !strings.Contains(r.Error, "/p/"+strconv.Itoa(i+1)+"/") {
			t.Errorf("%s: ledger error %q does not name the URL", c.path, r.Error)
		}
		if r.Outcome == scrape.OutcomeDownloaded {
			data, err := os.ReadFile(filepath.Join(d.store, r.Path))
			if err != nil || r.Path != scrape.PosterFile(r.ImdbID) {
				t.Errorf("%s: stored file %q: %v", c.path, r.Path, err)
			} else if !bytes.Equal(data, posterJPEG(t, idOf(c.path))) {
				t.Errorf("%s: stored bytes differ from served ones", c.path)
			}
		}
	}
	if ledger[12].URL != cdn.URL+"/p/13/ok.jpg" {
		t.Errorf("redirect: ledger URL %q, want the final one", ledger[12].URL)
	}
	if ledger[2].URL != cdn.URL+"/p/3/flaky.jpg" {
		t.Errorf("url_rewrite: ledger URL %q", ledger[2].URL)
	}
	outcomes := res.Summary["outcomes"].(map[string]int)
	if outcomes[scrape.OutcomeDownloaded] != 6 || outcomes[scrape.OutcomeFailed] != 10 || outcomes[scrape.OutcomeSkipped] != 1 {
		t.Errorf("summary outcomes %v", outcomes)
	}
	if res.Summary["next_retry_at"] == "" {
		t.Error("summary next_retry_at empty with failures")
	}
	for _, f := range []string{scrape.CSVFile, scrape.SummaryFile, scrape.LedgerFile} {
		if _, err := os.Stat(filepath.Join(d.out, f)); err != nil {
			t.Error(err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(d.out, scrape.CSVFile)); !bytes.Equal(got, mustRead(t, cfg.CSV)) {
		t.Error("movies.csv differs from the input bytes")
	}
	pyarrowReads(t, filepath.Join(d.out, scrape.LedgerFile), len(cases))
}

func idOf(path string) int {
	m := regexp.MustCompile(`/p/(\d+)/`).FindStringSubmatch(path)
	id, _ := strconv.Atoi(m[1])
	return id
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pyarrowReads checks the ledger opens in pyarrow (make test sets PYTHON).
func pyarrowReads(t *testing.T, path string, rows int) {
	py := os.Getenv("PYTHON")
	if py == "" {
		t.Log("PYTHON unset: pyarrow check skipped")
		return
	}
	out, err := exec.Command(py, "-c", "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(rows) {
		t.Errorf("pyarrow: %v: %s", err, out)
	}
}

func TestStageFallbackIMDbPage(t *testing.T) {
	cdn := newFakeCDN(t)
	lines := []string{
		csvRow(901, "/p/901/missing.jpg"), // poster 404, page has og:image → imdb_page
		csvRow(902, ""),                   // no link, page has og:image → imdb_page
		csvRow(3, "/p/3/missing.jpg"),     // poster 404, page 404 → failed with the poster's reason
		csvRow(904, "/p/904/ok.jpg"),      // poster fine: page not needed
	}
	cfg := testConfig(writeCSV(t, t.TempDir(), lines), cdn.URL)
	cfg.FallbackIMDbPage = true
	_, ledger, err := runStage(context.Background(), t, cfg, newDirs(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ outcome, reason, source, url string }{
		{scrape.OutcomeDownloaded, "", scrape.SourceIMDbPage, cdn.URL + "/p/901/ok.jpg"},
		{scrape.OutcomeDownloaded, "", scrape.SourceIMDbPage, cdn.URL + "/p/902/ok.jpg"},
		{scrape.OutcomeFailed, "http_404", "", cdn.URL + "/title/tt0000003"},
		{scrape.OutcomeDownloaded, "", scrape.SourcePoster, cdn.URL + "/p/904/ok.jpg"},
	}
	for i, w := range want {
		r := ledger[i]
		if r.Outcome != w.outcome || r.Reason != w.reason || r.Source != w.source || r.URL != w.url {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
	}
}

func TestStageMalformedCSV(t *testing.T) {
	cdn := newFakeCDN(t)
	lines := []string{
		csvRow(1, "/p/1/ok.jpg"),                  // line 2
		"2,http://www.imdb.com/title/tt2,Too few", // 3: wrong column count
		`3,http://www.imdb.com/title/tt3,"Broken (1999),7,Drama,https://cdn.example/p/3/ok.jpg`,          // 4: quote never closed on its line
		`4,http://www.imdb.com/title/tt4,Fine,7,Drama,"https://cdn.example/p/4/ok.jpg"`,                  // 5: read again after line 4
		"abc,http://www.imdb.com/title/ttabc,Bad id,1,Drama,https://cdn.example/p/5/ok.jpg",              // 6: non-numeric id
		"6,,,,,https://cdn.example/p/6/ok.jpg",                                                           // 7: empty fields are fine
		"7,http://www.imdb.com/title/tt7,Am\xe9lie \xff (2001),8,Romance,https://cdn.example/p/7/ok.jpg", // 8: Latin-1
		`8,http://www.imdb.com/title/tt8,Bare "quote",1,Drama,https://cdn.example/p/8/ok.jpg`,            // 9: bare quote
		csvRow(9, ""),            // 10: no link
		csvRow(1, "/p/1/ok.jpg"), // 11: duplicate of line 2
		`10,http://www.imdb.com/title/tt10,"Swallows,1,Drama,https://cdn.example/p/10/ok.jpg`, // 12: broken to EOF
		csvRow(11, "/p/11/ok.jpg"), // 13
	}
	cfg := testConfig(writeCSV(t, t.TempDir(), lines), cdn.URL)
	res, ledger, err := runStage(context.Background(), t, cfg, newDirs(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line    int64
		id      int64
		outcome string
		reason  string
	}{
		{2, 1, scrape.OutcomeDownloaded, ""},
		{3, 0, scrape.OutcomeSkipped, scrape.ReasonMalformedRow},
		{4, 0, scrape.OutcomeSkipped, scrape.ReasonMalformedRow},
		{5, 4, scrape.OutcomeDownloaded, ""},
		{6, 0, scrape.OutcomeSkipped, scrape.ReasonMalformedRow},
		{7, 6, scrape.OutcomeDownloaded, ""},
		{8, 7, scrape.OutcomeDownloaded, ""},
		{9, 0, scrape.OutcomeSkipped, scrape.ReasonMalformedRow},
		{10, 9, scrape.OutcomeSkipped, scrape.ReasonNoLink},
		{11, 1, scrape.OutcomeSkipped, scrape.ReasonDuplicateRow},
		{12, 0, scrape.OutcomeSkipped, scrape.ReasonMalformedRow},
		{13, 11, scrape.OutcomeDownloaded, ""},
	}
	if len(ledger) != len(want) {
		for _, r := range ledger {
			t.Logf("%+v", r)
		}
		t.Fatalf("%d ledger rows, want %d", len(ledger), len(want))
	}
	for i, w := range want {
		r := ledger[i]
		if r.Line != w.line || r.ImdbID != w.id || r.Outcome != w.outcome || r.Reason != w.reason {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
		if r.Reason == scrape.ReasonMalformedRow && !strings.Contains(r.Error, fmt.Sprintf("line %d", w.line)) {
			t.Errorf("line %d: error %q does not name the line", w.line, r.Error)
		}
	}
	if n := res.Summary["reasons"].(map[string]int)[scrape.ReasonMalformedRow]; n != 5 {
		t.Errorf("summary: %d malformed rows, want 5", n)
	}
}

func TestLoadCSV(t *testing.T) {
	dir := t.TempDir()
	p := writeCSV(t, dir, []string{csvRow(1, "")})
	data := mustRead(t, p)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/movies.csv" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	good := "ad4cf8d4a8aac7f39db2fe1c4d9d2f8fbc1f9ba80c3e3e5b6e19b1e2a5c0f3f1"
	tests := []struct {
		name, src, sha, errHas string
	}{
		{"file", p, "", ""},
		{"url", srv.URL + "/movies.csv", "", ""},
		{"url 404", srv.URL + "/nope.csv", "", "404"},
		{"sha mismatch", p, good, "sha256 mismatch: want " + good},
		{"missing file", filepath.Join(dir, "nope.csv"), "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scrape.LoadCSV(context.Background(), scrape.Config{CSV: tt.src, CSVSHA256: tt.sha})
			if tt.errHas == "" {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("err %v, %d bytes", err, len(got))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err %v, want it to contain %q", err, tt.errHas)
			}
			if tt.sha != "" && !strings.Contains(err.Error(), tt.src) {
				t.Fatalf("err %v does not name the file", err)
			}
		})
	}
}

func TestStageIncremental(t *testing.T) {
	cdn := newFakeCDN(t)
	dir := t.TempDir()
	lines := []string{csvRow(1, "/p/1/ok.jpg"), csvRow(2, "/p/2/ok.jpg"), csvRow(3, "/p/3/missing.jpg"), csvRow(4, "")}
	cfg := testConfig(writeCSV(t, dir, lines), cdn.URL)
	store := filepath.Join(t.TempDir(), "posters")
	if _, _, err := runStage(context.Background(), t, cfg, newDirs(t, store)); err != nil {
		t.Fatal(err)
	}

	// Same CSV, same store: nothing to fetch, not even robots.txt.
	before, beforeAll := cdn.requests(), cdn.all.Load()
	res, ledger, err := runStage(context.Background(), t, cfg, newDirs(t, store))
	if err != nil {
		t.Fatal(err)
	}
	if n := cdn.all.Load() - beforeAll; n != 0 {
		t.Errorf("rerun made %d requests, want 0", n)
	}
	wantOutcomes := []string{scrape.OutcomePresent, scrape.OutcomePresent, scrape.OutcomeFailed, scrape.OutcomeSkipped}
	for i, w := range wantOutcomes {
		if ledger[i].Outcome != w {
			t.Errorf("rerun row %d: %+v, want %s", i, ledger[i], w)
		}
	}
	if r := ledger[2]; r.Reason != "http_404" || r.Attempts != 0 {
		t.Errorf("recent failure: %+v, want http_404 from the state, 0 attempts", r)
	}
	if r := ledger[0]; r.Source != scrape.SourceStore || r.SHA256 == "" || r.Path != "1.jpg" {
		t.Errorf("present row: %+v", r)
	}
	next, _ := time.Parse(time.RFC3339, res.Summary["next_retry_at"].(string))
	if d := time.Until(next); d < cfg.RetryFailedAfter-time.Minute || d > cfg.RetryFailedAfter {
		t.Errorf("next_retry_at %v is not about retry_failed_after from now", res.Summary["next_retry_at"])
	}

	// Row 2's link changes: only it is fetched.
	lines[1] = csvRow(2, "/p/22/ok.jpg")
	cfg.CSV = writeCSV(t, dir, lines)
	before = cdn.requests()
	_, ledger, err = runStage(context.Background(), t, cfg, newDirs(t, store))
	if err != nil {
		t.Fatal(err)
	}
	if ledger[0].Outcome != scrape.OutcomePresent || ledger[1].Outcome != scrape.OutcomeDownloaded || ledger[2].Attempts != 0 {
		t.Errorf("after a link change: %+v", ledger[:3])
	}
	if !bytes.Equal(mustRead(t, filepath.Join(store, "2.jpg")), posterJPEG(t, 22)) {
		t.Error("2.jpg is not the new link's poster")
	}
	if n := cdn.requests() - before; n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	// A failure older than retry_failed_after is tried again.
	cfg.RetryFailedAfter = 0
	before = cdn.requests()
	_, ledger, err = runStage(context.Background(), t, cfg, newDirs(t, store))
	if err != nil {
		t.Fatal(err)
	}
	if r := ledger[2]; r.Outcome != scrape.OutcomeFailed || r.Attempts != 1 || cdn.requests()-before != 1 {
		t.Errorf("old failure not retried: %+v, %d requests", r, cdn.requests()-before)
	}

	// A damaged store file is fetched again.
	if err := os.WriteFile(filepath.Join(store, "1.jpg"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ledger, err = runStage(context.Background(), t, cfg, newDirs(t, store))
	if err != nil {
		t.Fatal(err)
	}
	if ledger[0].Outcome != scrape.OutcomeDownloaded {
		t.Errorf("damaged file: %+v", ledger[0])
	}
}

// TestStageInterruptAndResume cancels a run midway, reruns it, and compares
// the end state with an uninterrupted run.
func TestStageInterruptAndResume(t *testing.T) {
	cdn := newFakeCDN(t)
	cdn.latency = 20 * time.Millisecond
	var lines []string
	for id := 1; id <= 60; id++ {
		path := fmt.Sprintf("/p/%d/ok.jpg", id)
		switch id % 10 {
		case 3:
			path = fmt.Sprintf("/p/%d/missing.jpg", id)
		case 7:
			path = fmt.Sprintf("/p/%d/html.jpg", id)
		}
		lines = append(lines, csvRow(id, path))
	}
	cfg := testConfig(writeCSV(t, t.TempDir(), lines), cdn.URL)
	cfg.Parallelism = 3

	// Reference: one uninterrupted run.
	ref := newDirs(t, "")
	_, refLedger, err := runStage(context.Background(), t, cfg, ref)
	if err != nil {
		t.Fatal(err)
	}

	// Interrupted run: cancel once a dozen posters are in the store.
	store := filepath.Join(t.TempDir(), "posters")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for {
			files, _ := filepath.Glob(filepath.Join(store, "*.jpg"))
			if len(files) >= 12 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	first := newDirs(t, store)
	_, _, err = runStage(ctx, t, cfg, first)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(first.out, scrape.LedgerFile)); err == nil {
		t.Error("interrupted run wrote a ledger")
	}
	files, _ := filepath.Glob(filepath.Join(store, "*.jpg"))
	if len(files) >= 50 {
		t.Fatalf("cancel came too late to test anything: %d posters", len(files))
	}
	assertNoTemp(t, store)

	var logs syncBuffer
	cfg.ProgressEvery = 20 * time.Millisecond
	d := newDirs(t, store)
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	_, ledger, err := runStageEnv(context.Background(), t, cfg, stages.Env{OutDir: d.out, PosterStore: d.store, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if s := logs.String(); !strings.Contains(s, "msg=progress task=scrape") || strings.Count(s, `msg="scrape done"`) != 1 {
		t.Errorf("logs: %s", s)
	}
	present := 0
	for i, r := range ledger {
		want := refLedger[i]
		if r.Outcome == scrape.OutcomePresent {
			present++
			r.Outcome, r.Source, r.URL = scrape.OutcomeDownloaded, want.Source, want.URL
		}
		if r.Line != want.Line || r.Outcome != want.Outcome || r.Reason != want.Reason || r.SHA256 != want.SHA256 {
			t.Errorf("row %d after resume: %+v, uninterrupted: %+v", i, ledger[i], want)
		}
	}
	if present == 0 {
		t.Error("resume fetched everything again")
	}
	assertSameStore(t, ref.store, store)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left in the store: %s", e.Name())
		}
	}
}

func assertSameStore(t *testing.T, a, b string) {
	t.Helper()
	fa, _ := filepath.Glob(filepath.Join(a, "*.jpg"))
	fb, _ := filepath.Glob(filepath.Join(b, "*.jpg"))
	if len(fa) != len(fb) {
		t.Fatalf("stores hold %d and %d posters", len(fa), len(fb))
	}
	for _, f := range fa {
		if !bytes.Equal(mustRead(t, f), mustRead(t, filepath.Join(b, filepath.Base(f)))) {
			t.Errorf("%s differs", filepath.Base(f))
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
