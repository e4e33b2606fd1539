package scrape_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/scrape/scrapeconfig"
)

// TestHeaderOnlyCSVFailsAtScrape: a CSV with a header and no rows fails
// here, naming the file, instead of at train with a message about empty
// splits.
func TestHeaderOnlyCSVFailsAtScrape(t *testing.T) {
	for _, text := range []string{
		"imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\n",
		"imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n",
		"imdbId,Imdb Link,Title,IMDB Score,Genre,Poster",
	} {
		csv := filepath.Join(t.TempDir(), "header-only.csv")
		if err := os.WriteFile(csv, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := scrapeconfig.Default()
		cfg.CSV = csv
		_, _, err := runStage(context.Background(), t, cfg, newDirs(t, ""))
		if err == nil || !strings.Contains(err.Error(), "header-only.csv: no data rows") {
			t.Errorf("%q: error %v, want one naming the file and saying it has no data rows", text, err)
		}
	}
}
