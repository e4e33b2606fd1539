package atomicfile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/internal/atomicfile"
)

func TestWriteFileReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	for _, content := range []string{"first", "second, longer"} {
		if err := atomicfile.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != content {
			t.Errorf("got %q, want %q", got, content)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	assertNoTemps(t, dir)
}

func TestAbortLeavesOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	atomicfile.WriteFile(p, []byte("old"), 0o644)
	f, err := atomicfile.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half of the new"))
	f.Abort()
	f.Abort() // idempotent
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("aborted write changed the file: %q", got)
	}
	if err := f.Commit(); err == nil {
		t.Error("commit after abort succeeded")
	}
	assertNoTemps(t, dir)
}

func TestWriteFileNoDirSync(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "poster.jpg")
	if err := atomicfile.WriteFileNoDirSync(p, []byte("jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "jpeg" {
		t.Errorf("got %q", got)
	}
	assertNoTemps(t, dir)
}

func TestWriteFromAndRenameDir(t *testing.T) {
	dir := t.TempDir()
	n, err := atomicfile.WriteFrom(filepath.Join(dir, "b"), bytes.NewReader([]byte("12345")), 0o644)
	if err != nil || n != 5 {
		t.Fatalf("WriteFrom: %d, %v", n, err)
	}
	staging := filepath.Join(dir, ".staging")
	os.Mkdir(staging, 0o755)
	if err := atomicfile.RenameDir(staging, filepath.Join(dir, "final")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "final")); err != nil {
		t.Error(err)
	}
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// TestCopyFile: a regular file is copied whole over the target; a missing
// source or one that is not a regular file (a folder) is an error and
// leaves the target as it was.
func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("poster"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src, want string
		err       bool
	}{
		{filepath.Join(dir, "missing"), "old", true},
		{dir, "old", true},
		{src, "poster", false},
	} {
		err := atomicfile.CopyFile(dst, c.src)
		if got, _ := os.ReadFile(dst); (err != nil) != c.err || string(got) != c.want {
			t.Errorf("copy %s: %v, target %q, want %q", c.src, err, got, c.want)
		}
	}
}
