package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/postergenre/postergenre/internal/regular"
)

// Locks are lock files created with O_EXCL, which works on every local and
// shared POSIX filesystem (NFS, Lustre, GPFS) where flock may not, and
// across hosts. A lock file holds its holder (host, pid, start) and a lease
// expiry that a heartbeat pushes forward while the holder lives. A lock is
// stale, and taken over, when
//   - its lease has expired (checked from any host: the holder stopped
//     renewing it — killed, or its node died), or
//   - it was taken on this host by a process that no longer exists (or a
//     new process that reused the pid: the pid's start time is recorded).
//
// Taking over is race-safe: a taker first creates <lock>.takeover with
// O_EXCL, checks that the lock file still holds the same stale holder,
// removes it and then competes for the lock with O_EXCL like everyone else.
// What a stale holder was building is never trusted: its staging folder is
// set aside by the next builder (see attempt.prepare).

// ErrLocked is returned when another run holds a lock this run needs.
var ErrLocked = errors.New("another run holds the lock")

// DefaultLease is how long a lock stays valid without a heartbeat. The
// holder renews it every third of that.
const DefaultLease = 30 * time.Second

// LockHolder is the content of a lock file.
type LockHolder struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// PIDStart is the process's start time in clock ticks since boot
	// (/proc/<pid>/stat), so a pid reused by a new process is not taken
	// for the holder. 0 when unknown.
	PIDStart uint64    `json:"pid_start,omitempty"`
	Started  time.Time `json:"started"`
	Expires  time.Time `json:"expires"`
	Purpose  string    `json:"purpose,omitempty"`
	Token    string    `json:"token"`
}

// String says who holds a lock, for people.
func (h LockHolder) String() string {
	s := fmt.Sprintf("host %s pid %d since %s", h.Host, h.PID, h.Started.UTC().Format(time.RFC3339))
	if h.Purpose != "" {
		s += ", " + h.Purpose
	}
	return s
}

// LockError says who holds the lock.
type LockError struct {
	Path   string
	Holder string // "host h pid 123 since 2026-11-21T01:00:00Z, run demo"
}

func (e *LockError) Error() string {
	return fmt.Sprintf("%s: %v (%s)", e.Path, ErrLocked, e.Holder)
}

func (e *LockError) Unwrap() error { return ErrLocked }

// Lock is a held lock file; Release removes it.
type Lock struct {
	path   string
	holder LockHolder
	lease  time.Duration
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	// TookOver describes the stale holder this lock was taken over from
	// ("" when the lock was free), for the log.
	TookOver string
}

// AcquireLock takes the lock at path without waiting, with the default
// lease. A lock held by a live holder gives a *LockError.
func AcquireLock(path string) (*Lock, error) { return tryLock(path, "", DefaultLease) }

// tryLock takes the lock at path if it is free or stale.
func tryLock(path, purpose string, lease time.Duration) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	stale := ""
	for attempt := 0; attempt < 3; attempt++ {
		l, err := createLock(path, purpose, lease)
		if err == nil {
			l.TookOver = stale
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder, raw, isStale := inspectLock(path, lease)
		if !isStale {
			return nil, &LockError{Path: path, Holder: holder}
		}
		if err := takeOver(path, raw, lease); err != nil {
			return nil, err
		}
		stale = holder
	}
	holder, _, _ := inspectLock(path, lease)
	return nil, &LockError{Path: path, Holder: holder}
}

// waitLock takes the lock at path, waiting (polling) while a live holder
// has it. onWait is called once, with the holder, when it has to wait.
func waitLock(ctx context.Context, path, purpose string, lease time.Duration, onWait func(holder string)) (*Lock, error) {
	waited := false
	for {
		l, err := tryLock(path, purpose, lease)
		var le *LockError
		if !errors.As(err, &le) {
			return l, err
		}
		if !waited && onWait != nil {
			onWait(le.Holder)
		}
		waited = true
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// logTakeOver says when a lock was taken over from a stale holder.
func logTakeOver(log *slog.Logger, l *Lock) {
	if l != nil && l.TookOver != "" {
		log.Warn("stale lock taken over", "lock", l.path, "stale_holder", l.TookOver)
	}
}

// lockPoll is how often a waiting process looks at a held lock again.
const lockPoll = 200 * time.Millisecond

// createLock creates the lock file with O_EXCL and starts its heartbeat.
func createLock(path, purpose string, lease time.Duration) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	h := LockHolder{Host: hostname(), PID: os.Getpid(), PIDStart: pidStart(os.Getpid()),
		Started: now, Expires: now.Add(lease), Purpose: purpose, Token: newID() + newID()}
	b, _ := json.Marshal(h)
	_, werr := f.Write(append(b, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	l := &Lock{path: path, holder: h, lease: lease, stop: make(chan struct{}), done: make(chan struct{})}
	go l.heartbeat()
	return l, nil
}

// heartbeat renews the lease until Release. It rewrites the lock file
// through a rename, so a reader never sees half a holder, and only while
// the file is still this lock's (a holder whose lease expired unnoticed
// must not overwrite its successor's lock).
func (l *Lock) heartbeat() {
	defer close(l.done)
	t := time.NewTicker(l.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		var cur LockHolder
		if readJSON(l.path, &cur) != nil || cur.Token != l.holder.Token {
			return // lost (taken over after an expired lease): nothing left to renew
		}
		h := l.holder
		h.Expires = time.Now().UTC().Add(l.lease)
		b, _ := json.Marshal(h)
		tmp := l.path + ".renew-" + h.Token
		if os.WriteFile(tmp, append(b, '\n'), 0o644) == nil {
			if os.Rename(tmp, l.path) != nil {
				os.Remove(tmp)
			}
		}
	}
}

// Release stops the heartbeat and removes the lock file if it is still
// this lock's.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		var cur LockHolder
		if readJSON(l.path, &cur) == nil && cur.Token == l.holder.Token {
			if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = fmt.Errorf("release %s: %w", l.path, rerr)
			}
		}
	})
	return err
}

// inspectLock reads a lock file: who holds it (for messages), its raw
// bytes (for a race-free takeover) and whether it is stale.
func inspectLock(path string, lease time.Duration) (holder string, raw []byte, stale bool) {
	raw, err := regular.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "released", nil, false // gone meanwhile: the next attempt creates it
	}
	var h LockHolder
	if err != nil || json.Unmarshal(raw, &h) != nil || h.Token == "" {
		// Created but not yet written, or written by a writer that died
		// in between: stale once older than a lease.
		fi, serr := os.Stat(path)
		return "holder unknown (lock file being written or damaged)", raw, serr == nil && time.Since(fi.ModTime()) > lease
	}
	return h.String(), raw, lockStale(h, time.Now())
}

// lockStale applies the stale rule to a holder.
func lockStale(h LockHolder, now time.Time) bool {
	if now.After(h.Expires) {
		return true
	}
	if h.Host != hostname() {
		return false
	}
	if !pidAlive(h.PID) {
		return true
	}
	return h.PIDStart != 0 && pidStart(h.PID) != 0 && pidStart(h.PID) != h.PIDStart
}

// takeOver removes a stale lock file, under <path>.takeover so that two
// takers cannot remove a lock a third has just created.
func takeOver(path string, raw []byte, lease time.Duration) error {
	guard := path + ".takeover"
	g, err := os.OpenFile(guard, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		// Another taker is at it; a guard left by a taker that died is
		// removed once old (a takeover takes milliseconds).
		if fi, serr := os.Stat(guard); serr == nil && time.Since(fi.ModTime()) > lease {
			os.Remove(guard)
		}
		time.Sleep(lockPoll / 4)
		return nil
	}
	if err != nil {
		return fmt.Errorf("take over %s: %w", path, err)
	}
	g.Close()
	defer os.Remove(guard)
	now, err := regular.ReadFile(path)
	if err != nil || string(now) != string(raw) {
		return nil // released or renewed meanwhile: compete again
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("take over %s: %w", path, err)
	}
	return nil
}

var hostOnce = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
})

func hostname() string { return hostOnce() }

// pidAlive reports whether a process with this pid exists on this host.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// pidStart is field 22 of /proc/<pid>/stat (start time in clock ticks since
// boot), 0 when unknown (no /proc).
func pidStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// The command name (field 2) may hold spaces; fields resume after ")".
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}
