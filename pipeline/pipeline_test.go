package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// fakeStage stands in for a real stage so these tests exercise only the
// orchestration: fingerprints, caching, partial runs, staging and locking.
// It writes its config section and its inputs' content into out.txt.
type fakeStage struct {
	name string
	cfg  any
	runs *counter
	fail bool
	// prev records what env.Prev held on the last run (for --resume):
	// the names of its files.
	prev *[]string
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[s]++
}

func (c *counter) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (f *fakeStage) Name() string    { return f.name }
func (f *fakeStage) Version() string { return "1" }
func (f *fakeStage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	f.runs.inc(f.name)
	if f.prev != nil {
		*f.prev = nil
		if env.Prev != "" {
			entries, _ := os.ReadDir(env.Prev)
			for _, e := range entries {
				*f.prev = append(*f.prev, e.Name())
			}
		}
	}
	if f.fail {
		os.WriteFile(filepath.Join(env.OutDir, "partial.txt"), []byte("half"), 0o644)
		return stages.Result{}, errors.New(f.name + ": boom")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %v\n", f.name, f.cfg)
	for _, in := range stages.Inputs[f.name] {
		data, err := os.ReadFile(filepath.Join(env.Inputs[in], "out.txt"))
		if err != nil {
			return stages.Result{}, err
		}
		b.Write(data)
	}
	if err := os.WriteFile(filepath.Join(env.OutDir, "out.txt"), b.Bytes(), 0o644); err != nil {
		return stages.Result{}, err
	}
	res := stages.Result{Summary: map[string]any{"rows": 1}}
	if f.name == stages.Evaluate {
		base := 0.25
		res.Headline = []stages.Metric{{Key: "paper_accuracy", Label: "Paper accuracy", Value: 0.5, Baseline: &base}}
	}
	return res, nil
}

type harness struct {
	t       *testing.T
	workdir string
	cfgFile string
	runs    *counter
	failing string
	// wrap, when set, gives a stage optional capabilities.
	wrap func(*fakeStage) stages.Stage
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	csv := filepath.Join(dir, "movies.csv")
	os.WriteFile(csv, []byte("imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n"), 0o644)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("version: 1\nname: t\nscrape:\n  csv: movies.csv\n"), 0o644)
	return &harness{t: t, workdir: filepath.Join(dir, "work"), cfgFile: cfg, runs: &counter{n: map[string]int{}}}
}

func (h *harness) build(c configs.Config) map[string]stages.Stage {
	m := map[string]stages.Stage{}
	for _, name := range stages.Order {
		f := &fakeStage{name: name, cfg: c.Section(name), runs: h.runs, fail: name == h.failing}
		m[name] = f
		if h.wrap != nil {
			m[name] = h.wrap(f)
		}
	}
	return m
}

func (h *harness) run(opts pipeline.Options, sets ...string) (*pipeline.RunRecord, map[string]int, error) {
	h.t.Helper()
	cfg, err := configs.Load(h.cfgFile, sets)
	if err != nil {
		h.t.Fatal(err)
	}
	before := h.runs.get()
	opts.Workdir, opts.Build = h.workdir, h.build
	r, err := pipeline.NewRunner(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	rec, err := r.Run(context.Background(), cfg)
	after := h.runs.get()
	ran := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			ran[k] = d
		}
	}
	return rec, ran, err
}

func keys(m map[string]int) string {
	var out []string
	for _, s := range stages.Order {
		if m[s] > 0 {
			out = append(out, s)
		}
	}
	return strings.Join(out, ",")
}

func TestCachingReruns(t *testing.T) {
	h := newHarness(t)
	if _, ran, err := h.run(pipeline.Options{}); err != nil || keys(ran) != "scrape,clean,encode,train,evaluate" {
		t.Fatalf("first run: ran %v, err %v", ran, err)
	}
	tests := []struct {
		name string
		opts pipeline.Options
		sets []string
		want string
	}{
		{"nothing changed", pipeline.Options{}, nil, ""},
		{"training parameter", pipeline.Options{}, []string{"train.optimizer.learning_rate=0.001"}, "train,evaluate"},
		{"same again", pipeline.Options{}, []string{"train.optimizer.learning_rate=0.001"}, ""},
		{"resize", pipeline.Options{}, []string{"train.optimizer.learning_rate=0.001", "encode.image.shrink_percent=30"}, "encode,train,evaluate"},
		{"scrape transport knobs (parallelism) change nothing downstream", pipeline.Options{}, []string{"train.optimizer.learning_rate=0.001", "encode.image.shrink_percent=30", "scrape.parallelism=3"}, ""},
		{"back to the first params: cached", pipeline.Options{}, nil, ""},
		{"--only train --force", pipeline.Options{Only: "train", Force: true}, nil, "train"},
		{"a forced train that wrote the same bytes leaves evaluate up to date", pipeline.Options{}, nil, ""},
		{"--from encode reruns encode; same bytes, so train and evaluate are reused", pipeline.Options{From: "encode"}, nil, "encode"},
		{"--force", pipeline.Options{Force: true}, nil, "scrape,clean,encode,train,evaluate"},
	}
	for _, tt := range tests {
		_, ran, err := h.run(tt.opts, tt.sets...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := keys(ran); got != tt.want {
			t.Errorf("%s: ran %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDryRunPlan(t *testing.T) {
	h := newHarness(t)
	var out bytes.Buffer
	if _, ran, err := h.run(pipeline.Options{DryRun: true, Out: &out}); err != nil || len(ran) != 0 {
		t.Fatalf("dry run ran %v, err %v", ran, err)
	}
	if !strings.Contains(out.String(), "scrape") || strings.Count(out.String(), "never run") != 1 || strings.Count(out.String(), "input changed") != 4 {
		t.Errorf("fresh plan:\n%s", out.String())
	}
	h.run(pipeline.Options{})
	out.Reset()
	h.run(pipeline.Options{DryRun: true, Out: &out}, "train.epochs=3")
	want := []string{"scrape", "up to date", "train", "params changed", "evaluate", "input changed"}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("plan lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Count(out.String(), "up to date") != 3 {
		t.Errorf("want scrape, clean, encode up to date:\n%s", out.String())
	}
	if got := h.runs.get()["train"]; got != 1 {
		t.Errorf("dry run ran train: %d runs", got)
	}
}

func TestFailedStageLeavesNothingTrusted(t *testing.T) {
	h := newHarness(t)
	h.failing = stages.Encode
	_, ran, err := h.run(pipeline.Options{})
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != stages.Encode {
		t.Fatalf("want a StageError from encode, got %v", err)
	}
	if keys(ran) != "scrape,clean,encode" {
		t.Errorf("ran %v", ran)
	}
	if m, _ := filepath.Glob(filepath.Join(h.workdir, "stages", "encode", "*", "partial.txt")); len(m) > 0 {
		t.Errorf("a failed stage's partial output is in place: %v", m)
	}
	// A crash (kill -9) leaves a staging folder; the next run must not trust it.
	crash := filepath.Join(h.workdir, "stages", "encode", ".staging-deadbeef")
	os.MkdirAll(crash, 0o755)
	os.WriteFile(filepath.Join(crash, "out.txt"), []byte("half"), 0o644)
	h.failing = ""
	if _, ran, err := h.run(pipeline.Options{}); err != nil || keys(ran) != "encode,train,evaluate" {
		t.Fatalf("rerun: ran %v, err %v", ran, err)
	}
	out, _ := filepath.Glob(filepath.Join(h.workdir, "stages", "evaluate", "*", "out.txt"))
	if len(out) != 1 {
		t.Fatalf("evaluate outputs: %v", out)
	}
	if b, _ := os.ReadFile(out[0]); bytes.Contains(b, []byte("half")) {
		t.Error("a crashed run's staging output was used")
	}
}

func TestLockRefusesSecondRun(t *testing.T) {
	h := newHarness(t)
	os.MkdirAll(h.workdir, 0o755)
	lock, err := pipeline.AcquireLock(filepath.Join(h.workdir, "locks", "run-t.lock"))
	if err != nil {
		t.Fatal(err)
	}
	_, ran, err := h.run(pipeline.Options{})
	var le *pipeline.LockError
	if !errors.As(err, &le) || !errors.Is(err, pipeline.ErrLocked) {
		t.Fatalf("want a LockError, got %v", err)
	}
	if !strings.Contains(le.Holder, fmt.Sprintf("pid %d", os.Getpid())) || len(ran) != 0 {
		t.Errorf("holder %q, ran %v", le.Holder, ran)
	}
	lock.Release()
	if _, _, err := h.run(pipeline.Options{}); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestRunRecordAndHistory(t *testing.T) {
	h := newHarness(t)
	rec, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var onDisk pipeline.RunRecord
	b, err := os.ReadFile(filepath.Join(h.workdir, "runs", rec.ID, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &onDisk)
	if onDisk.Status != "ok" || len(onDisk.Steps) != 5 {
		t.Errorf("run.json: %+v", onDisk)
	}
	if target, err := os.Readlink(filepath.Join(h.workdir, "runs", "latest")); err != nil || target != rec.ID {
		t.Errorf("latest -> %q, %v", target, err)
	}
	for _, f := range []string{"config.yaml", "log.jsonl"} {
		if _, err := os.Stat(filepath.Join(h.workdir, "runs", rec.ID, f)); err != nil && f != "log.jsonl" {
			t.Error(err)
		}
	}
	h.run(pipeline.Options{})
	runs, err := pipeline.History(h.workdir)
	if err != nil || len(runs) != 2 {
		t.Fatalf("history: %d runs, %v", len(runs), err)
	}
	var out bytes.Buffer
	pipeline.PrintHistory(&out, pipeline.HistoryRows(h.workdir, runs), 0)
	// The second run changed nothing and ran nothing, and says so.
	if !strings.Contains(out.String(), "0.500") || strings.Count(out.String(), "\n") != 3 ||
		!strings.Contains(out.String(), pipeline.HistoryNothingRan) || !strings.Contains(out.String(), "(same config)") {
		t.Errorf("history:\n%s", out.String())
	}
}

func TestGridSharesUpstream(t *testing.T) {
	h := newHarness(t)
	os.WriteFile(h.cfgFile, []byte("version: 1\nname: g\nscrape:\n  csv: movies.csv\ngrid:\n  shrink_percent: [30, 40]\n  learning_rate: [0.001, 0.0001, 0.00001]\n  reference:\n    \"40/0.0001\": 0.505\n"), 0o644)
	rec, ran, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"scrape": 1, "clean": 1, "encode": 2, "train": 6, "evaluate": 6}
	for s, n := range want {
		if ran[s] != n {
			t.Errorf("%s ran %d times, want %d", s, ran[s], n)
		}
	}
	if !strings.Contains(rec.Grid, "| 40% |") || !strings.Contains(rec.Grid, "50.0% [paper 50.5%]") {
		t.Errorf("grid table:\n%s", rec.Grid)
	}
}

func TestAccountingReadsTypedAndDecodedSummaries(t *testing.T) {
	steps := []pipeline.Step{
		{Stage: stages.Scrape, RowCountKeys: []string{"outcomes"}, Summary: map[string]any{"outcomes": map[string]any{"downloaded": 3.0, "failed": 0.0}, "sources": map[string]int{"poster": 3}}},
		{Stage: stages.Clean, RowCountKeys: []string{"rejects"}, Summary: map[string]any{"rejects": map[string]int{"empty_Genre": 2, "duplicate_id": 1}}},
		{Stage: stages.Train, Summary: map[string]any{"rejects": map[string]int{"ignored": 1}}},
	}
	got := pipeline.Accounting(steps)
	for _, want := range []string{"downloaded=3", "duplicate_id=1 empty_Genre=2"} {
		if !strings.Contains(got, want) {
			t.Errorf("accounting lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "failed=") || strings.Contains(got, "ignored") || strings.Contains(got, "sources") {
		t.Errorf("zero counts or non-data stages shown:\n%s", got)
	}
}
