package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExpandInputsEmptyFolder: a folder without images is a failed input
// (predict then exits 1 and says so) instead of nothing at all (exit 0).
func TestExpandInputsEmptyFolder(t *testing.T) {
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "b.jpg"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(full, "a.PNG"), []byte("x"), 0o644)

	got := expandInputs([]string{empty, full})
	if len(got) != 3 {
		t.Fatalf("inputs %+v, want the empty folder's error and 2 images", got)
	}
	if got[0].path != empty || got[0].err == nil || !strings.Contains(got[0].err.Error(), "no images found") {
		t.Errorf("empty folder: %+v", got[0])
	}
	if got[1].path != filepath.Join(full, "a.PNG") || got[2].path != filepath.Join(full, "b.jpg") || got[1].err != nil {
		t.Errorf("images: %+v", got[1:])
	}
}
