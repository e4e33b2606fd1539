package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
)

// writeGridConfig writes a tiny 2×2 demo grid (two sizes × two learning
// rates, 1 epoch, 120 posters) extending the demo config.
func writeGridConfig(t *testing.T, dir string, epochs int) string {
	t.Helper()
	demo, err := filepath.Abs(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "grid.yaml")
	body := fmt.Sprintf(`version: 1
name: tgrid
extends: %s
demo:
  posters: 120
train:
  epochs: %d
  early_stopping:
    patience: 0
evaluate:
  bootstrap: 20
grid:
  shrink_percent: [30, 40]
  learning_rate: [0.001, 0.01]
`, demo, epochs)
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

type procResult struct {
	code   int
	stdout string
	stderr string
}

// startBin starts the binary; wait for its result on the channel.
func startBin(t *testing.T, bin string, args ...string) (*exec.Cmd, <-chan procResult) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan procResult, 1)
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		done <- procResult{code, out.String(), errb.String()}
	}()
	return cmd, done
}

// startUntil starts the binary and returns once a line of its stderr
// contains marker (the rest of stderr is drained); the process is killed
// when the test ends.
func startUntil(t *testing.T, bin, marker string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stderr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && !strings.Contains(sc.Text(), marker) {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd
}

// builds counts the stage builds in JSON logs: "running" records by stage.
func builds(logs ...string) map[string]int {
	n := map[string]int{}
	for _, l := range logs {
		sc := bufio.NewScanner(strings.NewReader(l))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				Msg   string `json:"msg"`
				Stage string `json:"stage"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "running" {
				n[rec.Stage]++
			}
		}
	}
	return n
}

// TestFourCellsAtOnce: four processes started at once on one fresh
// working folder, each running one cell of a 2×2 grid and attached to one
// shared run folder. The demo data, scrape and clean are built once,
// encode once per image size; every cell trains and evaluates; the cells
// collect into one run record with every cell ok.
func TestFourCellsAtOnce(t *testing.T) {
	bin := pipelineBin(t)
	dir := t.TempDir()
	file := writeGridConfig(t, dir, 1)
	work := filepath.Join(dir, "work")
	var dones []<-chan procResult
	for i := range 4 {
		// Cells by index (as a Slurm array task passes them) and by key.
		cell := fmt.Sprint(i)
		if i == 3 {
			cell = "40/0.01"
		}
		_, done := startBin(t, bin, "run", file, "--cell", cell, "--run-id", "R1", "--workdir", work, "--log-format", "json")
		dones = append(dones, done)
	}
	var logs []string
	for i, done := range dones {
		r := <-done
		logs = append(logs, r.stderr)
		if r.code != cli.ExitOK {
			t.Errorf("cell %d: exit %d\n%s", i, r.code, lastLines(r.stderr, 15))
		}
	}
	want := map[string]int{"scrape": 1, "clean": 1, "encode": 2, "train": 4, "evaluate": 4}
	if got := builds(logs...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("builds %v, want %v", got, want)
	}
	if d, _ := filepath.Glob(filepath.Join(work, "demo-data", "*")); len(d) != 1 {
		t.Errorf("demo data folders %v, want one", d)
	}
	cfg, err := configs.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := pipeline.CollectRun(work, cfg, "R1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != "ok" || len(rec.Steps) != 20 || !strings.Contains(rec.Grid, "| 40% |") {
		t.Errorf("collected run: status %q (%s), %d steps, grid:\n%s", rec.Status, rec.Error, len(rec.Steps), rec.Grid)
	}
	if got := readRunRecord(t, filepath.Join(work, "runs", "latest")); got.ID != "R1" {
		t.Errorf("runs/latest is %q, want R1", got.ID)
	}
	if left, _ := filepath.Glob(filepath.Join(work, "locks", "*")); len(left) != 0 {
		t.Errorf("locks left behind: %v", left)
	}
}

// TestCellLocksAndKill: a run of cell 0 holds that cell's lock, so a
// second run of cell 0 exits 3 naming the holder's host, pid and start,
// while cell 1 runs alongside and completes. The first is killed with
// SIGKILL while it holds train's build lock: the lock files stay behind,
// and the next run of cell 0 takes them over (same host, dead pid: the
// documented stale rule), sets the half-written training aside and
// completes.
func TestCellLocksAndKill(t *testing.T) {
	bin := pipelineBin(t)
	dir := t.TempDir()
	file := writeGridConfig(t, dir, 40)
	work := filepath.Join(dir, "work")
	common := []string{"--workdir", work, "--log-format", "json"}
	long := startUntil(t, bin, `"msg":"epoch"`, append([]string{"run", file, "--cell", "0"}, common...)...)

	_, other := startBin(t, bin, append([]string{"run", file, "--cell", "1", "--set", "train.epochs=1"}, common...)...)
	code, _, errs := runBin(t, bin, append([]string{"run", file, "--cell", "30/0.001"}, common...)...)
	host, _ := os.Hostname()
	if code != cli.ExitLocked || !strings.Contains(errs, "another run holds the lock") ||
		!strings.Contains(errs, fmt.Sprintf("pid %d", long.Process.Pid)) || !strings.Contains(errs, "host "+host) {
		t.Errorf("same cell: exit %d, want 3 naming host %s pid %d:\n%s", code, host, long.Process.Pid, lastLines(errs, 5))
	}
	long.Process.Signal(syscall.SIGKILL)
	long.Wait()
	if r := <-other; r.code != cli.ExitOK {
		t.Errorf("another cell alongside: exit %d\n%s", r.code, lastLines(r.stderr, 10))
	}
	if held, _ := filepath.Glob(filepath.Join(work, "locks", "*.lock")); len(held) != 2 {
		t.Fatalf("locks after kill -9: %v, want the dead holder's run and build-train locks", held)
	}
	if m, _ := filepath.Glob(filepath.Join(work, "stages", "train", "*", "_stage.json")); len(m) != 1 {
		t.Fatalf("complete train outputs %v, want only cell 1's", m)
	}
	code, _, errs = runBin(t, bin, append([]string{"run", file, "--cell", "0"}, common...)...)
	if code != cli.ExitOK {
		t.Fatalf("after kill -9: exit %d\n%s", code, lastLines(errs, 15))
	}
	if got := builds(errs); got["train"] != 1 || got["scrape"] != 0 || got["encode"] != 0 {
		t.Errorf("rerun builds %v, want train only (upstream reused)", got)
	}
	if n := strings.Count(errs, "stale lock taken over"); n != 2 {
		t.Errorf("%d stale locks taken over, want 2 (run and build):\n%s", n, lastLines(errs, 20))
	}
	if kept, _ := filepath.Glob(filepath.Join(work, "stages", "train", ".staging-*")); len(kept) != 0 {
		t.Errorf("staging left: %v", kept)
	}
	if left, _ := filepath.Glob(filepath.Join(work, "locks", "*")); len(left) != 0 {
		t.Errorf("locks left behind: %v", left)
	}
}
