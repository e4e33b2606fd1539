package scrape

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/internal/poster/postertest"
)

func TestParseCSVHeader(t *testing.T) {
	cfg := Config{CSV: "/data/m.csv", MaxPixels: 1}
	parse := func(data string) ([]csvRow, error) {
		p := filepath.Join(t.TempDir(), "m.csv")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return parseCSV(context.Background(), p, cfg, nil)
	}
	if _, err := parse("id,link\r\n1,x\r\n"); err == nil || !strings.Contains(err.Error(), "/data/m.csv: header") {
		t.Fatalf("want a header error naming the file, got %v", err)
	}
	if _, err := parse(""); err == nil {
		t.Fatal("want an error for an empty CSV")
	}
	rows, err := parse("imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n1,l,Am\xe9lie,1,Drama,p\r\n0,l,T,1,G,p\r\n")
	if err != nil || len(rows) != 2 || rows[0].Err != nil || rows[0].ID != 1 || rows[0].Line != 2 || rows[1].Err == nil || rows[1].Line != 3 {
		t.Fatalf("rows %+v, err %v", rows, err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"-1", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	f := &fetcher{cfg: Config{BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}}
	for n := 1; n <= 8; n++ {
		window := min(10*time.Millisecond<<(n-1), 50*time.Millisecond)
		for range 50 {
			d, ok := f.backoff(n, 0)
			if !ok || d < 0 || d > window {
				t.Fatalf("attempt %d: wait %s outside [0, %s]", n, d, window)
			}
		}
	}
	if d, ok := f.backoff(1, 20*time.Millisecond); !ok || d != 20*time.Millisecond {
		t.Errorf("Retry-After 20ms: got %s %v", d, ok)
	}
	if _, ok := f.backoff(1, time.Second); ok {
		t.Error("Retry-After beyond backoff_max must stop the retries")
	}
}

func TestImdbPageURL(t *testing.T) {
	tests := []struct {
		link string
		id   int64
		want string
	}{
		{"http://www.imdb.com/title/tt114709", 114709, "http://www.imdb.com/title/tt0114709"},
		{"http://www.imdb.com/title/tt1234567/", 1234567, "http://www.imdb.com/title/tt1234567/"},
		{"", 42, "http://www.imdb.com/title/tt0000042"},
	}
	for _, tt := range tests {
		if got := imdbPageURL(tt.link, tt.id); got != tt.want {
			t.Errorf("imdbPageURL(%q, %d) = %q, want %q", tt.link, tt.id, got, tt.want)
		}
	}
}

func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 3), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckImage(t *testing.T) {
	good := testJPEG(t, 40, 60)
	tests := []struct {
		name, ct string
		body     []byte
		limit    int
		want     string
	}{
		{"jpeg", "image/jpeg", good, 0, ""},
		{"octet-stream sniffed", "application/octet-stream", good, 0, ""},
		{"no content type sniffed", "", good, 0, ""},
		{"html", "text/html; charset=utf-8", []byte("<html></html>"), 0, ReasonNotImage},
		{"html labelled image", "image/jpeg", []byte("<html></html>"), 0, ReasonNotImage},
		{"truncated", "image/jpeg", good[:len(good)/2], 0, ReasonTruncated},
		{"bomb", "image/png", postertest.PNGHeader(50000, 50000), 0, ReasonTooManyPixels},
		{"too large", "image/jpeg", good, len(good) - 10, ReasonTooLarge},
		{"empty", "image/jpeg", nil, 0, ReasonNotImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkImage(tt.body, tt.ct, 1<<20, 10_000_000, tt.limit)
			if got != tt.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
