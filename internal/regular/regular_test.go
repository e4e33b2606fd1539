package regular_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/postergenre/postergenre/internal/regular"
)

// TestOpenRefusesSpecialFiles: a FIFO without a writer (which would block
// open or read forever), a folder and a device are refused at once with
// ErrNotRegular naming the kind; regular files and symlinks to them open.
func TestOpenRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "a.jpg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "b.jpg")
	os.WriteFile(file, []byte("poster"), 0o644)
	link := filepath.Join(dir, "c.jpg")
	os.Symlink(file, link)
	fifoLink := filepath.Join(dir, "d.jpg")
	os.Symlink(fifo, fifoLink)
	tests := []struct {
		path, kind string
	}{
		{fifo, "named pipe"},
		{fifoLink, "named pipe"},
		{dir, "folder"},
		{"/dev/null", "device"},
		{file, ""},
		{link, ""},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			for name, read := range map[string]func(string) error{
				"Open":     func(p string) error { f, err := regular.Open(p); f.Close(); return err },
				"ReadFile": func(p string) error { _, err := regular.ReadFile(p); return err },
				"Check":    regular.Check,
			} {
				err := read(tt.path)
				if tt.kind == "" {
					if err != nil {
						t.Errorf("%s(%s): %v", name, tt.path, err)
					}
					continue
				}
				if !errors.Is(err, regular.ErrNotRegular) || !strings.Contains(err.Error(), tt.kind) || !strings.Contains(err.Error(), tt.path) {
					t.Errorf("%s(%s): %v, want ErrNotRegular naming the path and %q", name, tt.path, err, tt.kind)
				}
			}
		})
	}
	if err := regular.CheckTree(dir); !errors.Is(err, regular.ErrNotRegular) {
		t.Errorf("CheckTree with a FIFO inside: %v", err)
	}
	clean := t.TempDir()
	os.WriteFile(filepath.Join(clean, "f"), []byte("x"), 0o644)
	os.Symlink(clean, filepath.Join(dir, "tree"))
	if err := regular.CheckTree(filepath.Join(dir, "tree")); err != nil {
		t.Errorf("CheckTree through a symlinked folder: %v", err)
	}
	if b, err := regular.ReadFile(file); err != nil || string(b) != "poster" {
		t.Errorf("ReadFile: %q %v", b, err)
	}
}

func TestReaderStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := regular.Reader(ctx, strings.NewReader("abcdef"))
	buf := make([]byte, 3)
	if n, err := r.Read(buf); n != 3 || err != nil {
		t.Fatalf("read %d %v", n, err)
	}
	cancel()
	if _, err := r.Read(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
}
