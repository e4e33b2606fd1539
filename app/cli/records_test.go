package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/pipeline"
)

// TestHistoryShowsTheOtherRuns: `history` with one corrupt run.json lists
// the good runs, flags the bad one, names its file on stderr and exits 1
// (it used to print no rows at all).
func TestHistoryShowsTheOtherRuns(t *testing.T) {
	work := t.TempDir()
	start := time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC)
	ids := []string{"20261201T023000Z-aaaaaaaa", "20261202T023000Z-bbbbbbbb", "20261203T023000Z-cccccccc"}
	for i, id := range ids {
		dir := filepath.Join(work, "runs", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(pipeline.RunRecord{ID: id, Config: "demo", Status: "ok", Started: start.AddDate(0, 0, i),
			Steps: []pipeline.Step{{Stage: "train", Status: "ran"}}})
		if i == 1 {
			b = []byte("{x")
		}
		if err := os.WriteFile(filepath.Join(dir, "run.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := run(t, "history", "--workdir", work)
	if code != cli.ExitFailed {
		t.Errorf("exit %d, want %d", code, cli.ExitFailed)
	}
	for _, id := range ids {
		if !strings.Contains(out, id) {
			t.Errorf("history lacks %s:\n%s", id, out)
		}
	}
	if !strings.Contains(out, pipeline.HistoryUnreadable) || !strings.Contains(errs, filepath.Join(ids[1], "run.json")) {
		t.Errorf("the damaged run is not flagged or named:\n%s\nstderr: %s", out, errs)
	}
}
