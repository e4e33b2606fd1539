package scrape

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/postergenre/postergenre/internal/regular"
)

// csvInput holds the CSV bytes that InputIdentity hashed until Run uses
// them, so one run reads the CSV once: the bytes the stage's fingerprint
// names are exactly the bytes stored in its output and scraped. (Reading
// twice let a CSV that changed in between be stored under the other
// version's fingerprint, and fetched a URL twice.)
type csvInput struct {
	mu   sync.Mutex
	data []byte
}

// put keeps data for the next Run.
func (c *csvInput) put(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data = data
}

// take returns and forgets the kept bytes (nil when none).
func (c *csvInput) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.data
	c.data = nil
	return d
}

// maxCSVBytes caps a CSV fetched over HTTP (the real one is 9 MB).
const maxCSVBytes = 1 << 30

// LoadCSV reads cfg.CSV — a file path or an http(s) URL — once, and checks
// it against cfg.CSVSHA256 when set. A URL is fetched with the scrape
// timeout (for the whole response) and retries, and at most maxCSVBytes.
func LoadCSV(ctx context.Context, cfg Config) ([]byte, error) {
	var data []byte
	var err error
	if strings.HasPrefix(cfg.CSV, "http://") || strings.HasPrefix(cfg.CSV, "https://") {
		data, err = getCSV(ctx, cfg)
	} else {
		data, err = regular.ReadFile(cfg.CSV)
	}
	if err != nil {
		return nil, fmt.Errorf("scrape: read csv: %w", err)
	}
	if cfg.CSVSHA256 != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != cfg.CSVSHA256 {
			return nil, fmt.Errorf("scrape: csv %s: sha256 mismatch: want %s, got %s", cfg.CSV, cfg.CSVSHA256, got)
		}
	}
	return data, nil
}

// getCSV fetches the CSV over HTTP with retries on 5xx, 429, timeouts and
// connection errors, like a poster (backoff and Retry-After included).
func getCSV(ctx context.Context, cfg Config) ([]byte, error) {
	client := &http.Client{Transport: newTransport(cfg), Timeout: cfg.Timeout}
	defer client.CloseIdleConnections()
	bo := &fetcher{cfg: cfg}
	for n := 1; ; n++ {
		data, retryAfter, err := getCSVOnce(ctx, client, cfg)
		if err == nil || retryAfter < 0 || n > cfg.Retries || ctx.Err() != nil {
			if err != nil && n > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, n)
			}
			return data, err
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
func getCSVOnce(ctx context.Context, client *http.Client, cfg Config) (_ []byte, retryAfter time.Duration, _ error) {
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
			return nil, 0, err
		}
		return nil, -1, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET %s: %s", u, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), err
		}
		return nil, -1, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCSVBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(data) > maxCSVBytes {
		return nil, -1, fmt.Errorf("GET %s: larger than %d bytes", u, maxCSVBytes)
	}
	return data, 0, nil
}
