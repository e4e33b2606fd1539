package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/postergenre/postergenre/internal/digestcache"
	"github.com/postergenre/postergenre/stages"
)

// OutputFile is one file of a completed stage output as recorded at
// commit (StageManifest.Files): what the check on reuse compares.
type OutputFile struct {
	// Path is relative to the output folder, with forward slashes.
	Path string `json:"path"`
	Size int64  `json:"size"`
	// ModTime is the file's modification time at commit (Unix ns). A file
	// whose size and mtime still match is trusted without reading it; one
	// whose mtime changed (a copy without -a) is hashed again.
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
	// Volatile files (stages.VolatileFiler: timings) are checked but are
	// not part of the output's content identity.
	Volatile bool `json:"volatile,omitempty"`
}

// scanOutput records every file of the output in dir (but the manifest)
// with its size, mtime and sha256, sorted by path.
func scanOutput(dir string, volatile []string) ([]OutputFile, error) {
	var files []OutputFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == StageManifestFile || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum, err := digestcache.FileSHA256(path)
		if err != nil {
			return err
		}
		files = append(files, OutputFile{Path: rel, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), SHA256: sum, Volatile: matchAny(volatile, rel)})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}

// contentID is an output's identity by content: a digest of the paths and
// sha256 of its files that are not volatile. Two productions with the same
// bytes get the same id, so what was built from the first stays up to
// date after the second (a forced rerun that changed nothing).
func contentID(files []OutputFile) string {
	h := sha256.New()
	for _, f := range files {
		if !f.Volatile {
			fmt.Fprintf(h, "%s %s\n", f.Path, f.SHA256)
		}
	}
	return "c" + hex.EncodeToString(h.Sum(nil))[:15]
}

// volatileOf is the stage's list of volatile file patterns, if any.
func volatileOf(st stages.Stage) []string {
	if v, ok := st.(stages.VolatileFiler); ok {
		return v.VolatileFiles()
	}
	return nil
}

// matchAny reports whether rel matches one of the patterns (path.Match
// syntax on slash paths; a pattern ending in "/" matches a whole folder).
func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p) {
			return true
		}
		if ok, _ := filepath.Match(p, rel); ok {
			return true
		}
	}
	return false
}

// DamageError is a completed output whose files are no longer what its
// manifest recorded.
type DamageError struct {
	Dir  string
	File string
	What string // "missing", "size 100000, recorded 2417023", "content changed"
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("%s: %s %s", e.Dir, e.File, e.What)
}

// checkOutput compares the files of the output in dir with what the
// manifest recorded: cheaply (size and mtime; a file whose mtime differs
// is hashed), or with full, every file's sha256. Outputs committed before
// files were recorded pass.
func checkOutput(dir string, m StageManifest, full bool) error {
	for _, f := range m.Files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			return &DamageError{Dir: dir, File: f.Path, What: "missing"}
		case !fi.Mode().IsRegular():
			return &DamageError{Dir: dir, File: f.Path, What: "not a regular file"}
		case fi.Size() != f.Size:
			return &DamageError{Dir: dir, File: f.Path, What: fmt.Sprintf("size %d, recorded %d", fi.Size(), f.Size)}
		case !full && fi.ModTime().UnixNano() == f.ModTime:
			continue
		}
		sum, err := digestcache.FileSHA256(path)
		if err != nil {
			return &DamageError{Dir: dir, File: f.Path, What: "unreadable: " + err.Error()}
		}
		if sum != f.SHA256 {
			return &DamageError{Dir: dir, File: f.Path, What: "content changed (sha256)"}
		}
	}
	return nil
}
