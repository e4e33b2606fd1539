package scrape_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/internal/procstat"
)

// bombSize is what one gzip bomb inflates to (its body is ~130 KB). Eight
// in flight inflated by colly (its old behaviour) take over 1 GiB.
const bombSize = 128 << 20

func gzipBomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zero := make([]byte, 1<<20)
	for range bombSize >> 20 {
		zw.Write(zero)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGzipBombsCapped: bodies that colly would gunzip (gzip named in the
// Content-Type, or a .xml.gz path) or that come with Content-Encoding:
// gzip are capped at max_body_bytes after decoding. Many in flight keep the
// process's peak RSS far below what inflating them would take. Before the
// fix every Content-Type bomb was inflated to 128 MiB in memory.
func TestGzipBombsCapped(t *testing.T) {
	bomb := gzipBomb(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/ct.jpg"):
			w.Header().Set("Content-Type", "application/x-gzip")
		case strings.HasSuffix(r.URL.Path, "/ctjpeg.jpg"):
			w.Header().Set("Content-Type", "image/jpeg; gzip")
		case strings.HasSuffix(r.URL.Path, "/ce.jpg"):
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Content-Encoding", "gzip")
		case strings.HasSuffix(r.URL.Path, ".xml.gz"):
			w.Header().Set("Content-Type", "application/octet-stream")
		default:
			http.NotFound(w, r)
			return
		}
		w.Write(bomb)
	}))
	defer srv.Close()

	var lines []string
	kinds := []string{"ct.jpg", "ctjpeg.jpg", "ce.jpg", "p.xml.gz"}
	for i := range 24 {
		lines = append(lines, csvRow(100+i, fmt.Sprintf("/b/%d/%s", i, kinds[i%len(kinds)])))
	}
	dir := t.TempDir()
	cfg := testConfig(writeCSV(t, dir, lines), srv.URL)
	cfg.Parallelism = 8
	cfg.Timeout = 30 * time.Second // a slow machine must not turn this into a timeout test
	cfg.Retries = 0

	// Reset the peak to the current RSS (Linux ≥ 4.0), so that earlier
	// tests in this binary do not count.
	procstat.ResetPeakRSS()
	before := peakRSS(t)
	_, ledger, err := runStage(context.Background(), t, cfg, newDirs(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	peak := peakRSS(t)
	for _, row := range ledger {
		if row.Outcome != "failed" || (row.Reason != "too_large" && row.Reason != "not_image") {
			t.Errorf("line %d (%s): %s/%s, want failed with too_large or not_image", row.Line, row.URL, row.Outcome, row.Reason)
		}
	}
	const limit = 400 << 20
	t.Logf("peak RSS %d MiB (before the scrape %d MiB), limit %d MiB; 8 inflated bombs would take %d MiB",
		peak>>20, before>>20, limit>>20, 8*bombSize>>20)
	if peak > limit {
		t.Fatalf("peak RSS %d MiB exceeds %d MiB: a body was inflated past max_body_bytes", peak>>20, limit>>20)
	}
}

// TestDripAndStallTimeOut: a server that sends its headers and then one
// byte now and then, or nothing at all, fails the row as timeout: the
// request timeout bounds the whole response, body included.
func TestDripAndStallTimeOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			if strings.HasSuffix(r.URL.Path, "/drip.jpg") {
				io.WriteString(w, "\xff")
				w.(http.Flusher).Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := testConfig(writeCSV(t, dir, []string{csvRow(1, "/x/1/drip.jpg"), csvRow(2, "/x/2/stall.jpg")}), srv.URL)
	cfg.Retries = 0
	_, ledger, err := runStage(context.Background(), t, cfg, newDirs(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range ledger {
		if row.Outcome != "failed" || row.Reason != "timeout" {
			t.Errorf("line %d: %s/%s (%s), want failed/timeout", row.Line, row.Outcome, row.Reason, row.Error)
		}
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
