// Package atomicfile writes files so that a reader sees either the old
// content or the complete new one, never a partial write: the data goes to a
// temporary file in the same folder, is fsynced, then renamed over the target,
// and the folder is fsynced so the rename itself survives a crash.
package atomicfile

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/internal/regular"
)

// File is a pending atomic write. Write to it, then Commit; Abort (safe to
// defer after Commit) removes the temporary file.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts an atomic write of path. The parent folder must exist.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Commit fsyncs, closes and renames the file into place, then fsyncs the
// folder so the rename survives a crash.
func (f *File) Commit() error {
	if err := f.commitFile(); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(f.path))
}

// CommitNoDirSync is Commit without the folder fsync. After a crash the
// file is either complete or absent (never partial), but a recent rename
// may be lost. For many small files in one folder (a poster store whose
// index is verified on read), sync the folder once with SyncDir before
// writing anything that refers to them.
func (f *File) CommitNoDirSync() error { return f.commitFile() }

func (f *File) commitFile() error {
	if f.done {
		return fmt.Errorf("atomicfile: %s already committed or aborted", f.path)
	}
	f.done = true
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		os.Remove(f.File.Name())
		return err
	}
	if err := f.File.Close(); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	if err := os.Rename(f.File.Name(), f.path); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	return nil
}

// Abort discards the write. It does nothing after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, (*File).Commit)
}

// WriteFileNoDirSync is WriteFile with CommitNoDirSync.
func WriteFileNoDirSync(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, (*File).CommitNoDirSync)
}

func writeFile(path string, data []byte, perm os.FileMode, commit func(*File) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	return commit(f)
}

// CopyFile copies the regular file src to dst (mode 0644) as WriteFrom
// writes: a reader of dst sees the old file or the whole copy.
func CopyFile(dst, src string) error {
	in, err := regular.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = WriteFrom(dst, in, 0o644)
	return err
}

// WriteFrom atomically replaces path with everything read from r.
func WriteFrom(path string, r io.Reader, perm os.FileMode) (int64, error) {
	f, err := Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Abort()
	n, err := io.Copy(f, r)
	if err != nil {
		return n, err
	}
	if err := f.Chmod(perm); err != nil {
		return n, err
	}
	return n, f.Commit()
}

// SyncDir fsyncs a folder so that renames and creations inside it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// RenameDir moves a completed staging folder into place, replacing nothing:
// if dst exists the call fails, so a reader never sees a folder swap.
func RenameDir(staging, dst string) error {
	if err := os.Rename(staging, dst); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(dst))
}

// WriteJSON writes v as indented JSON (with a final newline) atomically:
// the one way stage manifests, summaries and small metadata files are
// written.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'), 0o644)
}
