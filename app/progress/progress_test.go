package progress_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/progress"
)

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
