package pipeline

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/postergenre/postergenre/internal/regular"
)

// ErrLocked is returned when another run holds the working folder's lock.
var ErrLocked = errors.New("another run holds the lock")

// Lock is an exclusive OS file lock (flock) on a working folder. The kernel
// releases it when the process dies, so a crashed run never blocks the next.
type Lock struct {
	f *os.File
}

// LockError says who holds the lock.
type LockError struct {
	Path   string
	Holder string // "pid 123 since 2026-11-21T01:00:00Z", as the holder wrote it
}

func (e *LockError) Error() string {
	return fmt.Sprintf("%s: %v (%s)", e.Path, ErrLocked, e.Holder)
}

func (e *LockError) Unwrap() error { return ErrLocked }

// AcquireLock takes the lock at path without waiting.
func AcquireLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "holder unknown"
		if b, rerr := regular.ReadFile(path); rerr == nil && len(b) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockError{Path: path, Holder: holder}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Record the holder for whoever is refused next. The content is only
	// informative: the flock is the lock.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
		f.Sync()
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
	return err
}
