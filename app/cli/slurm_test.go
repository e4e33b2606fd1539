package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postergenre/postergenre/executor"
	"github.com/postergenre/postergenre/internal/slurm"
	"github.com/postergenre/postergenre/internal/slurm/slurmtest"
	"github.com/postergenre/postergenre/pipeline"
)

// slurmDemo is the demo grid at its smallest: deterministic training (one
// thread, fixed seeds), so the same cell trained anywhere has the same
// metrics to the last digit.
var slurmDemo = []string{"--set", "demo.posters=120", "--set", "train.epochs=1", "--set", "train.deterministic=true",
	"--set", "evaluate.bootstrap=50", "--set", "evaluate.plots=false", "--set", "evaluate.examples=4",
	"--set", "executor.slurm.poll=300ms", "--log-format", "json"}

// gridConfig writes a demo grid config (image sizes × learning rates).
func gridConfig(t *testing.T, dir, name, shrinks, lrs string) string {
	t.Helper()
	demo, err := filepath.Abs(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, name+".yaml")
	body := fmt.Sprintf("version: 1\nname: %s\nextends: %s\ngrid:\n  shrink_percent: %s\n  learning_rate: %s\n", name, demo, shrinks, lrs)
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// runEnv runs the binary with extra environment.
func runEnv(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// cellHeadlines maps each cell of a run to its headline metrics as JSON.
func cellHeadlines(t *testing.T, rec pipeline.RunRecord) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range rec.Steps {
		if len(s.Headline) == 0 {
			continue
		}
		b, _ := json.Marshal(s.Headline)
		out[s.Cell] = string(b)
	}
	return out
}

// TestSlurmGrid runs the demo grid through a real two-node Slurm: every
// array task completes, both nodes are used, every cell's metrics equal a
// local run's to the last digit, and a local run then finds every cell up
// to date (no executor setting is in a fingerprint). Then, in the same
// working folder: a task scancelled mid-training is resubmitted with
// --resume and the run completes; SIGINT of the submitter cancels the
// array and exits 130.
func TestSlurmGrid(t *testing.T) {
	// Mostly waiting on Slurm and child processes: overlaps the package's
	// other long test, which keeps CI's wall time down.
	t.Parallel()
	bin := pipelineBin(t)
	env := slurmtest.Cluster(t)
	dir := t.TempDir()
	cfg := gridConfig(t, dir, "sgrid", "[30, 40]", "[0.001, 0.0005]")
	local, shared := filepath.Join(dir, "local"), filepath.Join(dir, "shared")

	code, out, errs := runEnv(t, bin, env, append([]string{"run", cfg, "--workdir", local}, slurmDemo...)...)
	if code != 0 {
		t.Fatalf("local grid: exit %d\n%s\n%s", code, out, lastLines(errs, 20))
	}
	code, out, errs = runEnv(t, bin, env, append([]string{"run", cfg, "--workdir", shared, "--executor", "slurm"}, slurmDemo...)...)
	if code != 0 {
		t.Fatalf("slurm grid: exit %d\n%s\n%s", code, out, lastLines(errs, 30))
	}
	recL := readRunRecord(t, filepath.Join(local, "runs", "latest"))
	recS := readRunRecord(t, filepath.Join(shared, "runs", "latest"))
	hl, hs := cellHeadlines(t, recL), cellHeadlines(t, recS)
	if len(hl) != 4 || len(hs) != 4 {
		t.Fatalf("headlines of 4 cells: local %v, slurm %v", hl, hs)
	}
	for cell, m := range hl {
		if hs[cell] != m {
			t.Errorf("cell %s: slurm %s, local %s", cell, hs[cell], m)
		}
	}
	// The same steps, each with the same status: the shared stages the
	// submitter built count as ran where a local run builds them.
	statuses := func(rec pipeline.RunRecord) []string {
		var out []string
		for _, s := range rec.Steps {
			out = append(out, s.Cell+" "+s.Stage+" "+s.Status)
		}
		return out
	}
	if l, s := statuses(recL), statuses(recS); !slices.Equal(l, s) {
		t.Errorf("steps: local %v, slurm %v", l, s)
	}
	if recS.Status != "ok" || !strings.Contains(recS.Grid, "| 30% |") {
		t.Errorf("slurm run: %s %s\n%s", recS.Status, recS.Error, recS.Grid)
	}
	for _, c := range []string{"sgrid-s30-lr0.001", "sgrid-s40-lr0.0005"} {
		if _, err := os.Stat(filepath.Join(shared, "runs", recS.ID, c, "report", "report.md")); err != nil {
			t.Errorf("cell report: %v", err)
		}
	}
	sub, err := executor.ReadSubmission(filepath.Join(shared, "runs", recS.ID))
	if err != nil {
		t.Fatal(err)
	}
	acct, err := (&slurm.Client{Env: env}).Accounting(context.Background(), sub.Jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	var done []int
	nodes := map[string]bool{}
	for _, a := range acct {
		if a.State == "COMPLETED" {
			done = append(done, a.Index)
			nodes[a.Node] = true
		}
	}
	slices.Sort(done)
	if !slices.Equal(done, []int{0, 1, 2, 3}) || !nodes["n1"] || !nodes["n2"] {
		t.Errorf("accounting of job %s: %+v; want tasks 0-3 COMPLETED on n1 and n2", sub.Jobs[0], acct)
	}
	t.Logf("accounting of job %s: %+v", sub.Jobs[0], acct)

	// The same config locally in the Slurm-built folder: nothing to do.
	code, out, errs = runEnv(t, bin, env, append([]string{"run", cfg, "--workdir", shared}, slurmDemo...)...)
	// The newest run, not runs/latest: a run that ran nothing records
	// itself without moving runs/latest.
	runs, err := pipeline.History(shared)
	if err != nil || len(runs) == 0 {
		t.Fatalf("history: %d runs, %v", len(runs), err)
	}
	rec := runs[0]
	if code != 0 || len(rec.Steps) != 20 {
		t.Fatalf("local rerun: exit %d, %d steps\n%s", code, len(rec.Steps), lastLines(errs, 10))
	}
	for _, s := range rec.Steps {
		if s.Status != pipeline.StatusUpToDate {
			t.Errorf("local rerun after slurm: [%s] %s %s", s.Cell, s.Stage, s.Status)
		}
	}

	t.Run("detached, collected by a job", func(t *testing.T) { detached(t, bin, env, dir, shared) })
	t.Run("scancel a task: resumed", func(t *testing.T) { scancelResumes(t, bin, env, dir, shared) })
	t.Run("scancel, no requeues: the cell fails alone", func(t *testing.T) { failsAlone(t, bin, env, dir, shared) })
	t.Run("SIGINT cancels the array", func(t *testing.T) { sigintCancels(t, bin, env, dir, shared) })
}

// longer makes each cell train long enough to be caught mid-training.
var longer = []string{"--set", "train.epochs=12", "--set", "train.early_stopping.patience=0"}

// waitFor polls cond every 100 ms until it holds or the time is up.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %s", what, limit)
}

// startSubmitter starts `run --executor slurm` and returns it with the
// run folder it made and its job id, once cell 0 has logged an epoch.
func startSubmitter(t *testing.T, bin string, env []string, cfg, work string, stderr *bytes.Buffer, extra ...string) (*exec.Cmd, string, string) {
	t.Helper()
	args := append(append(append([]string{"run", cfg, "--workdir", work, "--executor", "slurm"}, slurmDemo...), longer...), extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var runDir, job string
	waitFor(t, "a submission of "+cfg, 3*time.Minute, func() bool {
		subs, _ := filepath.Glob(filepath.Join(work, "runs", "*", executor.SubmissionFile))
		for _, s := range subs {
			sub, err := executor.ReadSubmission(filepath.Dir(s))
			if err == nil && strings.HasSuffix(cfg, sub.Config+".yaml") {
				runDir, job = filepath.Dir(s), sub.Jobs[0]
				return true
			}
		}
		return false
	})
	out := filepath.Join(runDir, "slurm", job+"_0.out")
	waitFor(t, "cell 0 training", 3*time.Minute, func() bool {
		b, _ := os.ReadFile(out)
		return bytes.Contains(b, []byte(`"msg":"epoch"`))
	})
	return cmd, runDir, job
}

func scancelResumes(t *testing.T, bin string, env []string, dir, work string) {
	cfg := gridConfig(t, dir, "scancel", "[40]", "[0.002, 0.003]")
	var stderr bytes.Buffer
	cmd, runDir, job := startSubmitter(t, bin, env, cfg, work, &stderr)
	if err := (&slurm.Client{Env: env}).Cancel(context.Background(), job+"_0"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("submitter: %v\n%s", err, lastLines(stderr.String(), 30))
	}
	sub, err := executor.ReadSubmission(runDir)
	if err != nil {
		t.Fatal(err)
	}
	c0 := sub.Cells[0]
	if c0.Phase != executor.Done || len(c0.Attempts) != 2 || c0.Attempts[0].Raw != "CANCELLED" || !c0.Attempts[1].Resume {
		t.Errorf("cell 0: %+v", c0)
	}
	if c1 := sub.Cells[1]; c1.Phase != executor.Done || len(c1.Attempts) != 1 {
		t.Errorf("cell 1: %+v", c1)
	}
	resumed, _ := os.ReadFile(filepath.Join(runDir, "slurm", c0.Attempts[1].Job+"_0.out"))
	// Cell 0 had logged an epoch (its checkpoint is written before that
	// line): the resubmitted task continues from it.
	if !bytes.Contains(resumed, []byte(`"msg":"resumed"`)) {
		t.Errorf("the resubmitted task did not resume from the checkpoint:\n%s", lastLines(string(resumed), 8))
	}
	if rec := readRunRecord(t, runDir); rec.Status != "ok" {
		t.Errorf("run: %s %s", rec.Status, rec.Error)
	}
}

// failsAlone: with executor.slurm.max_requeues=0 a scancelled cell is
// given up on; the other cell finishes, the run fails (exit 1) and its
// error names the cell and why.
func failsAlone(t *testing.T, bin string, env []string, dir, work string) {
	cfg := gridConfig(t, dir, "alone", "[40]", "[0.008, 0.009]")
	var stderr bytes.Buffer
	cmd, runDir, job := startSubmitter(t, bin, env, cfg, work, &stderr, "--set", "executor.slurm.max_requeues=0")
	if err := (&slurm.Client{Env: env}).Cancel(context.Background(), job+"_0"); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("submitter: %v, want exit 1\n%s", err, lastLines(stderr.String(), 20))
	}
	rec := readRunRecord(t, runDir)
	if rec.Status == "ok" || !strings.Contains(rec.Error, "cell 40/0.008") || !strings.Contains(rec.Error, "out of requeues") ||
		strings.Contains(rec.Error, "40/0.009") {
		t.Errorf("run: %s: %s", rec.Status, rec.Error)
	}
	if h := cellHeadlines(t, rec); h["40/0.009"] == "" {
		t.Errorf("the other cell did not finish: %v", h)
	}
}

func sigintCancels(t *testing.T, bin string, env []string, dir, work string) {
	cfg := gridConfig(t, dir, "sigint", "[40]", "[0.004, 0.005]")
	var stderr bytes.Buffer
	cmd, _, job := startSubmitter(t, bin, env, cfg, work, &stderr)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("submitter after SIGINT: %v, want exit 130\n%s", err, lastLines(stderr.String(), 20))
	}
	c := &slurm.Client{Env: env}
	waitFor(t, "the array cancelled", time.Minute, func() bool {
		tasks, err := c.Tasks(context.Background(), job)
		if err != nil || len(tasks) != 2 {
			return false
		}
		for _, tk := range tasks {
			if tk.State != "CANCELLED" {
				return false
			}
		}
		return true
	})
}

// detached: --detach returns with the job id at once; the collector job
// writes run.json once the cells end, and history shows the cells.
func detached(t *testing.T, bin string, env []string, dir, work string) {
	cfg := gridConfig(t, dir, "detach", "[40]", "[0.006, 0.007]")
	// The executor from the config this time (the cells still run locally).
	code, out, errs := runEnv(t, bin, env, append([]string{"run", cfg, "--workdir", work, "--set", "executor.kind=slurm", "--detach"}, slurmDemo...)...)
	if code != 0 || !strings.Contains(out, "as slurm job ") {
		t.Fatalf("--detach: exit %d\n%s\n%s", code, out, lastLines(errs, 10))
	}
	run := strings.TrimSuffix(strings.Fields(out[strings.Index(out, "into run ")+len("into run "):])[0], ")")
	// While the cells are on Slurm, status shows their states there.
	_, out, _ = runEnv(t, bin, env, append([]string{"status", cfg, "--workdir", work}, slurmDemo...)...)
	if !strings.Contains(out, "run "+run+" on slurm, job(s) ") || !strings.Contains(out, "[40/0.006]") {
		t.Errorf("status of a detached run:\n%s", out)
	}
	waitFor(t, "the collector's run.json", 3*time.Minute, func() bool {
		_, err := os.Stat(filepath.Join(work, "runs", run, "run.json"))
		return err == nil
	})
	if rec := readRunRecord(t, filepath.Join(work, "runs", run)); rec.Status != "ok" || len(rec.Steps) != 10 {
		t.Errorf("detached run: %s, %d steps, %s", rec.Status, len(rec.Steps), rec.Error)
	}
	_, out, _ = runEnv(t, bin, env, "history", "--workdir", work)
	if n := strings.Count(out, run); n != 2 {
		t.Errorf("history: %d rows of run %s, want 2\n%s", n, run, out)
	}
}

// TestExecutorUsage: what a run on an executor refuses, before anything runs.
func TestExecutorUsage(t *testing.T) {
	dir := t.TempDir()
	grid := gridConfig(t, dir, "u", "[40]", "[0.001]")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", demoConfig, "--executor", "slurm"}, "has no grid"},
		{[]string{"run", grid, "--detach"}, "--detach needs an executor"},
		{[]string{"run", grid, "--executor", "ray"}, "unknown executor"},
		{[]string{"run", grid, "--executor", "slurm", "--from", "train"}, "--from cannot be combined"},
		{[]string{"run", grid, "--executor", "slurm", "--cell", "0"}, "--cell cannot be combined"},
		{[]string{"run", grid, "--set", "executor.slurm.time_limit=2h"}, "/executor/slurm/time_limit"},
	}
	for _, tc := range tests {
		code, _, errs := run(t, append(tc.args, "--workdir", filepath.Join(dir, "w"))...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}
