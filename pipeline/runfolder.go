package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/stages"
)

// linkRun points the run folder at the outputs it used: <run>/<stage> for
// every stage, plus the entries stages ask for (stages.RunLinker: the
// model linked, the report copied).
func linkRun(dir string, outDirs map[string]string, built map[string]stages.Stage) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range stages.Order {
		out, ok := outDirs[name]
		if !ok {
			continue
		}
		if err := replaceSymlink(out, filepath.Join(dir, name)); err != nil {
			return err
		}
		l, ok := built[name].(stages.RunLinker)
		if !ok {
			continue
		}
		for _, link := range l.RunLinks() {
			target, entry := filepath.Join(out, link.Path), filepath.Join(dir, link.Name)
			var err error
			if link.Copy {
				err = copyDir(target, entry)
			} else {
				err = replaceSymlink(target, entry)
			}
			if err != nil {
				return fmt.Errorf("run folder %s: %w", link.Name, err)
			}
		}
	}
	return nil
}

// replaceSymlink makes link point at target, whatever was there.
func replaceSymlink(target, link string) error {
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(target, link)
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = atomicfile.WriteFrom(target, in, 0o644)
		return err
	})
}
