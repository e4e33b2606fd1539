package progress_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/app/progress"
)

// TestLogsAreNumbers: off a terminal, progress is log records whose rate
// and counts are JSON numbers (a string rate broke log queries).
func TestLogsAreNumbers(t *testing.T) {
	var buf bytes.Buffer
	p := progress.Logs{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), Every: 5 * time.Millisecond}
	task := p.Start("encode", 10)
	for i := 0; i < 10; i++ {
		task.Add(1)
		time.Sleep(2 * time.Millisecond)
	}
	task.Note("shard 1")
	task.Done()
	task.Done() // twice is harmless
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["msg"] != "progress done" || last["done"] != 10.0 || last["total"] != 10.0 || last["note"] != "shard 1" {
		t.Errorf("last record: %v", last)
	}
	if _, ok := last["rate_per_s"].(float64); !ok {
		t.Errorf("rate_per_s is %T, want a number", last["rate_per_s"])
	}
}

// TestBarFitsWidth: a bar with a long note still ends its line, once.
func TestBarEndsLine(t *testing.T) {
	var buf bytes.Buffer
	task := progress.Bars{W: &buf}.Start("scrape", 3)
	task.Note("ok 2 failed 1")
	task.Add(3)
	task.Done()
	if s := buf.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, "ok 2 failed 1") {
		t.Errorf("bar output %q", s)
	}
}
