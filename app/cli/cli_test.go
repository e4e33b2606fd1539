package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/scrape"
)

// run executes one command line in-process, like the binary would.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	st := &cli.State{Ctx: context.Background(), Args: args, Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = cli.Run(st)
	return code, out.String(), errb.String()
}

const demoConfig = "../../configs/demo.yaml"

// smallDemo keeps the end-to-end test quick: fewer posters and epochs than `make run`.
var smallDemo = []string{"--set", "demo.posters=200", "--set", "train.epochs=8", "--set", "evaluate.bootstrap=100", "--log-format", "json"}

// TestDemoEndToEnd is the embedded demo, smaller: synthetic posters over
// loopback HTTP through all five stages with real TensorFlow training.
func TestDemoEndToEnd(t *testing.T) {
	work := t.TempDir()
	code, out, errs := run(t, append([]string{"run", demoConfig, "--workdir", work}, smallDemo...)...)
	if code != cli.ExitOK {
		t.Fatalf("demo run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, lastLines(errs, 30))
	}
	runDir := filepath.Join(work, "runs", "latest")

	// The report: accuracy far above the majority baseline.
	var rep struct {
		Summary map[string]any `json:"summary"`
	}
	m := readStageSummary(t, filepath.Join(runDir, "report"))
	rep.Summary = m
	acc, _ := rep.Summary["paper_accuracy"].(float64)
	base, _ := rep.Summary["paper_accuracy_baseline"].(float64)
	// The demo teaches: well above the baseline, below 1 (a share of its
	// posters look like another genre), so its curves show something.
	if acc < 0.6 || acc > 0.97 || acc < base+0.3 {
		t.Errorf("demo paper accuracy %.3f (baseline %.3f): want 0.6..0.97 and 0.3 above the baseline", acc, base)
	}
	for _, f := range []string{"report.md", "report.json", "examples.md", "plots/training_curves.png"} {
		if _, err := os.Stat(filepath.Join(runDir, "report", f)); err != nil {
			t.Error(err)
		}
	}
	// Training curves for TensorBoard: one event file per run and config.
	if ev, _ := filepath.Glob(filepath.Join(runDir, "tb", "demo", "events.out.tfevents.*")); len(ev) != 1 {
		t.Errorf("TensorBoard event files in %s: %v, want one", filepath.Join(runDir, "tb", "demo"), ev)
	}

	// Every fault is dropped with its reason, somewhere along the way.
	ledger := readParquet[scrape.LedgerRow](t, filepath.Join(runDir, "scrape", scrape.LedgerFile))
	reasons := map[string]int{}
	for _, r := range ledger {
		reasons[r.Reason]++
	}
	rejects := readParquet[clean.Reject](t, filepath.Join(runDir, "clean", clean.RejectsFile))
	for _, r := range rejects {
		reasons[r.Reason]++
	}
	for _, r := range readParquet[encode.Reject](t, filepath.Join(runDir, "encode", encode.RejectsFile)) {
		reasons[r.Reason]++
	}
	for _, want := range []string{"empty_Poster", "empty_Genre", "http_404", "truncated", "duplicate_row", "duplicate_id_conflict", "malformed_row", "no_year"} {
		if reasons[want] == 0 {
			t.Errorf("no row dropped as %s; reasons: %v", want, reasons)
		}
	}
	if len(ledger) != 200+3 {
		t.Errorf("ledger rows = %d, want one per CSV row (203)", len(ledger))
	}

	// A second run with nothing new: everything up to date.
	code, out, _ = run(t, append([]string{"run", demoConfig, "--workdir", work}, smallDemo...)...)
	if code != cli.ExitOK || strings.Count(out, "up to date") != 5 {
		t.Errorf("rerun: exit %d, want 5 stages up to date:\n%s", code, out)
	}

	// Predict over a folder of posters (CSV), plus one bad input.
	posters, _ := filepath.Glob(filepath.Join(work, "posters", "*.jpg"))
	if len(posters) < 100 {
		t.Fatalf("poster store has %d posters", len(posters))
	}
	bad := filepath.Join(t.TempDir(), "notes.jpg")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	code, out, errs = run(t, "predict", "--model", filepath.Join(runDir, "model"), "--format", "csv", filepath.Join(work, "posters"), bad)
	if code != cli.ExitFailed || !strings.Contains(errs, "notes.jpg") {
		t.Errorf("predict with a bad input: exit %d, stderr %q", code, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != len(posters)+1 || strings.Join(rows[0], ",") != "path,imdb_id,Horror,Romance,Action,Documentary,poster_score,looks_like_poster" || rows[1][1] == "" {
		t.Errorf("predict csv: %d rows (want %d), header %v, err %v", len(rows), len(posters)+1, rows[0], err)
	}
	code, out, _ = run(t, "predict", "--model", filepath.Join(runDir, "model"), "--top", "2", posters[0])
	if code != cli.ExitOK || strings.Count(out, ",") != 1 {
		t.Errorf("predict text: exit %d: %q", code, out)
	}

	// Heatmaps and the poster check (issue 22's floors on the demo).
	t.Run("explanations", func(t *testing.T) { checkExplanations(t, work, runDir, 200) })

	// History shows the two runs, the second having run nothing.
	code, out, _ = run(t, "history", "--workdir", work)
	if code != cli.ExitOK || strings.Count(out, " demo ") != 2 || !strings.Contains(out, "nothing ran") || !strings.Contains(out, "(same config)") {
		t.Errorf("history: exit %d:\n%s", code, out)
	}

	// Diff of the two runs: same config, same rows, zero differences.
	code, out, errs = run(t, "diff", "latest", filepath.Base(mustEval(t, filepath.Join(work, "runs", "latest"))), "--workdir", work, "--json")
	var d cli.RunDiff
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &d) != nil || len(d.Config) != 0 || len(d.Metrics) == 0 {
		t.Errorf("diff: exit %d %s\n%s", code, errs, out)
	}
	for _, m := range d.Metrics {
		if m.Diff == nil || *m.Diff != 0 {
			t.Errorf("diff of a run with itself: %s differs by %v", m.Key, m.Diff)
		}
	}
	// Status of the demo starts nothing and finds everything up to date.
	code, out, _ = run(t, append([]string{"status", demoConfig, "--workdir", work}, smallDemo...)...)
	if code != cli.ExitOK || strings.Count(out, "up to date") != 5 {
		t.Errorf("status: exit %d:\n%s", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"validate", "../../configs/paper.yaml"}, cli.ExitOK, "ok"},
		{[]string{"validate", "../../configs/testdata/out-of-range.yaml"}, cli.ExitUsage, "out-of-range.yaml:5: /scrape/parallelism"},
		{[]string{"validate", "../../configs/testdata/bad-yaml.yaml"}, cli.ExitUsage, "bad-yaml.yaml:5"},
		{[]string{"validate", "../../configs/paper.yaml", "--set", "train.loss=hinge"}, cli.ExitUsage, "/train/loss"},
		{[]string{"validate", "missing.yaml"}, cli.ExitUsage, "missing.yaml"},
		{[]string{"run", "../../configs/paper.yaml", "--only", "nope"}, cli.ExitUsage, "unknown stage"},
		{[]string{"run", "../../configs/paper.yaml", "--only", "trian"}, cli.ExitUsage, "did you mean train"},
		{[]string{"run", "../../configs/paper.yaml", "--from", "evalute"}, cli.ExitUsage, "did you mean evaluate"},
		{[]string{"validate", "../../configs/paper.yaml", "--set", "train.epoch=3"}, cli.ExitUsage, "did you mean train.epochs"},
		{[]string{"validate", "../../configs/paper.yaml", "--set", "encode.image.shrink_percnt=3"}, cli.ExitUsage, "did you mean encode.image.shrink_percent"},
		{[]string{"frobnicate"}, cli.ExitUsage, "unknown command"},
		{[]string{"statsu", "x.yaml"}, cli.ExitUsage, "status"},
		{[]string{"run", "--help"}, cli.ExitOK, "--dry-run"},
		{[]string{"run", "--help"}, cli.ExitOK, "130 interrupted"},
		{[]string{"run", "--help"}, cli.ExitOK, "--force"},
		{[]string{"history", "--help"}, cli.ExitOK, "--json"},
		{[]string{"--quiet", "--log-format", "json", "validate", "../../configs/paper.yaml"}, cli.ExitOK, "ok"},
		{[]string{"validate", "../../configs/paper.yaml", "--quiet"}, cli.ExitOK, "ok"},
		{[]string{"--log-format", "yaml", "validate", "../../configs/paper.yaml"}, cli.ExitUsage, "text or json"},
		{[]string{"history", "--workdir", "/nonexistent/wrok"}, cli.ExitUsage, "/nonexistent/wrok"},
		{[]string{"diff", "a", "b", "--workdir", "/nonexistent/wrok"}, cli.ExitUsage, "no such file"},
		{[]string{"--quiet", "predict", "--model", "/nonexistent", "x.jpg"}, cli.ExitUsage, "model"},
		{[]string{"mirror"}, cli.ExitUsage, "required flag"},
		{[]string{"gc"}, cli.ExitUsage, "required flag"},
		{[]string{"gc", "--keep", "-1"}, cli.ExitUsage, "--keep must be"},
		{[]string{"gc", "--keep", "3", "--workdir", "/nonexistent/wrok"}, cli.ExitUsage, "/nonexistent/wrok"},
		{[]string{"gc", "--help"}, cli.ExitOK, "runs/latest points at"},
		{[]string{"gc", "--help"}, cli.ExitOK, "--outputs"},
		{[]string{"tag", "--help"}, cli.ExitOK, "MLflow"},
		{[]string{"tag", "x"}, cli.ExitUsage, "RUN[/CELL] NAME"},
		{[]string{"tag", "latest", "champion", "--workdir", "/nonexistent/wrok"}, cli.ExitUsage, "/nonexistent/wrok"},
		{[]string{"exp", "--json", "--csv"}, cli.ExitUsage, "exclude"},
		{[]string{"exp", "--workdir", "/nonexistent/wrok"}, cli.ExitUsage, "/nonexistent/wrok"},
		{[]string{"compare", "a"}, cli.ExitUsage, "requires at least 2"},
		{[]string{"compare", "a", "b", "--workdir", "/nonexistent/wrok"}, cli.ExitUsage, "no such file"},
		{[]string{"serve"}, cli.ExitUsage, "required flag"},
		{[]string{"serve", "--help"}, cli.ExitOK, "--max-pixels"},
		{[]string{"predict", "x.jpg"}, cli.ExitUsage, "required flag"},
		{[]string{"predict", "--model", "nope-tag", "x.jpg", "--workdir", "/nonexistent/wrok"}, cli.ExitUsage, "nope-tag"},
		{[]string{"predict", "--model", "/nonexistent", "x.jpg"}, cli.ExitUsage, "model"},
		{[]string{"version"}, cli.ExitOK, "tensorflow 2.18.0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := run(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tt.code, tt.want, out, errs)
			}
		})
	}
}

// TestLockAndKill uses the real binary: a second run while one holds the
// lock exits 3 naming the holder; the first is then killed with SIGKILL in
// the middle of training, and a rerun completes on complete outputs only.
func TestLockAndKill(t *testing.T) {
	bin := os.Getenv("PIPELINE_BIN")
	if bin == "" {
		t.Skip("PIPELINE_BIN not set (make test sets it to bin/pipeline)")
	}
	work := t.TempDir()
	args := append([]string{"run", demoConfig, "--workdir", work}, smallDemo...)
	args = append(args, "--set", "train.epochs=30", "--set", "train.early_stopping.patience=0")
	first := exec.Command(bin, args...)
	stderr, _ := first.StderrPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	// Wait until training has started and written at least one epoch.
	sc := bufio.NewScanner(stderr)
	deadline := time.Now().Add(3 * time.Minute)
	for sc.Scan() && time.Now().Before(deadline) {
		if strings.Contains(sc.Text(), `"msg":"epoch"`) {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()

	second := exec.Command(bin, args...)
	var out bytes.Buffer
	second.Stderr = &out
	err := second.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != cli.ExitLocked {
		t.Fatalf("second run: %v, want exit 3\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "pid") {
		t.Errorf("lock message does not name the holder: %s", out.String())
	}

	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	if m, _ := filepath.Glob(filepath.Join(work, "stages", "train", "*", "_stage.json")); len(m) != 0 {
		t.Fatalf("a killed training left a complete-looking output: %v", m)
	}

	// History shows the killed run (a run folder without run.json).
	if code, out, _ := run(t, "history", "--workdir", work); code != cli.ExitOK || !strings.Contains(out, "interrupted") {
		t.Errorf("history after kill -9: exit %d, no interrupted run:\n%s", code, out)
	}

	// The rerun (shorter, as a later nightly with new settings would be)
	// reuses the complete scrape, clean and encode outputs and finishes.
	rerun := exec.Command(bin, append(args[:len(args)-4], "--set", "train.epochs=3")...)
	rb, err := rerun.CombinedOutput()
	if err != nil {
		t.Fatalf("rerun after kill -9: %v\n%s", err, lastLines(string(rb), 20))
	}
	for _, stage := range []string{"scrape", "clean", "encode"} {
		if !strings.Contains(string(rb), `"msg":"up to date","run"`) || !strings.Contains(string(rb), `"stage":"`+stage+`"`) {
			t.Errorf("rerun did not reuse %s:\n%s", stage, lastLines(string(rb), 20))
		}
	}
}

func readStageSummary(t *testing.T, dir string) map[string]any {
	t.Helper()
	var m struct {
		Summary map[string]any `json:"summary"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "_stage.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Summary
}

func readParquet[T any](t *testing.T, path string) []T {
	t.Helper()
	rows, err := parquet.ReadFile[T](path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
