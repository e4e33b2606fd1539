package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// GC removes run folders beyond the newest keep, never the one runs/latest
// points at. Stage outputs are the cache and are not touched: a run
// folder holds hard links to the files it used, so removing it frees only
// what no other run folder and no stage output still links. It takes the
// gc lock (one gc at a time) and, while any run holds a run lock, leaves
// every run folder without run.json alone, so a run in progress is never
// collected; with dryRun it only lists. It returns the run ids removed (or that would be),
// oldest first.
func GC(workdir string, keep int, dryRun bool) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("gc: keep must be >= 1, got %d", keep)
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
	entries, err := os.ReadDir(l.runs())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	latest, _ := os.Readlink(filepath.Join(l.runs(), "latest"))
	var runs []RunRecord
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "latest" {
			continue
		}
		rec, err := readRun(l.run(e.Name()))
		if err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		runs = append(runs, rec)
	}
	// Newest first: by start time (run ids have whole seconds only).
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].Started.Equal(runs[j].Started) {
			return runs[i].Started.After(runs[j].Started)
		}
		return runs[i].ID > runs[j].ID
	})
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	running := runsActive(l)
	// Removed oldest first: by start time, not by id (ids started in the
	// same second differ only by their random suffix).
	var removed []string
	for i := len(ids) - 1; i >= 0; i-- {
		if i < keep || ids[i] == filepath.Base(latest) || running && runs[i].Status == HistoryInterrupted {
			continue
		}
		removed = append(removed, ids[i])
	}
	if dryRun {
		return removed, nil
	}
	for _, id := range removed {
		if err := os.RemoveAll(l.run(id)); err != nil {
			return removed, fmt.Errorf("gc: %w", err)
		}
	}
	return removed, nil
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
