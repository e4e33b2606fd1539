package scrape

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
)

// StateFile is the scrape state kept in the poster store, shared by every
// config that uses the store. It only ever names complete poster files: a
// poster is written (atomically) before its entry is added, and the file is
// replaced atomically, so after an interruption the store and the state
// agree; posters written after the last flush are simply fetched again.
const StateFile = ".scrape-state.json"

const stateVersion = 1

// storeState is what the store knows per imdbId.
type storeState struct {
	mu      sync.Mutex
	path    string
	entries map[int64]*stateEntry
	dirty   bool
}

type stateEntry struct {
	Stored *storedPoster `json:"stored,omitempty"` // the poster file <id>.jpg
	Failed *failedFetch  `json:"failed,omitempty"` // the last failure, if after the poster
}

type storedPoster struct {
	Link      string    `json:"link"`   // the CSV poster link after rewrites ("" when it was empty)
	URL       string    `json:"url"`    // the URL the bytes came from
	Source    string    `json:"source"` // poster or imdb_page
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	FetchedAt time.Time `json:"fetched_at"`
}

type failedFetch struct {
	Link   string    `json:"link"`
	URL    string    `json:"url"`
	Reason string    `json:"reason"`
	Error  string    `json:"error"`
	At     time.Time `json:"at"`
}

type stateFile struct {
	Version int                    `json:"version"`
	Entries map[string]*stateEntry `json:"entries"`
}

func loadState(store string) (*storeState, error) {
	st := &storeState{path: filepath.Join(store, StateFile), entries: map[int64]*stateEntry{}}
	data, err := regular.ReadFile(st.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scrape: read state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("scrape: state %s: %w", st.path, err)
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("scrape: state %s: version %d, want %d", st.path, f.Version, stateVersion)
	}
	for k, e := range f.Entries {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || e == nil {
			return nil, fmt.Errorf("scrape: state %s: bad entry %q", st.path, k)
		}
		st.entries[id] = e
	}
	return st, nil
}

// get returns a copy of the entry for id (zero when unknown).
func (s *storeState) get(id int64) stateEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[id]; e != nil {
		return *e
	}
	return stateEntry{}
}

func (s *storeState) setStored(id int64, p storedPoster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[id] = &stateEntry{Stored: &p}
	s.dirty = true
}

// setFailed records a failure and keeps a stored poster of another link: it
// is still the right file for that (older) link.
func (s *storeState) setFailed(id int64, f failedFetch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil {
		e = &stateEntry{}
		s.entries[id] = e
	}
	e.Failed = &f
	if e.Stored != nil && e.Stored.Link == f.Link {
		// Only a missing or damaged file gets refetched for the same link:
		// the entry no longer names a good file.
		e.Stored = nil
	}
	s.dirty = true
}

// flush writes the state atomically if it changed since the last flush.
func (s *storeState) flush() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	f := stateFile{Version: stateVersion, Entries: make(map[string]*stateEntry, len(s.entries))}
	for id, e := range s.entries {
		c := *e
		f.Entries[strconv.FormatInt(id, 10)] = &c
	}
	s.dirty = false
	data, err := json.Marshal(f)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("scrape: encode state: %w", err)
	}
	// Posters are written without a folder fsync each (storeStep): make
	// their renames durable before the state that names them.
	err = atomicfile.SyncDir(filepath.Dir(s.path))
	if err == nil {
		err = atomicfile.WriteFile(s.path, data, 0o644)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return fmt.Errorf("scrape: write state: %w", err)
	}
	return nil
}

// removeStaleTemps deletes the temporary files of poster writes that a
// killed run left in the store (atomicfile names them .<id>.jpg.tmp-*).
// The pipeline holds the working folder's lock, so no write is in flight.
func removeStaleTemps(store string) (int, error) {
	matches, err := filepath.Glob(filepath.Join(store, ".*.tmp-*"))
	if err != nil {
		return 0, fmt.Errorf("scrape: poster store: %w", err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("scrape: remove a leftover temporary file: %w", err)
		}
	}
	return len(matches), nil
}
