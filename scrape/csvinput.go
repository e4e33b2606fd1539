package scrape

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/stages"
)

// The CSV is never held in memory whole. A URL is streamed into a
// temporary file (under $TMPDIR) and hashed as it arrives, under
// maxCSVBytes; a local file is hashed by streaming it. Run then reads the
// rows from a file, and stores in its output either a copy (a download, or
// a local CSV of at most csvCopyMax bytes: the real one is 9 MB) or, for a
// bigger local CSV, a reference (CSVRefFile: its path and sha256) instead of
// a gigabyte copy. Later stages find the CSV through CSVPath.

// maxCSVBytes caps a CSV fetched over HTTP (the real one is 9 MB).
const maxCSVBytes = 1 << 30

// csvCopyMax is the largest local CSV copied into the stage output.
const csvCopyMax = 64 << 20

// CSVRefFile replaces CSVFile in an output whose local CSV was too big to
// copy: {"path": …, "sha256": …, "bytes": …}, the path relative to the
// working folder when the CSV is inside it.
const CSVRefFile = "csv.json"

// csvRef is CSVRefFile's content.
type csvRef struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// InWorkdir says Path is relative to the working folder.
	InWorkdir bool `json:"in_workdir,omitempty"`
}

// csvSource is the CSV one run reads: a local file, or a downloaded copy in
// a temporary file, with the sha256 of its bytes.
type csvSource struct {
	path   string
	temp   bool // a download: removed once the run is done with it
	sha256 string
	size   int64
}

func (c *csvSource) remove() {
	if c != nil && c.temp {
		os.Remove(c.path)
	}
}

// csvInput holds the CSV that InputIdentity hashed until Run uses it, so
// one run reads the CSV once: the bytes the stage's fingerprint names are
// exactly the bytes stored in its output and scraped (Run checks a local
// file against that hash as it reads it again).
type csvInput struct {
	mu  sync.Mutex
	src *csvSource
}

// put keeps src for the next Run (dropping an earlier one).
func (c *csvInput) put(src *csvSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src.remove()
	c.src = src
}

// take returns and forgets the kept source (nil when none).
func (c *csvInput) take() *csvSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.src
	c.src = nil
	return s
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// openCSV finds cfg.CSV — a file path or an http(s) URL — and hashes it,
// checking it against cfg.CSVSHA256 when set. A URL is fetched once into a
// temporary file with the scrape timeout (for the whole response), retries,
// and at most maxCSVBytes; a file must be a regular file.
func openCSV(ctx context.Context, cfg Config) (*csvSource, error) {
	var src *csvSource
	var err error
	if isURL(cfg.CSV) {
		src, err = getCSV(ctx, cfg)
	} else {
		src, err = hashLocal(ctx, cfg.CSV)
	}
	if err != nil {
		return nil, fmt.Errorf("scrape: read csv: %w", err)
	}
	if cfg.CSVSHA256 != "" && src.sha256 != cfg.CSVSHA256 {
		src.remove()
		return nil, fmt.Errorf("scrape: csv %s: sha256 mismatch: want %s, got %s", cfg.CSV, cfg.CSVSHA256, src.sha256)
	}
	return src, nil
}

func hashLocal(ctx context.Context, path string) (*csvSource, error) {
	f, err := regular.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, regular.Reader(ctx, f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &csvSource{path: path, sha256: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

// LoadCSV reads cfg.CSV whole (see openCSV); for tests and small tools —
// the stage itself streams it.
func LoadCSV(ctx context.Context, cfg Config) ([]byte, error) {
	src, err := openCSV(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer src.remove()
	return regular.ReadFile(src.path)
}

// getCSV fetches the CSV over HTTP with retries on 5xx, 429, timeouts and
// connection errors, like a poster (backoff and Retry-After included).
func getCSV(ctx context.Context, cfg Config) (*csvSource, error) {
	client := &http.Client{Transport: newTransport(cfg), Timeout: cfg.Timeout}
	defer client.CloseIdleConnections()
	bo := &fetcher{cfg: cfg}
	for n := 1; ; n++ {
		src, retryAfter, err := getCSVOnce(ctx, client, cfg)
		if err == nil || retryAfter < 0 || n > cfg.Retries || ctx.Err() != nil {
			if err != nil && n > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, n)
			}
			return src, err
		}
		wait, ok := bo.backoff(n, retryAfter)
		if !ok {
			return nil, fmt.Errorf("%w (Retry-After %s exceeds backoff_max)", err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// getCSVOnce makes one attempt. retryAfter is < 0 when retrying is
// pointless, else the server's Retry-After (0 when none).
func getCSVOnce(ctx context.Context, client *http.Client, cfg Config) (_ *csvSource, retryAfter time.Duration, _ error) {
	u := cfg.CSV
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, -1, err
	}
	req.Header.Set("User-Agent", cfg.UserAgent)
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, fmt.Errorf("GET %s: %w", u, err)
		}
		return nil, -1, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET %s: %s", u, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), err
		}
		return nil, -1, err
	}
	f, err := os.CreateTemp("", "postergenre-csv-*")
	if err != nil {
		return nil, -1, fmt.Errorf("GET %s: %w", u, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, maxCSVBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	src := &csvSource{path: f.Name(), temp: true, sha256: hex.EncodeToString(h.Sum(nil)), size: n}
	switch {
	case err != nil:
		src.remove()
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	case n > maxCSVBytes:
		src.remove()
		return nil, -1, fmt.Errorf("GET %s: larger than %d bytes", u, maxCSVBytes)
	}
	return src, 0, nil
}

// storeCSV puts the run's CSV into the output folder: a copy (CSVFile) of
// a download or of a local CSV of at most csvCopyMax bytes, else a
// reference (CSVRefFile). It returns the file the rows are then read from.
// A local file is checked against the hash the fingerprint used.
func storeCSV(ctx context.Context, src *csvSource, env stages.Env) (string, error) {
	dst := filepath.Join(env.OutDir, CSVFile)
	if src.temp {
		if err := os.Rename(src.path, dst); err == nil {
			src.temp = false
			return dst, nil
		}
	}
	if src.temp || src.size <= csvCopyMax {
		return dst, copyChecked(ctx, src, dst)
	}
	ref := csvRef{Path: src.path, SHA256: src.sha256, Bytes: src.size}
	if abs, err := filepath.Abs(src.path); err == nil && env.Workdir != "" {
		if wd, err := filepath.Abs(env.Workdir); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && filepath.IsLocal(rel) {
				ref.Path, ref.InWorkdir = filepath.ToSlash(rel), true
			} else {
				ref.Path = abs
			}
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(env.OutDir, CSVRefFile), ref); err != nil {
		return "", err
	}
	return src.path, nil
}

// copyChecked copies src into dst atomically, streaming, and fails when the
// bytes are not the ones hashed before (the file changed in between).
func copyChecked(ctx context.Context, src *csvSource, dst string) error {
	in, err := regular.Open(src.path)
	if err != nil {
		return err
	}
	defer in.Close()
	h := sha256.New()
	if _, err := atomicfile.WriteFrom(dst, io.TeeReader(regular.Reader(ctx, in), h), 0o644); err != nil {
		return err
	}
	return checkSum(h, src)
}

func checkSum(h hash.Hash, src *csvSource) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != src.sha256 {
		return fmt.Errorf("%s changed while the run read it (sha256 %s, then %s): run again", src.path, src.sha256, got)
	}
	return nil
}

// CSVPath is the MovieGenre CSV of the scrape output in dir: its copy, or
// the file its reference names (workdir resolves a relative one).
func CSVPath(dir, workdir string) (string, error) {
	p := filepath.Join(dir, CSVFile)
	if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	ref, err := readCSVRef(dir)
	if err != nil {
		return "", err
	}
	if ref.InWorkdir {
		return filepath.Join(workdir, filepath.FromSlash(ref.Path)), nil
	}
	return ref.Path, nil
}

func readCSVRef(dir string) (csvRef, error) {
	var ref csvRef
	path := filepath.Join(dir, CSVRefFile)
	b, err := regular.ReadFile(path)
	if err != nil {
		return ref, fmt.Errorf("scrape output %s: neither %s nor %s: %w", dir, CSVFile, CSVRefFile, err)
	}
	if err := json.Unmarshal(b, &ref); err != nil || ref.Path == "" || ref.SHA256 == "" {
		return ref, fmt.Errorf("%s: not a CSV reference (%v)", path, err)
	}
	return ref, nil
}
