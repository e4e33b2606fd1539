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

// linkRun gives the run folder the outputs it used: <run>/<stage> for
// every stage, plus the entries stages ask for (stages.RunLinker: the
// model linked, the report copied).
//
// <run>/<stage> is a tree of hard links to the stage output's files, not a
// symlink to stages/<stage>/<fp>: a later --force replaces that folder
// (and deletes the old one), but the files' data lives on through the run
// folder's own names, so a run folder keeps what that run produced at the
// cost of directory entries only. Stages never modify a committed file
// (they write new files and rename), so sharing the data is safe. Where
// hard links are impossible (another file system) files are copied.
func linkRun(dir string, outDirs map[string]string, built map[string]stages.Stage) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range stages.Order {
		out, ok := outDirs[name]
		if !ok {
			continue
		}
		own := filepath.Join(dir, name)
		if err := linkTree(out, own); err != nil {
			return fmt.Errorf("run folder %s: %w", name, err)
		}
		l, ok := built[name].(stages.RunLinker)
		if !ok {
			continue
		}
		for _, link := range l.RunLinks() {
			target, entry := filepath.Join(own, link.Path), filepath.Join(dir, link.Name)
			var err error
			if link.Copy {
				err = copyDir(target, entry)
			} else {
				// Relative, inside the run folder: survives moving the workdir.
				rel, rerr := filepath.Rel(dir, target)
				if rerr != nil {
					return rerr
				}
				err = replaceSymlink(rel, entry)
			}
			if err != nil {
				return fmt.Errorf("run folder %s: %w", link.Name, err)
			}
		}
	}
	return nil
}

// linkTree makes dst a tree of hard links to src's files (copies where
// linking fails), replacing whatever dst was.
func linkTree(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return walkCopy(src, dst, true)
}

// walkCopy recreates src's tree under dst. With link, files are hard links
// (a copy when linking fails, e.g. across file systems) and symlinks stay
// symlinks; without it, every file is copied.
func walkCopy(src, dst string, link bool) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case link && d.Type()&fs.ModeSymlink != 0:
			to, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(to, target)
		}
		if link && os.Link(path, target) == nil {
			return nil
		}
		return atomicfile.CopyFile(target, path)
	})
}

// replaceSymlink makes link point at target, whatever was there.
func replaceSymlink(target, link string) error {
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(target, link)
}

func copyDir(src, dst string) error { return walkCopy(src, dst, false) }
