package pipeline_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

func TestNewRunnerRefusesBadOptions(t *testing.T) {
	build := func(configs.Config) map[string]stages.Stage { return nil }
	for _, tc := range []struct {
		name string
		opts pipeline.Options
		want string
	}{
		{"no working folder", pipeline.Options{Build: build}, "no working folder"},
		{"only and from", pipeline.Options{Workdir: "w", Build: build, Only: stages.Train, From: stages.Encode}, "cannot be combined"},
		{"unknown only", pipeline.Options{Workdir: "w", Build: build, Only: "tran"}, `unknown stage "tran"`},
		{"unknown from", pipeline.Options{Workdir: "w", Build: build, From: "encoder"}, `unknown stage "encoder"`},
		{"no build", pipeline.Options{Workdir: "w"}, "Build is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Workdir != "" {
				tc.opts.Workdir = filepath.Join(t.TempDir(), tc.opts.Workdir)
			}
			_, err := pipeline.NewRunner(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewRunner: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestResolveRun: every way a person names a run (pipeline diff, serve
// --run) finds the same folder, and an unknown or ambiguous name says why.
func TestResolveRun(t *testing.T) {
	h := newHarness(t)
	first, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := h.run(pipeline.Options{}, "train.epochs=3")
	if err != nil {
		t.Fatal(err)
	}
	runDir := func(id string) string {
		d, err := filepath.EvalSymlinks(filepath.Join(h.workdir, "runs", id))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	common := commonPrefix(first.ID, second.ID)
	for _, tc := range []struct {
		ref  string
		want string // run id; "" for an error
		err  string
	}{
		{"latest", second.ID, ""},
		{first.ID, first.ID, ""},
		{second.ID[:len(common)+1], second.ID, ""}, // a unique prefix
		{common, "", "ambiguous"},
		{"no-such-run", "", "no run"},
		{filepath.Join(h.workdir, "runs", first.ID), first.ID, ""}, // a path
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := pipeline.ResolveRun(h.workdir, tc.ref)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ResolveRun(%q) = %q, %v; want an error containing %q", tc.ref, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g, _ := filepath.EvalSymlinks(got); g != runDir(tc.want) {
				t.Errorf("ResolveRun(%q) = %q, want run %s", tc.ref, got, tc.want)
			}
		})
	}
	if _, err := pipeline.ResolveRun(h.workdir, "no-such-run"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown run: %v, want fs.ErrNotExist", err)
	}
	if _, err := pipeline.ResolveRun(filepath.Join(t.TempDir(), "empty"), "latest"); err == nil {
		t.Error("latest in a working folder without runs: no error")
	}
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

// TestDiffConfigs compares the resolved configs of two runs: every --set
// shows, nothing else does.
func TestDiffConfigs(t *testing.T) {
	h := newHarness(t)
	a, _, err := h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := h.run(pipeline.Options{}, "train.epochs=3", "encode.genres=[Horror, Drama]")
	if err != nil {
		t.Fatal(err)
	}
	dirA, dirB := filepath.Join(h.workdir, "runs", a.ID), filepath.Join(h.workdir, "runs", b.ID)
	got, err := pipeline.DiffConfigs(dirA, dirB)
	if err != nil {
		t.Fatal(err)
	}
	def := configs.Default()
	want := []pipeline.ConfigChange{
		{Key: "encode.genres", A: "[]", B: "[Horror, Drama]"},
		{Key: "train.epochs", A: strconv.Itoa(def.Train.Epochs), B: "3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DiffConfigs = %+v, want %+v", got, want)
	}
	if same, err := pipeline.DiffConfigs(dirA, dirA); err != nil || len(same) != 0 {
		t.Errorf("a run against itself: %+v, %v", same, err)
	}
	if _, err := pipeline.DiffConfigs(dirA, t.TempDir()); err == nil {
		t.Error("a folder without config.yaml: no error")
	}
}

// Two demo runs serve their data on different loopback ports: the CSV and
// the URL rewrites differ, and that is no change anyone made.
func TestDiffConfigsIgnoresDemoServer(t *testing.T) {
	write := func(port string) string {
		dir := t.TempDir()
		text := "name: demo\ndemo:\n  posters: 60\nscrape:\n  csv: http://127.0.0.1:" + port + "/MovieGenre.csv\n" +
			"  url_rewrite:\n    - pattern: x\n      replace: http://127.0.0.1:" + port + "/\ntrain:\n  epochs: 2\n"
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	got, err := pipeline.DiffConfigs(write("4001"), write("4002"))
	if err != nil || len(got) != 0 {
		t.Errorf("demo runs: %+v, %v; want no change", got, err)
	}
}

// TestRunFolderRecords: a run folder holds the resolved config, summary.md
// with every stage and the headline, and run.json with the steps; history
// as JSON has one object per run.
func TestRunFolderRecords(t *testing.T) {
	h := newHarness(t)
	rec, _, err := h.run(pipeline.Options{}, "train.epochs=4")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.workdir, "runs", rec.ID)
	cfg, err := configs.Load(filepath.Join(dir, "config.yaml"), nil)
	if err != nil {
		t.Fatalf("the run's config.yaml does not load: %v", err)
	}
	if cfg.Train.Epochs != 4 || cfg.Name != "t" {
		t.Errorf("config.yaml: epochs %d name %q; want the --set applied", cfg.Train.Epochs, cfg.Name)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(append([]string{}, stages.Order...), "# Run summary: t", "Paper accuracy: **0.500**", "baseline 0.250") {
		if !bytes.Contains(sum, []byte(want)) {
			t.Errorf("summary.md lacks %q:\n%s", want, sum)
		}
	}
	if len(rec.Steps) != len(stages.Order) {
		t.Fatalf("%d steps", len(rec.Steps))
	}
	for i, s := range rec.Steps {
		if s.Stage != stages.Order[i] || s.Status != "ran" || s.Fingerprint == "" || s.Output == "" {
			t.Errorf("step %d: %+v", i, s)
		}
	}
	if _, _, err := h.run(pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	runs, err := pipeline.History(h.workdir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := pipeline.PrintHistoryJSON(&out, pipeline.HistoryRows(h.workdir, runs)); err != nil {
		t.Fatal(err)
	}
	var rows []pipeline.HistoryRow
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r pipeline.HistoryRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 2 {
		t.Fatalf("%d history rows, want 2", len(rows))
	}
	// Newest first: the second run went back to the default epochs.
	if rows[0].Ran != 2 || rows[0].Cached != 3 || !reflect.DeepEqual(rows[0].Changed, []string{"train.epochs=" + strconv.Itoa(configs.Default().Train.Epochs)}) {
		t.Errorf("newest row: %+v", rows[0])
	}
	if rows[1].Run != rec.ID || rows[1].Changed != nil || rows[1].Ran != 5 || len(rows[1].Headline) != 1 {
		t.Errorf("first row: %+v", rows[1])
	}
}

// RowCounts names a grid cell's stages by cell; Headline keeps the steps'
// order.
func TestRowCountsAndHeadline(t *testing.T) {
	one, two := 1.0, 2.0
	steps := []pipeline.Step{
		{Stage: stages.Scrape, RowCountKeys: []string{"outcomes"}, Summary: map[string]any{"outcomes": map[string]int{"downloaded": 4}}},
		{Cell: "40/0.001", Stage: stages.Encode, RowCountKeys: []string{"rejects", "none"}, Summary: map[string]any{"rejects": map[string]int{"no_year": 2}}},
		{Stage: stages.Evaluate, Headline: []stages.Metric{{Key: "a", Value: one}, {Key: "b", Value: two}}},
		{Stage: stages.Evaluate, Cell: "x", Headline: []stages.Metric{{Key: "c"}}},
	}
	got := pipeline.RowCounts(steps)
	want := map[string]map[string]map[string]any{
		"scrape":          {"outcomes": {"downloaded": 4.0}},
		"40/0.001/encode": {"rejects": {"no_year": 2.0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RowCounts = %v, want %v", got, want)
	}
	var keys []string
	for _, m := range pipeline.Headline(steps) {
		keys = append(keys, m.Key)
	}
	if strings.Join(keys, ",") != "a,b,c" {
		t.Errorf("Headline keys %v", keys)
	}
}

// A grid whose cells fail shows "failed" in the table; the run fails with
// the stage's error.
func TestGridTableShowsFailedCells(t *testing.T) {
	h := newHarness(t)
	os.WriteFile(h.cfgFile, []byte("version: 1\nname: g\nscrape:\n  csv: movies.csv\ngrid:\n  learning_rate: [0.001, 0.0001]\n"), 0o644)
	h.failing = stages.Train
	rec, _, err := h.run(pipeline.Options{})
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != stages.Train {
		t.Fatalf("want a train StageError, got %v", err)
	}
	if rec == nil {
		t.Fatal("no run record for a failed grid run")
	}
	if rec.Status != "failed" {
		t.Errorf("status %q", rec.Status)
	}
	h.failing = ""
	rec, _, err = h.run(pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.Grid, "| lr 0.001 | lr 0.0001 |") || strings.Count(rec.Grid, "50.0%") != 2 {
		t.Errorf("grid table:\n%s", rec.Grid)
	}
	if b, err := os.ReadFile(filepath.Join(h.workdir, "runs", rec.ID, "grid.md")); err != nil || !strings.Contains(string(b), rec.Grid) {
		t.Errorf("grid.md: %v\n%s", err, b)
	}
}
