package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// quotingStage fails with an error that quotes 3 MB of its input, as a
// stage reading a CR-only CSV (one 3 MB "line") might.
type quotingStage struct{ *fakeStage }

func (q quotingStage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	return stages.Result{}, errors.New("scrape: header is " + strings.Repeat("é,\r", 1<<20))
}

// TestErrorTextIsCapped: whatever a stage's error quotes, run.json and
// log.jsonl hold at most pipeline.MaxErrorText of it, with its length.
func TestErrorTextIsCapped(t *testing.T) {
	h := newHarness(t)
	h.wrap = func(f *fakeStage) stages.Stage {
		if f.name == stages.Scrape {
			return quotingStage{f}
		}
		return f
	}
	rec, _, err := h.run(pipeline.Options{ExtraLog: pipeline.JSONLogFile})
	if err == nil {
		t.Fatal("no error")
	}
	const full = len("scrape: header is ") + 4<<20
	if len(rec.Error) > pipeline.MaxErrorText+32 || !strings.HasSuffix(rec.Error, "… (4194322 bytes)") || full != 4194322 {
		t.Errorf("run error %d bytes, ends %q", len(rec.Error), rec.Error[max(0, len(rec.Error)-40):])
	}
	runDir := filepath.Join(h.workdir, "runs", rec.ID)
	for _, f := range []string{"run.json", "log.jsonl"} {
		fi, err := os.Stat(filepath.Join(runDir, f))
		if err != nil {
			t.Fatal(err)
		}
		// Three copies at most (step error, run error, log lines), each
		// capped, JSON escaping included.
		if fi.Size() > 16<<10 {
			t.Errorf("%s is %d bytes: the error was copied whole", f, fi.Size())
		}
	}
}
