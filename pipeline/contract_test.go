package pipeline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// retryStage is a stage whose completed output says when it is due again,
// as scrape's does after failed downloads.
type retryStage struct {
	*fakeStage
	dueAt *time.Time
}

func (r retryStage) RetriesDue(dir string, now time.Time) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err != nil {
		return false, err // the pipeline hands over the completed output
	}
	return !r.dueAt.IsZero() && !now.Before(*r.dueAt), nil
}

func TestRetriesDueRerunsTheStage(t *testing.T) {
	h := newHarness(t)
	var dueAt time.Time
	h.wrap = func(f *fakeStage) stages.Stage {
		if f.name == stages.Scrape {
			return retryStage{f, &dueAt}
		}
		return f
	}
	if _, ran, err := h.run(pipeline.Options{}); err != nil || keys(ran) != "scrape,clean,encode,train,evaluate" {
		t.Fatalf("first run: ran %v, err %v", ran, err)
	}
	tests := []struct {
		name  string
		dueAt time.Time
		plan  string
		want  string
	}{
		{"no failures recorded", time.Time{}, "up to date", ""},
		{"failures not old enough yet", time.Now().Add(time.Hour), "up to date", ""},
		{"failures past retry_failed_after", time.Now().Add(-time.Minute), pipeline.StatusRetriesDue, "scrape"},
	}
	for _, tt := range tests {
		dueAt = tt.dueAt
		var out bytes.Buffer
		if _, _, err := h.run(pipeline.Options{DryRun: true, Out: &out}); err != nil {
			t.Fatalf("%s: dry run: %v", tt.name, err)
		}
		first := strings.SplitN(out.String(), "\n", 2)[0]
		if !strings.HasPrefix(first, "scrape") || !strings.HasSuffix(first, tt.plan) {
			t.Errorf("%s: plan line %q, want status %q", tt.name, first, tt.plan)
		}
		_, ran, err := h.run(pipeline.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		// The fake's output identity is new per production, so downstream
		// reruns too; scrape's own (by content) keeps it cached.
		if got := keys(ran); !strings.HasPrefix(got+",", tt.want+",") || (tt.want == "" && got != "") {
			t.Errorf("%s: ran %q, want %q first", tt.name, got, tt.want)
		}
	}
}

// keeperStage keeps a failed attempt for --resume, as train does.
type keeperStage struct{ *fakeStage }

func (keeperStage) KeepsFailedAttempt() bool { return true }

func TestResumeContinuesFromFailedAttempt(t *testing.T) {
	tests := []struct {
		name     string
		keeps    bool
		resume   bool
		wantPrev bool
	}{
		{"keeper, --resume: gets the failed attempt", true, true, true},
		{"keeper, no --resume: starts over", true, false, false},
		{"other stage, --resume: nothing kept", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			var prev []string
			h.wrap = func(f *fakeStage) stages.Stage {
				if f.name != stages.Train {
					return f
				}
				f.prev = &prev
				if tt.keeps {
					return keeperStage{f}
				}
				return f
			}
			h.failing = stages.Train
			if _, _, err := h.run(pipeline.Options{}); err == nil {
				t.Fatal("train did not fail")
			}
			h.failing = ""
			if _, ran, err := h.run(pipeline.Options{Resume: tt.resume}); err != nil || keys(ran) != "train,evaluate" {
				t.Fatalf("second run: ran %v, err %v", ran, err)
			}
			if got := slices.Contains(prev, "partial.txt"); got != tt.wantPrev {
				t.Errorf("env.Prev held %v, want the failed attempt's partial.txt: %v", prev, tt.wantPrev)
			}
			if left, _ := filepath.Glob(filepath.Join(h.workdir, "stages", "train", ".interrupted-*")); len(left) != 0 {
				t.Errorf("a completed stage left its interrupted attempt: %v", left)
			}
		})
	}
}

// linkStage adds entries to the run folder, as train and evaluate do.
type linkStage struct {
	*fakeStage
	links []stages.RunLink
}

func (l linkStage) RunLinks() []stages.RunLink { return l.links }

func TestRunLinksAndHeadlineInHistory(t *testing.T) {
	h := newHarness(t)
	h.wrap = func(f *fakeStage) stages.Stage {
		switch f.name {
		case stages.Train:
			return linkStage{f, []stages.RunLink{{Name: "model", Path: "out.txt"}}}
		case stages.Evaluate:
			return linkStage{f, []stages.RunLink{{Name: "report", Copy: true}}}
		}
		return f
	}
	rec, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(h.workdir, "runs", rec.ID)
	if fi, err := os.Lstat(filepath.Join(runDir, "model")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("model is not a link: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(runDir, "report")); err != nil || !fi.IsDir() {
		t.Errorf("report is not a copied folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(runDir, "report", "out.txt")); err != nil {
		t.Error(err)
	}
	summary, err := os.ReadFile(filepath.Join(runDir, "summary.md"))
	if err != nil || !strings.Contains(string(summary), "Paper accuracy: **0.500**") {
		t.Errorf("summary.md lacks the headline (%v):\n%s", err, summary)
	}
}

// TestHistoryShowsAnyTopK: the headline is typed, so a run with top_k=5
// shows its top-5 hit rate; one with top_k=3 beside it keeps its top-3.
func TestHistoryShowsAnyTopK(t *testing.T) {
	base := 0.3
	metric := func(key string, v float64) stages.Metric {
		return stages.Metric{Key: key, Label: key, Value: v, Baseline: &base}
	}
	runs := []pipeline.RunRecord{
		{ID: "b", Config: "k5", Status: "ok", Steps: []pipeline.Step{{Stage: "evaluate", Headline: []stages.Metric{metric("paper_accuracy", 0.41), metric("top5_hit", 0.82)}}}},
		{ID: "a", Config: "k3", Status: "ok", Steps: []pipeline.Step{{Stage: "evaluate", Headline: []stages.Metric{metric("paper_accuracy", 0.4), metric("top3_hit", 0.7)}}}},
	}
	var out bytes.Buffer
	pipeline.PrintHistory(&out, pipeline.HistoryRows(t.TempDir(), runs), 0)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("history:\n%s", out.String())
	}
	tests := []struct{ line, want string }{
		{lines[0], "TOP5_HIT(base)"},
		{lines[0], "TOP3_HIT(base)"},
		{lines[1], "0.820 (0.300)"},
		{lines[2], "0.700 (0.300)"},
	}
	for _, tt := range tests {
		if !strings.Contains(tt.line, tt.want) {
			t.Errorf("line %q lacks %q", tt.line, tt.want)
		}
	}
	// Columns line up: the k3 run has "-" under TOP5_HIT.
	col := strings.Index(lines[0], "TOP5_HIT")
	if col < 0 || !strings.HasPrefix(lines[2][col:], "-") {
		t.Errorf("k3 run under TOP5_HIT (col %d: %q):\n%s", col, lines[2][col:], out.String())
	}
}

func TestErrorsAreReportedNotDropped(t *testing.T) {
	t.Run("stage error names its stage once", func(t *testing.T) {
		h := newHarness(t)
		h.failing = stages.Encode
		_, _, err := h.run(pipeline.Options{})
		if err == nil || err.Error() != "encode: boom" {
			t.Errorf("error %q, want %q", err, "encode: boom")
		}
	})
	t.Run("runs/latest that cannot be replaced", func(t *testing.T) {
		h := newHarness(t)
		// A non-empty folder where the link goes: a rename cannot replace it.
		blocker := filepath.Join(h.workdir, "runs", "latest", "x")
		if err := os.MkdirAll(blocker, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _, err := h.run(pipeline.Options{})
		if err == nil || !strings.Contains(err.Error(), "runs/latest") {
			t.Errorf("want the link error, got %v", err)
		}
	})
	t.Run("unreadable state file: moved aside and rebuilt, the run proceeds", func(t *testing.T) {
		h := newHarness(t)
		if err := os.MkdirAll(filepath.Join(h.workdir, "state"), 0o755); err != nil {
			t.Fatal(err)
		}
		state := filepath.Join(h.workdir, "state", "t.json")
		os.WriteFile(state, []byte("{not json"), 0o644)
		if p := h.plan(pipeline.Options{}); p[stages.Scrape] != pipeline.StatusNeverRun {
			t.Errorf("plan with a corrupt state: %v", p)
		}
		if _, ran, err := h.run(pipeline.Options{}); err != nil || len(ran) != 5 {
			t.Fatalf("run with a corrupt state: ran %v, %v; want every stage run", ran, err)
		}
		if aside, _ := filepath.Glob(state + ".corrupt-*"); len(aside) != 1 {
			t.Errorf("corrupt state not moved aside: %v", aside)
		} else if b, _ := os.ReadFile(aside[0]); string(b) != "{not json" {
			t.Errorf("moved-aside state holds %q", b)
		}
		var s struct {
			Stages map[string]any `json:"stages"`
		}
		if b, err := os.ReadFile(state); err != nil || json.Unmarshal(b, &s) != nil || len(s.Stages) != 5 {
			t.Errorf("rebuilt state: %s (%v)", b, err)
		}
	})
}

// TestRunFolderOutlivesForce: a forced rerun replaces the shared stage
// outputs, but the earlier run folder still holds what its run produced
// (its manifests name its own run), and its model link still resolves.
func TestRunFolderOutlivesForce(t *testing.T) {
	h := newHarness(t)
	h.wrap = func(f *fakeStage) stages.Stage {
		if f.name == stages.Train {
			return linkStage{f, []stages.RunLink{{Name: "model", Path: "out.txt"}}}
		}
		return f
	}
	first, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := h.run(pipeline.Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rec   *pipeline.RunRecord
		stage string
	}{{first, stages.Scrape}, {first, stages.Train}, {first, stages.Evaluate}, {second, stages.Train}} {
		var m pipeline.StageManifest
		b, err := os.ReadFile(filepath.Join(h.workdir, "runs", tc.rec.ID, tc.stage, pipeline.StageManifestFile))
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil || m.Run != tc.rec.ID {
			t.Errorf("run %s/%s: manifest of run %q (%v), want its own", tc.rec.ID, tc.stage, m.Run, err)
		}
	}
	if _, err := os.ReadFile(filepath.Join(h.workdir, "runs", first.ID, "model")); err != nil {
		t.Errorf("first run's model link: %v", err)
	}
}

// TestHistoryWithADamagedRecord: one corrupt run.json does not empty the
// history: the other runs are listed, the damaged one is a row flagged
// unreadable, and the error names its file.
func TestHistoryWithADamagedRecord(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := 0; i < 3; i++ {
		rec, _, err := h.run(pipeline.Options{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	bad := filepath.Join(h.workdir, "runs", ids[1], "run.json")
	if err := os.WriteFile(bad, []byte("{x"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, err := pipeline.History(h.workdir)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v, want one naming %s", err, bad)
	}
	status := map[string]string{}
	for _, r := range runs {
		status[r.ID] = r.Status
	}
	if len(runs) != 3 || status[ids[0]] != "ok" || status[ids[1]] != pipeline.HistoryUnreadable || status[ids[2]] != "ok" {
		t.Errorf("history %v, want 3 runs with %s unreadable", status, ids[1])
	}
	var out bytes.Buffer
	pipeline.PrintHistory(&out, pipeline.HistoryRows(h.workdir, runs), 0)
	if !strings.Contains(out.String(), pipeline.HistoryUnreadable) || strings.Count(out.String(), "\n") != 4 {
		t.Errorf("history table:\n%s", out.String())
	}
}

// TestLayoutAndReadRun: readers outside the pipeline find records through
// pipeline.Layout and pipeline.ReadRun: a run's record, the working folder
// of a stage output or of a grid cell's run-folder entry, and the completed
// outputs of a stage (not staging).
func TestLayoutAndReadRun(t *testing.T) {
	h := newHarness(t)
	rec, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := pipeline.ReadRun(h.workdir, rec.ID)
	if err != nil || got.ID != rec.ID || got.Status != "ok" || len(got.Steps) != 5 {
		t.Errorf("ReadRun: %+v, %v", got, err)
	}
	if _, err := pipeline.ReadRun(h.workdir, "../x"); err == nil {
		t.Error("ReadRun accepted a path for an id")
	}
	l := pipeline.Layout{Root: h.workdir}
	outs, err := l.Outputs(stages.Train)
	if err != nil || len(outs) != 1 {
		t.Fatalf("Outputs(train): %v, %v", outs, err)
	}
	os.MkdirAll(filepath.Join(l.StageDir(stages.Train), ".staging-x"), 0o755)
	if outs2, _ := l.Outputs(stages.Train); len(outs2) != 1 {
		t.Errorf("staging listed as an output: %v", outs2)
	}
	deep := filepath.Join(l.Run(rec.ID), "cell-a", "train", "model")
	os.MkdirAll(deep, 0o755)
	for _, p := range []string{outs[0], deep, l.Run(rec.ID)} {
		if wd, ok := pipeline.WorkdirOf(p); !ok || wd != h.workdir {
			t.Errorf("WorkdirOf(%s) = %s, %v; want %s", p, wd, ok, h.workdir)
		}
	}
	if _, ok := pipeline.WorkdirOf(t.TempDir()); ok {
		t.Error("WorkdirOf found a working folder where there is none")
	}
	for _, s := range rec.Steps {
		if filepath.IsAbs(s.Output) {
			t.Errorf("%s: output recorded as an absolute path %s", s.Stage, s.Output)
		} else if _, err := os.Stat(filepath.Join(l.Resolve(s.Output), "_stage.json")); err != nil {
			t.Errorf("%s: output %s does not resolve: %v", s.Stage, s.Output, err)
		}
	}
}

// resumerStage keeps a failed attempt and says where it would resume,
// as train does from its checkpoint.
type resumerStage struct{ *fakeStage }

func (resumerStage) KeepsFailedAttempt() bool { return true }
func (resumerStage) ResumePoint(prev string) (string, error) {
	if _, err := os.Stat(filepath.Join(prev, "partial.txt")); err != nil {
		return "", errors.New("no checkpoint in the attempt")
	}
	return "the partial output", nil
}

// TestDryRunResumeNote: `run --dry-run --resume` says, per stage that
// would run, whether it resumes and from where, without running it.
func TestDryRunResumeNote(t *testing.T) {
	tests := []struct {
		name      string
		failFirst bool
		resume    bool
		want      string
	}{
		{"failed attempt kept", true, true, "would resume from the partial output"},
		{"nothing to resume from", false, true, "no interrupted attempt for these inputs and params, would start over"},
		{"without --resume: no note", true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wrap = func(f *fakeStage) stages.Stage {
				if f.name == stages.Train {
					return resumerStage{f}
				}
				return f
			}
			if tt.failFirst {
				h.failing = stages.Train
				if _, _, err := h.run(pipeline.Options{}); err == nil {
					t.Fatal("train did not fail")
				}
				h.failing = ""
			}
			var out bytes.Buffer
			if _, ran, err := h.run(pipeline.Options{DryRun: true, Resume: tt.resume, Out: &out}); err != nil || len(ran) != 0 {
				t.Fatalf("dry run ran %v, err %v", ran, err)
			}
			var trainLine string
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, stages.Train+" ") {
					trainLine = line
				}
			}
			if tt.want == "" && strings.Contains(trainLine, "resume") || !strings.Contains(trainLine, tt.want) {
				t.Errorf("train's plan line %q, want %q", trainLine, tt.want)
			}
		})
	}
}
