// Package mirror serves a MovieGenre CSV's poster links and IMDb title pages
// from a local folder of posters, so the scrape stage can run on real data
// without the network. Point the scraper at it with url_rewrite rules such as
//
//	^https?://images-na\.ssl-images-amazon\.com/ → http://127.0.0.1:PORT/
//	^https?://www\.imdb\.com/                    → http://127.0.0.1:PORT/
//
// It answers:
//   - a CSV row's Poster URL path (/images/M/MV5B...jpg): the poster file of
//     the first id in the CSV with that link and a file in the folder, else 404;
//   - /title/tt0114709: a tiny HTML page whose og:image is /poster/114709.jpg,
//     for ids with a file, else 404;
//   - /poster/<id>.jpg: the file;
//   - /robots.txt: allow everything.
//
// Faults can be injected for testing retries: a transient 503 and a stall
// (longer than any sane client timeout), each decided per (path, attempt) by a
// seeded hash so runs are reproducible. Only the first FaultyAttempts requests
// of a path can fault, so a client that retries always gets through.
package mirror

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postergenre/postergenre/internal/httpserve"
	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/scrape"
)

// Options configure a Mirror.
type Options struct {
	CSV        string // MovieGenre-format CSV (ISO-8859-1)
	PostersDir string // folder of <imdbId>.jpg
	// Latency is added to every answer (robots.txt included).
	Latency time.Duration
	// FailRate is the probability that a request answers 503 (transient).
	FailRate float64
	// StallRate is the probability that a request hangs for StallFor, or
	// until the client gives up (default StallFor: 1 minute).
	StallRate float64
	StallFor  time.Duration
	// Seed makes the faults reproducible; the same seed faults the same
	// (path, attempt) pairs.
	Seed uint64
	// FaultyAttempts is how many first requests of a path may fault
	// (default 1: a request that failed succeeds when retried).
	FaultyAttempts int
}

// Stats counts what the mirror answered.
type Stats struct {
	Requests int64 // every request
	Posters  int64 // 200 with an image
	Pages    int64 // 200 with a title page
	NotFound int64
	Faults   int64 // injected 503s
	Stalls   int64 // injected stalls
}

// Mirror is an http.Handler; see the package comment.
type Mirror struct {
	opts   Options
	byPath map[string]int64 // poster link path → id whose file answers it
	files  map[int64]string // id → poster file

	mu       sync.Mutex
	attempts map[string]int // requests seen per path

	requests, posters, pages, notFound, faults, stalls atomic.Int64
}

var _ http.Handler = (*Mirror)(nil)

// New reads the CSV and lists the posters folder.
func New(opts Options) (*Mirror, error) {
	if opts.FailRate < 0 || opts.FailRate > 1 || opts.StallRate < 0 || opts.StallRate > 1 {
		return nil, fmt.Errorf("mirror: fail and stall rates must be in [0,1], got %g and %g", opts.FailRate, opts.StallRate)
	}
	if opts.StallFor <= 0 {
		opts.StallFor = time.Minute
	}
	if opts.FaultyAttempts <= 0 {
		opts.FaultyAttempts = 1
	}
	m := &Mirror{opts: opts, byPath: map[string]int64{}, files: map[int64]string{}, attempts: map[string]int{}}
	entries, err := os.ReadDir(opts.PostersDir)
	if err != nil {
		return nil, fmt.Errorf("mirror: posters: %w", err)
	}
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), ".jpg")
		if id, err := strconv.ParseInt(stem, 10, 64); ok && err == nil && !e.IsDir() {
			m.files[id] = filepath.Join(opts.PostersDir, e.Name())
		}
	}
	f, err := regular.Open(opts.CSV)
	if err != nil {
		return nil, fmt.Errorf("mirror: csv: %w", err)
	}
	defer f.Close()
	if err := moviegenre.ForEach(f, moviegenre.Options{Name: opts.CSV}, m.addLink); err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	return m, nil
}

// addLink maps a row's Poster link path to the row's id, when the path has
// no id yet (CSV order) and the id has a file. Malformed rows are the
// scraper's business, not ours: the mirror reads the rows scrape reads.
func (m *Mirror) addLink(r moviegenre.Row) error {
	if r.Err != nil || r.Fields[moviegenre.ColPoster] == "" {
		return nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(r.Fields[moviegenre.ColID]), 10, 64)
	if err != nil {
		return nil
	}
	u, err := url.Parse(strings.TrimSpace(r.Fields[moviegenre.ColPoster]))
	if err != nil {
		return nil
	}
	if _, taken := m.byPath[u.Path]; taken {
		return nil
	}
	if _, ok := m.files[id]; ok {
		m.byPath[u.Path] = id
	}
	return nil
}

// Posters is how many poster files the mirror can serve.
func (m *Mirror) Posters() int { return len(m.files) }

// Stats returns the counters so far.
func (m *Mirror) Stats() Stats {
	return Stats{
		Requests: m.requests.Load(), Posters: m.posters.Load(), Pages: m.pages.Load(),
		NotFound: m.notFound.Load(), Faults: m.faults.Load(), Stalls: m.stalls.Load(),
	}
}

var (
	titleRe  = regexp.MustCompile(`^/title/tt(\d+)/?$`)
	posterRe = regexp.MustCompile(`^/poster/(\d+)\.jpg$`)
)

func (m *Mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	ctx := r.Context()
	if !sleep(ctx, m.opts.Latency) {
		return
	}
	if r.URL.Path == "/robots.txt" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "User-agent: *\nAllow: /\n")
		return
	}
	if m.fault(w, r) {
		return
	}
	if g := titleRe.FindStringSubmatch(r.URL.Path); g != nil {
		id, _ := strconv.ParseInt(g[1], 10, 64)
		if _, ok := m.files[id]; !ok {
			m.notFoundAnswer(w, r)
			return
		}
		m.pages.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		img := fmt.Sprintf("http://%s/poster/%d.jpg", r.Host, id)
		fmt.Fprintf(w, "<!doctype html><html><head><title>tt%07d</title>\n<meta property=\"og:image\" content=\"%s\">\n</head><body></body></html>\n",
			id, html.EscapeString(img))
		return
	}
	id, ok := m.byPath[r.URL.Path]
	if g := posterRe.FindStringSubmatch(r.URL.Path); !ok && g != nil {
		id, _ = strconv.ParseInt(g[1], 10, 64)
		_, ok = m.files[id]
	}
	if !ok {
		m.notFoundAnswer(w, r)
		return
	}
	data, err := regular.ReadFile(m.files[id])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	m.posters.Add(1)
	w.Header().Set("Content-Type", http.DetectContentType(data))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

func (m *Mirror) notFoundAnswer(w http.ResponseWriter, r *http.Request) {
	m.notFound.Add(1)
	http.NotFound(w, r)
}

// fault injects a 503 or a stall for the first FaultyAttempts requests of a
// path, as the seeded hash of (path, attempt) decides. It reports whether it
// answered.
func (m *Mirror) fault(w http.ResponseWriter, r *http.Request) bool {
	if m.opts.FailRate == 0 && m.opts.StallRate == 0 {
		return false
	}
	m.mu.Lock()
	attempt := m.attempts[r.URL.Path]
	m.attempts[r.URL.Path] = attempt + 1
	m.mu.Unlock()
	if attempt >= m.opts.FaultyAttempts {
		return false
	}
	switch {
	case m.chance("stall", r.URL.Path, attempt) < m.opts.StallRate:
		m.stalls.Add(1)
		sleep(r.Context(), m.opts.StallFor)
		http.Error(w, "stalled", http.StatusServiceUnavailable) // if the client is still there
		return true
	case m.chance("fail", r.URL.Path, attempt) < m.opts.FailRate:
		m.faults.Add(1)
		http.Error(w, "injected fault", http.StatusServiceUnavailable)
		return true
	}
	return false
}

// chance is a uniform number in [0,1) fixed by (seed, kind, path, attempt).
func (m *Mirror) chance(kind, path string, attempt int) float64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], m.opts.Seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(attempt))
	h.Write(b[:])
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(path))
	// fnv's low bits mix poorly for similar inputs: finish with splitmix64.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Serve answers with h on ln until ctx is done, then shuts down (waiting up
// to 5 s for requests in flight; stalled ones, whose request context ends
// with ctx, are cut).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	return httpserve.Serve(ctx, srv, ln, 5*time.Second, nil)
}

// ListenAndServe is Serve on a new TCP listener at addr ("127.0.0.1:0" for
// any free port); ready receives the base URL (http://host:port) once it
// listens.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, ready func(baseURL string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	if ready != nil {
		ready("http://" + ln.Addr().String())
	}
	return Serve(ctx, ln, h)
}

// Rewrites are the scrape url_rewrite rules that send the CSV's CDN and IMDb
// links to a mirror at baseURL (http://host:port).
func Rewrites(baseURL string) []scrape.Rewrite {
	base := strings.TrimSuffix(baseURL, "/") + "/"
	return []scrape.Rewrite{
		{Pattern: `^https?://images-na\.ssl-images-amazon\.com/`, Replace: base},
		{Pattern: `^https?://www\.imdb\.com/`, Replace: base},
	}
}
