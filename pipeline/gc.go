package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/postergenre/postergenre/stages"
)

// GCOptions are the knobs of `pipeline gc`.
type GCOptions struct {
	// Keep is how many experiments (runs that trained or evaluated
	// something, see Experiment) to keep, newest first; >= 0.
	Keep int
	// Outputs also removes the stage outputs no kept run and no config's
	// state uses (like `dvc gc -w`), and every interrupted attempt.
	Outputs bool
	DryRun  bool
}

// GCItem is one folder gc removed (or would remove).
type GCItem struct {
	Path  string `json:"path"` // relative to the working folder
	Kind  string `json:"kind"` // run, output, interrupted
	Bytes int64  `json:"bytes"`
	// Why it goes: "beyond the newest N experiments", "unused", "superseded".
	Why string `json:"why"`
}

// GC removes run folders that are not among the newest Keep experiments,
// nor newer than the oldest of them (recent failures and "nothing ran"
// records stay until experiments pass them), nor runs/latest, nor a run a
// tag points at. It also removes interrupted attempts whose output has
// completed since, and with Outputs every stage output no kept run or
// config state uses. A removed run folder's files stay wherever a stage
// output or a kept run still links them. gc takes the working folder's
// lock, so a run in progress is never collected. Items are listed oldest
// run first, then outputs by path.
func GC(workdir string, o GCOptions) ([]GCItem, error) {
	if o.Keep < 0 {
		return nil, fmt.Errorf("gc: keep must be >= 0, got %d", o.Keep)
	}
	if fi, err := os.Stat(workdir); err != nil {
		return nil, fmt.Errorf("working folder %s: %w", workdir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("working folder %s: not a folder", workdir)
	}
	l := layout{root: workdir}
	lock, err := tryLock(l.namedLock("gc"), "gc", DefaultLease)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	runs, _, err := readRuns(l) // unreadable records are kept, see gcRuns
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	tags, err := ReadTags(workdir)
	if err != nil {
		return nil, err
	}
	keptRuns, items := gcRuns(l, runs, tags, o.Keep)
	outItems, err := gcOutputs(l, keptRuns, o.Outputs)
	if err != nil {
		return nil, err
	}
	items = append(items, outItems...)
	if o.DryRun {
		return items, nil
	}
	for _, it := range items {
		if err := os.RemoveAll(filepath.Join(workdir, it.Path)); err != nil {
			return items, fmt.Errorf("gc: %w", err)
		}
	}
	return items, nil
}

// readRuns reads every run folder's record, newest first by start time
// (run ids have whole seconds only; two runs of the same second differ by
// a random suffix). A run.json that cannot be read does not hide the
// others: its run is listed as HistoryUnreadable and its error returned
// in unreadable; err is for the runs folder itself.
func readRuns(l layout) (runs []RunRecord, unreadable []error, err error) {
	entries, err := os.ReadDir(l.runs())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "latest" {
			continue
		}
		rec, err := readRun(l.run(e.Name()))
		if err != nil {
			unreadable = append(unreadable, err)
			rec = unreadableRun(e.Name(), err)
		}
		runs = append(runs, rec)
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].Started.Equal(runs[j].Started) {
			return runs[i].Started.After(runs[j].Started)
		}
		return runs[i].ID > runs[j].ID
	})
	return runs, unreadable, nil
}

// gcRuns picks the run folders to remove; runs is newest first. It
// returns the kept runs and the removed ones, oldest first.
func gcRuns(l layout, runs []RunRecord, tags map[string]Tag, keep int) ([]RunRecord, []GCItem) {
	latest, _ := os.Readlink(filepath.Join(l.runs(), "latest"))
	tagged := map[string]bool{}
	for _, t := range tags {
		tagged[t.Run] = true
	}
	var cutoff time.Time // runs started before the keep-th newest experiment go
	seen := 0
	for _, r := range runs {
		if Experiment(r) {
			seen++
			if seen == keep {
				cutoff = r.Started
				break
			}
		}
	}
	if keep == 0 {
		cutoff = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // every run is older
	}
	// While a run holds a run lock, a run folder without run.json may be
	// that run in progress; a run whose record cannot be read is kept too.
	running := runsActive(l)
	var kept []RunRecord
	var items []GCItem
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if !r.Started.Before(cutoff) || r.ID == filepath.Base(latest) || tagged[r.ID] ||
			running && r.Status == HistoryInterrupted || r.Status == HistoryUnreadable {
			kept = append(kept, r)
			continue
		}
		items = append(items, GCItem{Path: filepath.Join("runs", r.ID), Kind: "run", Bytes: du(l.run(r.ID)), Why: fmt.Sprintf("older than the newest %d experiment(s)", keep)})
	}
	return kept, items
}

// gcOutputs lists the interrupted attempts whose output completed since
// and, with all, every stage output and interrupted attempt that neither
// a kept run nor a config's state uses.
func gcOutputs(l layout, kept []RunRecord, all bool) ([]GCItem, error) {
	used, err := usedOutputs(l, kept)
	if err != nil {
		return nil, err
	}
	var items []GCItem
	for _, st := range stages.Order {
		entries, err := os.ReadDir(l.stageDir(st))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := e.Name()
			rel := filepath.Join("stages", st, name)
			switch {
			case !e.IsDir() || strings.HasPrefix(name, ".staging-"):
				continue // staging: the next run removes it
			case strings.HasPrefix(name, ".interrupted-"):
				fp := strings.TrimPrefix(name, ".interrupted-")
				if _, err := os.Stat(filepath.Join(l.output(st, fp), StageManifestFile)); err == nil {
					items = append(items, GCItem{Path: rel, Kind: "interrupted", Bytes: du(l.root + "/" + rel), Why: "superseded: the output completed since"})
				} else if all {
					items = append(items, GCItem{Path: rel, Kind: "interrupted", Bytes: du(l.root + "/" + rel), Why: "unused (--outputs)"})
				}
			case all && !used[st+"/"+name]:
				items = append(items, GCItem{Path: rel, Kind: "output", Bytes: du(l.root + "/" + rel), Why: "no kept run or config state uses it"})
			}
		}
	}
	return items, nil
}

// usedOutputs is the set "stage/fingerprint" of the outputs the kept runs
// used and every config's state points at (what its next run reuses).
func usedOutputs(l layout, kept []RunRecord) (map[string]bool, error) {
	used := map[string]bool{}
	for _, r := range kept {
		for _, s := range r.Steps {
			if s.Fingerprint != "" && (s.Status == StatusRan || s.Status == StatusUpToDate) {
				used[s.Stage+"/"+s.Fingerprint] = true
			}
		}
	}
	states, err := filepath.Glob(filepath.Join(l.root, "state", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range states {
		var cs configState
		if err := readJSON(f, &cs); err != nil {
			return nil, fmt.Errorf("gc: %s: %w", f, err)
		}
		for st, s := range cs.Stages {
			used[st+"/"+s.Fingerprint] = true
		}
	}
	return used, nil
}

// du is the bytes of the regular files under dir (hard links shared with
// other folders counted: what the folder holds, not what removing it frees).
func du(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// runsActive reports whether any run lock of the working folder is held by
// a live holder (a run folder without run.json may then be in progress).
func runsActive(l layout) bool {
	locks, _ := filepath.Glob(filepath.Join(l.locks(), "run-*.lock"))
	for _, p := range locks {
		if _, raw, stale := inspectLock(p, DefaultLease); raw != nil && !stale {
			return true
		}
	}
	return false
}
