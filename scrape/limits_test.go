package scrape_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/scrape"
)

func TestLimitsFile(t *testing.T) {
	dir := t.TempDir()
	// An output made before limits were recorded: the defaults of that time.
	if l, err := scrape.ReadLimits(dir); err != nil || l.MaxPixels != poster.DefaultMaxPixels || l.CSV != moviegenre.DefaultLimits() {
		t.Errorf("no file: %+v, %v", l, err)
	}
	want := scrape.Limits{MaxPixels: 123, CSV: moviegenre.Limits{MaxLineBytes: 10, MaxFieldBytes: 5}}
	if err := scrape.WriteLimits(dir, want); err != nil {
		t.Fatal(err)
	}
	if l, err := scrape.ReadLimits(dir); err != nil || l != want {
		t.Errorf("round trip: %+v, %v", l, err)
	}
	for _, bad := range []string{"{", `{"max_pixels": 0, "csv": {"max_line_bytes": 1, "max_field_bytes": 1}}`} {
		os.WriteFile(filepath.Join(dir, scrape.LimitsFile), []byte(bad), 0o644)
		if _, err := scrape.ReadLimits(dir); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
