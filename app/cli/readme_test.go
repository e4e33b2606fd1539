package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// readmeCommands extracts the command lines of README.md's Usage block
// (the first ```sh block under "## Usage"), without their comments.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n## Usage\n")
	if i < 0 {
		t.Fatal("README.md has no ## Usage section")
	}
	start := strings.Index(text[i:], "```sh\n")
	end := strings.Index(text[i+start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("README.md's Usage section has no ```sh block")
	}
	var cmds []string
	for _, line := range strings.Split(text[i+start+6:i+start+6+end], "\n") {
		if c, _, _ := strings.Cut(line, "  #"); strings.HasPrefix(c, "bin/pipeline ") {
			cmds = append(cmds, strings.TrimSpace(c))
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("README.md's Usage block has %d command lines", len(cmds))
	}
	return cmds
}

// makeRunCommand is `make run`'s command from the Makefile, for a working
// folder.
func makeRunCommand(t *testing.T, workdir string) string {
	t.Helper()
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\nrun: build\n\t")
	if !ok {
		t.Fatal("Makefile has no `run: build` target")
	}
	line, _, _ := strings.Cut(rest, "\n")
	return strings.ReplaceAll(line, "$(WORKDIR)", workdir)
}

// TestREADMECommands runs `make run`'s command, then every command line of
// README.md's Usage block, as a person copying them would (a shell in a
// folder holding bin/pipeline and configs/, the default working folder):
// each exits 0; serve starts, serves, and exits 0 on SIGINT. Then `exp`
// fits 80 columns and its --csv parses in Python's csv module.
func TestREADMECommands(t *testing.T) {
	// Mostly waiting on Slurm and child processes: overlaps the package's
	// other long test, which keeps CI's wall time down.
	t.Parallel()
	bin := pipelineBin(t)
	if testing.Short() {
		t.Skip("the demo and every README command: minutes")
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	abs, _ := filepath.Abs(bin)
	configs, _ := filepath.Abs("../../configs")
	if err := errors.Join(os.Symlink(abs, filepath.Join(dir, "bin", "pipeline")), os.Symlink(configs, filepath.Join(dir, "configs"))); err != nil {
		t.Fatal(err)
	}
	sh := func(line string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "POSTERGENRE_WORKDIR=", "COLUMNS=80")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return 0, string(out)
	}
	if code, out := sh(makeRunCommand(t, "work")); code != 0 {
		t.Fatalf("make run's command: exit %d\n%s", code, lastLines(out, 20))
	}
	for _, line := range readmeCommands(t) {
		if strings.HasPrefix(line, "bin/pipeline serve ") {
			serveUntilSignal(t, dir, line+" --addr 127.0.0.1:0")
			continue
		}
		code, out := sh(line)
		if code != 0 {
			t.Errorf("README: %s\nexit %d, want 0:\n%s", line, code, lastLines(out, 15))
		}
		if strings.HasPrefix(line, "bin/pipeline exp") || strings.HasPrefix(line, "bin/pipeline history") {
			for _, l := range strings.Split(out, "\n") {
				if utf8.RuneCountInString(l) > 80 {
					t.Errorf("%s: line of %d columns at COLUMNS=80: %q", line, utf8.RuneCountInString(l), l)
				}
			}
		}
	}
	if page, err := os.ReadFile(filepath.Join(dir, "compare.html")); err != nil || !bytes.Contains(page, []byte(`class="curve"`)) {
		t.Errorf("compare.html: %v, or no curves", err)
	}
	python := os.Getenv("PYTHON")
	if python == "" {
		python = "python3"
	}
	code, out := sh("bin/pipeline exp --csv --all | " + python + ` -c 'import csv,sys; rows=list(csv.reader(sys.stdin)); assert len(rows) >= 3 and all(len(r) == len(rows[0]) for r in rows), rows; print(len(rows), "rows")'`)
	if code != 0 {
		t.Errorf("exp --csv through Python's csv module: exit %d\n%s", code, out)
	}
}

// serveUntilSignal starts a serve command line, waits until it says it is
// serving, then sends SIGINT: it must exit 0 (shut down cleanly).
func serveUntilSignal(t *testing.T, dir, line string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "exec "+line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "POSTERGENRE_WORKDIR=")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	served := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "serving model ") && !ok {
				ok = true
				served <- true
			}
		}
		if !ok {
			served <- false
		}
	}()
	select {
	case ok := <-served:
		if !ok {
			cmd.Wait()
			t.Errorf("README: %s: exited without serving:\n%s", line, lastLines(stderr.String(), 10))
			return
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Errorf("README: %s: not serving after 2 minutes", line)
		return
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("README: %s: after SIGINT: %v, want exit 0\n%s", line, err, lastLines(stderr.String(), 10))
	}
}
