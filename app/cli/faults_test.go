package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
)

// pipelineBin is the built binary (make test sets PIPELINE_BIN): what
// exits, crashes and stderr look like is only known from a real process.
func pipelineBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PIPELINE_BIN")
	if bin == "" {
		t.Skip("PIPELINE_BIN not set (make test sets it to bin/pipeline)")
	}
	return bin
}

// runBin runs the binary and returns its exit code and output.
func runBin(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestTruncatedShardFailsTheRun: an encode shard truncated after the
// commit makes train fail like any stage failure — exit 1 (not a crash's
// 2), run.json with status failed and an error naming the shard, and no
// staging folder left behind.
func TestTruncatedShardFailsTheRun(t *testing.T) {
	bin := pipelineBin(t)
	work := t.TempDir()
	args := []string{"run", demoConfig, "--workdir", work, "--set", "demo.posters=120", "--set", "train.epochs=1",
		"--set", "evaluate.bootstrap=20", "--log-format", "json", "--quiet"}
	if code, _, errs := runBin(t, bin, args...); code != cli.ExitOK {
		t.Fatalf("first run: exit %d\n%s", code, lastLines(errs, 20))
	}
	shards, _ := filepath.Glob(filepath.Join(work, "stages", "encode", "*", "shard-*.parquet"))
	if len(shards) == 0 {
		t.Fatal("no encode shards")
	}
	b, err := os.ReadFile(shards[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shards[0], b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runBin(t, bin, append(args, "--from", "train")...)
	if code != cli.ExitFailed {
		t.Fatalf("truncated shard: exit %d, want %d\n%s\n%s", code, cli.ExitFailed, out, lastLines(errs, 20))
	}
	name := filepath.Base(shards[0])
	if !strings.Contains(errs, name) {
		t.Errorf("stderr does not name %s:\n%s", name, lastLines(errs, 10))
	}
	rec := readRunRecord(t, filepath.Join(work, "runs", "latest"))
	if rec.Status != "failed" || !strings.Contains(rec.Error, name) {
		t.Errorf("run.json: status %q, error %q; want failed naming %s", rec.Status, rec.Error, name)
	}
	var summary map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &summary); err != nil || summary["status"] != "failed" {
		t.Errorf("run summary %q: %v", out, err)
	}
	if left, _ := filepath.Glob(filepath.Join(work, "stages", "*", ".staging-*")); len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}
}

// TestConcurrentDemoStarts: two demo runs started together on a fresh
// working folder. The demo generates its data under the run's lock, so
// the second one exits 3 (lock held) — never 1 from the two racing on the
// demo data folder — and the first one completes.
func TestConcurrentDemoStarts(t *testing.T) {
	bin := pipelineBin(t)
	work := t.TempDir()
	args := []string{"run", demoConfig, "--workdir", work, "--set", "demo.posters=120", "--dry-run", "--quiet", "--log-format", "json"}
	_, first := startBin(t, bin, args...)
	_, second := startBin(t, bin, args...)
	codes := map[int]int{}
	for _, done := range []<-chan procResult{first, second} {
		r := <-done
		codes[r.code]++
		if r.code != cli.ExitOK && (r.code != cli.ExitLocked || !strings.Contains(r.stderr, "another run holds the lock")) {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	}
	if codes[cli.ExitOK] != 1 || codes[cli.ExitLocked] != 1 {
		t.Errorf("exit codes %v, want one 0 and one 3", codes)
	}
}

// TestInterruptSaysWhatWasKept: SIGINT in the middle of training exits 130
// (not 1 with "context canceled"), says which outputs were kept and prints
// a command that continues, records the run as cancelled and keeps the
// training attempt. The printed command, pasted into a shell, resumes
// (with the run's --workdir and every --set) from a later epoch, and
// --dry-run --resume says from which checkpoint.
func TestInterruptSaysWhatWasKept(t *testing.T) {
	bin := pipelineBin(t)
	work := t.TempDir()
	args := []string{"run", demoConfig, "--workdir", work, "--set", "demo.posters=120", "--set", "train.epochs=12",
		"--set", "train.early_stopping.patience=0", "--log-format", "json"}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), `"msg":"epoch"`) {
			break
		}
	}
	cmd.Process.Signal(os.Interrupt)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitInterrupted {
		t.Fatalf("SIGINT: %v, want exit 130\n%s", err, lastLines(log.String(), 10))
	}
	for _, want := range []string{"interrupted during train", "kept the complete outputs of scrape, clean, encode", "--resume"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, lastLines(log.String(), 5))
		}
	}
	if strings.Contains(log.String(), `"err":"context canceled"`) {
		t.Errorf("the message is just %q", "context canceled")
	}
	if rec := readRunRecord(t, filepath.Join(work, "runs", "latest")); rec.Status != "cancelled" {
		t.Errorf("run.json status %q, want cancelled", rec.Status)
	}
	if kept, _ := filepath.Glob(filepath.Join(work, "stages", "train", ".interrupted-*")); len(kept) != 1 {
		t.Errorf("training attempt kept for --resume: %v", kept)
	}
	resume := regexp.MustCompile("`([^`]*--resume)`").FindStringSubmatch(log.String())
	if resume == nil || !strings.Contains(resume[1], "--workdir "+work) || !strings.Contains(resume[1], "--set train.epochs=12") {
		t.Fatalf("no pasteable resume command with --workdir and every --set:\n%s", lastLines(log.String(), 3))
	}
	plan, err := exec.Command("sh", "-c", resume[1]+" --dry-run").CombinedOutput()
	if err != nil || !regexp.MustCompile(`train .*would resume from the checkpoint of epoch [1-9]`).Match(plan) {
		t.Errorf("--dry-run --resume: %v\n%s", err, plan)
	}
	out, err := exec.Command("sh", "-c", resume[1]).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"msg":"resumed"`) || !regexp.MustCompile(`"msg":"epoch".*"epoch":([2-9]|1[0-2]),`).Match(out) ||
		regexp.MustCompile(`"msg":"epoch"[^\n]*"epoch":1,`).Match(out) {
		t.Errorf("pasted %q: %v; want it to resume after epoch 1:\n%s", resume[1], err, lastLines(string(out), 8))
	}
}
