package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Tag is a name for a run or a grid cell, like an MLflow model alias
// ("champion"): predict, serve, diff and compare accept it wherever they
// take a run, and gc never removes a tagged run.
type Tag struct {
	Run     string    `json:"run"`
	Cell    string    `json:"cell,omitempty"` // grid cell key, "" for a whole run
	Created time.Time `json:"created"`
}

// ErrRunRef marks an error in what a person typed: a run, cell or tag
// name that does not resolve (the CLI's usage error).
var ErrRunRef = errors.New("bad run or tag name")

// tagsFile holds every tag of a working folder: name → Tag.
const tagsFile = "tags.json"

var tagName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// ReadTags reads the working folder's tags (none: an empty map).
func ReadTags(workdir string) (map[string]Tag, error) {
	tags := map[string]Tag{}
	path := filepath.Join(workdir, tagsFile)
	if err := readJSON(path, &tags); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tags %s: %w", path, err)
	}
	return tags, nil
}

func lookupTag(workdir, name string) (Tag, bool, error) {
	if !tagName.MatchString(name) || name == "latest" {
		return Tag{}, false, nil
	}
	tags, err := ReadTags(workdir)
	if err != nil {
		return Tag{}, false, err
	}
	t, ok := tags[name]
	return t, ok, nil
}

// SetTag points name at the run (or grid cell) ref names, replacing what
// it pointed at; it takes the working folder's lock. A name must start
// with a letter and must not be "latest" or a run id prefix.
func SetTag(workdir, ref, name string) (RunRef, error) {
	if !tagName.MatchString(name) || name == "latest" {
		return RunRef{}, fmt.Errorf("%w: tag %q: a name is a letter then up to 63 letters, digits, '.', '_' or '-', and not \"latest\"", ErrRunRef, name)
	}
	if _, err := ResolveRun(workdir, name); err == nil {
		return RunRef{}, fmt.Errorf("%w: tag %q: also the start of a run id; choose another name", ErrRunRef, name)
	}
	r, err := ResolveRunRef(workdir, ref)
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrRunRef, err)
	}
	return r, updateTags(workdir, func(tags map[string]Tag) {
		tags[name] = Tag{Run: r.Record.ID, Cell: r.Cell, Created: time.Now().UTC()}
	})
}

// DeleteTag removes a tag; an unknown one is an error.
func DeleteTag(workdir, name string) error {
	var found bool
	err := updateTags(workdir, func(tags map[string]Tag) {
		_, found = tags[name]
		delete(tags, name)
	})
	if err == nil && !found {
		return fmt.Errorf("no tag %q: %w", name, fs.ErrNotExist)
	}
	return err
}

func updateTags(workdir string, change func(map[string]Tag)) error {
	l := layout{root: workdir}
	lock, err := tryLock(l.namedLock("tags"), "tags", DefaultLease)
	if err != nil {
		return err
	}
	defer lock.Release()
	tags, err := ReadTags(workdir)
	if err != nil {
		return err
	}
	change(tags)
	return writeJSON(filepath.Join(workdir, tagsFile), tags)
}

// TagsOf lists the tag names pointing at a run (any of its cells when
// cell is "*"), sorted.
func TagsOf(tags map[string]Tag, run, cell string) []string {
	var out []string
	for n, t := range tags {
		if t.Run == run && (cell == "*" || t.Cell == cell) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
