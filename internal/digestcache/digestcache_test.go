package digestcache

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// settled opens root's cache with a clock 2 s ahead, so files written by
// the test are old enough to be remembered (outside the racy window).
func settled(root string) *Cache {
	c := Open(root)
	c.now = func() time.Time { return time.Now().Add(2 * racyWindow) }
	return c
}

// TestChangesAreSeen: after a cache is saved, a second process (a new
// Cache from the file) reads only the files that changed since, however
// they changed.
func TestChangesAreSeen(t *testing.T) {
	tests := []struct {
		name     string
		change   func(t *testing.T, path string) // nil: unchanged
		verify   bool
		want     string // the file's content afterwards ("" = gone)
		wantRead int
	}{
		{name: "unchanged", want: "poster-a", wantRead: 0},
		{name: "unchanged, verify reads", verify: true, want: "poster-a", wantRead: 1},
		{name: "same size, mtime restored (touch -r)", change: func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			write(t, p, "poster-b")
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}, want: "poster-b", wantRead: 1},
		{name: "truncated", change: func(t *testing.T, p string) { os.Truncate(p, 3) }, want: "pos", wantRead: 1},
		{name: "replaced by rename", change: func(t *testing.T, p string) {
			write(t, p+".new", "poster-c")
			os.Rename(p+".new", p)
		}, want: "poster-c", wantRead: 1},
		{name: "deleted", change: func(t *testing.T, p string) { os.Remove(p) }, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "1.jpg")
			write(t, path, "poster-a")
			first := settled(root)
			if got, err := first.SHA256("1.jpg", false); err != nil || got != sumOf([]byte("poster-a")) {
				t.Fatalf("first: %s, %v", got, err)
			}
			if err := first.Save(); err != nil {
				t.Fatal(err)
			}
			if tc.change != nil {
				tc.change(t, path)
			}
			second := settled(root)
			got, err := second.SHA256("1.jpg", tc.verify)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("deleted file: got %s, want an error", got)
				}
				return
			}
			if err != nil || got != sumOf([]byte(tc.want)) {
				t.Errorf("got %s, %v; want the sha256 of %q", got, err, tc.want)
			}
			if second.Read() != tc.wantRead {
				t.Errorf("read %d files, want %d", second.Read(), tc.wantRead)
			}
		})
	}
}

// TestCopiedFolderIsReadAgain: `cp -a` keeps sizes and mtimes but not
// inodes or ctimes, so the copy's cache (copied with it) does not vouch
// for the copy's files.
func TestCopiedFolderIsReadAgain(t *testing.T) {
	src := filepath.Join(t.TempDir(), "store")
	os.Mkdir(src, 0o755)
	write(t, filepath.Join(src, "1.jpg"), "poster-a")
	c := settled(src)
	c.SHA256("1.jpg", false)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dst, FileName)); err != nil {
		t.Fatalf("the cache was not copied: %v", err)
	}
	copied := settled(dst)
	if _, err := copied.SHA256("1.jpg", false); err != nil || copied.Read() != 1 {
		t.Errorf("copy: read %d files (err %v), want 1", copied.Read(), err)
	}
	again := settled(src)
	if _, err := again.SHA256("1.jpg", false); err != nil || again.Read() != 0 {
		t.Errorf("original: read %d files (err %v), want 0", again.Read(), err)
	}
}

// TestRecentChangeNotRemembered: a file changed within the racy window is
// read again next time, since a write in the same clock tick could follow.
func TestRecentChangeNotRemembered(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "1.jpg"), "poster-a")
	c := Open(root) // real clock: the file was written just now
	c.SHA256("1.jpg", false)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, FileName)); err == nil {
		t.Error("a cache file was written for a file changed within the racy window")
	}
}

func TestDamagedCacheIsIgnored(t *testing.T) {
	tests := []struct{ name, content string }{
		{"not ours", "hello\n"},
		{"bad line", header + "x\ty\n"},
		{"wrong digest", header + "8\t1\t1\t1\tabc\t1.jpg\n"},
		{"stale entry", header + "8\t1\t1\t1\t" + sumOf([]byte("other")) + "\t1.jpg\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, filepath.Join(root, "1.jpg"), "poster-a")
			write(t, filepath.Join(root, FileName), tc.content)
			c := settled(root)
			if got, err := c.SHA256("1.jpg", false); err != nil || got != sumOf([]byte("poster-a")) || c.Read() != 1 {
				t.Errorf("got %s, %v, read %d: want the file read and hashed", got, err, c.Read())
			}
		})
	}
}

func TestSpecialFilesRefused(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "d.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := settled(root).SHA256("d.jpg", false); err == nil {
		t.Error("a directory was hashed")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
