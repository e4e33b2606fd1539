package cli_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/pipeline"
)

// TestNothingToDoNeedsNoSpace is issue 26 item 11: on a nearly full disk a
// run that finds everything up to date still succeeds, since it writes
// only its record (it used to copy report/ into a new run folder and fail
// with "no space left on device").
func TestNothingToDoNeedsNoSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("trains once")
	}
	dir := smallTmpfs(t, "96m")
	work := filepath.Join(dir, "work")
	args := []string{"run", demoConfig, "--workdir", work, "--set", "demo.posters=200", "--set", "train.epochs=1",
		"--set", "evaluate.bootstrap=20", "--log-format", "json", "--quiet"}
	if code, out, errs := run(t, args...); code != cli.ExitOK {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, lastLines(errs, 10))
	}
	report := filepath.Join(work, "runs", "latest", "report")
	var reportBytes int64
	filepath.Walk(report, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			reportBytes += fi.Size()
		}
		return nil
	})
	// Leave less free space than one copy of the report.
	leave := reportBytes / 4
	fillTo(t, dir, leave)
	code, out, errs := run(t, args...)
	if code != cli.ExitOK {
		t.Fatalf("nothing-to-do run with %d bytes free (report: %d): exit %d\n%s\n%s", leave, reportBytes, code, out, lastLines(errs, 10))
	}
	runs, err := pipeline.History(work)
	if err != nil || len(runs) != 2 || !pipeline.NothingRan(runs[0]) {
		t.Errorf("history: %d runs, %v; want the second recorded as nothing ran", len(runs), err)
	}
}

// fillTo writes a file until about leave bytes are free on dir's file
// system.
func fillTo(t *testing.T, dir string, leave int64) {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	free := int64(fs.Bavail) * fs.Bsize
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := int64(0); n+int64(len(buf)) < free-leave; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}
