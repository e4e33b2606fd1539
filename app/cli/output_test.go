package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
)

// TestStatusRunsNothing: status of the demo in a fresh working folder
// neither generates data nor starts a server; it says every stage would run.
func TestStatusRunsNothing(t *testing.T) {
	work := filepath.Join(t.TempDir(), "work")
	code, out, errs := run(t, "status", demoConfig, "--workdir", work)
	if code != cli.ExitOK || strings.Count(out, "never run") != 5 || strings.Contains(errs, "demo server") {
		t.Errorf("status: exit %d:\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(work, "demo-data")); err == nil {
		t.Error("status generated demo data")
	}
}

// TestFailedRunSummaryIsOneJSONRecord: off a terminal, a failed run's
// summary is one JSON object on stdout that says why, and every stderr line
// is a JSON object too (the cron log).
func TestFailedRunSummaryIsOneJSONRecord(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	csv := filepath.Join(dir, "m.csv")
	os.WriteFile(csv, []byte("imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\n1,x,A (2001),5,Drama,http://127.0.0.1:1/1.jpg\n"), 0o644)
	os.WriteFile(cfg, []byte("version: 1\nname: f\nscrape:\n  csv: m.csv\n  retries: 0\n"), 0o644)
	code, out, errs := run(t, "run", cfg, "--workdir", filepath.Join(dir, "work"))
	if code != cli.ExitFailed {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, l := range strings.Split(strings.TrimSpace(out+errs), "\n") {
		if l != "" && !json.Valid([]byte(l)) {
			t.Errorf("not one JSON object: %q", l)
		}
	}
	{
		var rec map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &rec); err != nil || rec["msg"] != "run summary" || rec["cause"] == nil {
			t.Errorf("summary %q: %v", out, err)
		}
	}
}
