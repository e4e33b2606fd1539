package cli_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
)

// fullDisk mounts a tiny tmpfs and fills it, so the next write fails with
// ENOSPC; it skips where mounting is not allowed (not root, no
// CAP_SYS_ADMIN).
func fullDisk(t *testing.T) string {
	t.Helper()
	dir := smallTmpfs(t, "64k")
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return dir
		}
	}
}

// TestFailuresBeforeAStageArePrinted: a run that fails before any stage
// starts (its working folder a file, a full disk, a missing CSV) says why
// on stderr, also under --quiet and in either log format, with exit 1 (2
// for a --workdir that is not a folder).
func TestFailuresBeforeAStageArePrinted(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "m.csv")
	cfg := filepath.Join(dir, "c.yaml")
	missing := filepath.Join(dir, "missing.yaml")
	os.WriteFile(csv, []byte("imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\n1,x,A (2001),5,Drama,http://127.0.0.1:1/1.jpg\n"), 0o644)
	os.WriteFile(cfg, []byte("version: 1\nname: f\nscrape:\n  csv: m.csv\n  retries: 0\n"), 0o644)
	os.WriteFile(missing, []byte("version: 1\nname: m\nscrape:\n  csv: nowhere.csv\n"), 0o644)
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)

	tests := []struct {
		name    string
		workdir func(t *testing.T) string
		args    []string
		code    int
		want    string
	}{
		{"workdir is a file", func(*testing.T) string { return file }, []string{"run", cfg}, cli.ExitUsage, "not a folder"},
		{"workdir is a file, dry run", func(*testing.T) string { return file }, []string{"run", cfg, "--dry-run"}, cli.ExitUsage, "not a folder"},
		{"workdir is a file, status", func(*testing.T) string { return file }, []string{"status", cfg}, cli.ExitUsage, "not a folder"},
		{"workdir is a file, demo", func(*testing.T) string { return file }, []string{"run", demoConfig}, cli.ExitUsage, "not a folder"},
		{"disk full", func(t *testing.T) string { return filepath.Join(fullDisk(t), "work") }, []string{"run", cfg}, cli.ExitFailed, "no space left on device"},
		{"disk full, demo", func(t *testing.T) string { return filepath.Join(fullDisk(t), "work") }, []string{"run", demoConfig}, cli.ExitFailed, "no space left on device"},
		{"dry run, missing CSV", func(t *testing.T) string { return t.TempDir() }, []string{"run", missing, "--dry-run"}, cli.ExitFailed, "nowhere.csv"},
	}
	for _, tt := range tests {
		for _, format := range []string{"json", "text"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				work := tt.workdir(t)
				args := append(tt.args, "--workdir", work, "--quiet", "--log-format", format)
				code, out, errs := run(t, args...)
				if code != tt.code || !strings.Contains(errs, tt.want) {
					t.Errorf("exit %d (want %d); stderr lacks %q:\n%s\nstdout:\n%s", code, tt.code, tt.want, errs, out)
				}
				// A run folder that could not be set up is not left to
				// look like a killed run in history.
				if runs, _ := os.ReadDir(filepath.Join(work, "runs")); len(runs) != 0 && tt.code == cli.ExitFailed && !strings.Contains(tt.name, "CSV") {
					t.Errorf("left %d run folder(s) behind", len(runs))
				}
			})
		}
	}
}

// smallTmpfs mounts a tmpfs of the given size on a temporary folder. It
// skips where mounting is not allowed (not root, no CAP_SYS_ADMIN), except
// under CI=true, where the test must run.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a tmpfs (CI=true: must run): %v", err)
		}
		t.Skipf("cannot mount a tmpfs to fill: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}
