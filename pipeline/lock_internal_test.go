package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStaleLockRule pins the documented rule: a lock is taken over when its
// lease expired (from any host) or, on this host, its pid is gone; a live
// holder on another host with a valid lease is respected.
func TestStaleLockRule(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	cases := []struct {
		name      string
		holder    *LockHolder // nil: raw content
		raw       string
		age       time.Duration // file's mtime in the past
		wantTaken bool
	}{
		{"live holder on another host", &LockHolder{Host: "node-b", PID: 1, Started: now, Expires: now.Add(time.Minute), Token: "x"}, "", 0, false},
		{"expired lease on another host", &LockHolder{Host: "node-b", PID: 1, Started: now.Add(-time.Hour), Expires: now.Add(-time.Second), Token: "x"}, "", 0, true},
		{"dead pid on this host", &LockHolder{Host: hostname(), PID: dead.Process.Pid, Started: now, Expires: now.Add(time.Minute), Token: "x"}, "", 0, true},
		{"live pid on this host", &LockHolder{Host: hostname(), PID: os.Getpid(), PIDStart: pidStart(os.Getpid()), Started: now, Expires: now.Add(time.Minute), Token: "x"}, "", 0, false},
		{"reused pid on this host", &LockHolder{Host: hostname(), PID: os.Getpid(), PIDStart: pidStart(os.Getpid()) + 1, Started: now, Expires: now.Add(time.Minute), Token: "x"}, "", 0, pidStart(os.Getpid()) != 0},
		{"half-written, fresh", nil, "{\"host\":", 0, false},
		{"half-written, older than a lease", nil, "", 2 * DefaultLease, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "locks", "x.lock")
			os.MkdirAll(filepath.Dir(path), 0o755)
			raw := []byte(c.raw)
			if c.holder != nil {
				raw, _ = json.Marshal(c.holder)
			}
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			if c.age > 0 {
				old := time.Now().Add(-c.age)
				os.Chtimes(path, old, old)
			}
			l, err := tryLock(path, "test", DefaultLease)
			var le *LockError
			switch {
			case c.wantTaken && err != nil:
				t.Fatalf("want the stale lock taken over, got %v", err)
			case c.wantTaken:
				if l.TookOver == "" {
					t.Error("TookOver not set")
				}
				l.Release()
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("released lock file still there: %v", err)
				}
			case !errors.As(err, &le):
				t.Fatalf("want a LockError, got lock %v err %v", l, err)
			case c.holder != nil && !strings.Contains(le.Holder, "host "+c.holder.Host):
				t.Errorf("holder %q does not name host %s", le.Holder, c.holder.Host)
			}
		})
	}
}

// TestLeaseRenewed: the heartbeat pushes the expiry forward while the
// holder lives, and stops renewing a lock that was taken over.
func TestLeaseRenewed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	lease := 300 * time.Millisecond
	l, err := tryLock(path, "test", lease)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	first := l.holder.Expires
	var cur LockHolder
	for i := 0; i < 50 && !cur.Expires.After(first); i++ {
		time.Sleep(lease / 6)
		readJSON(path, &cur)
	}
	if !cur.Expires.After(first) || cur.Token != l.holder.Token {
		t.Fatalf("lease not renewed: %+v (first expiry %v)", cur, first)
	}
	if _, err := tryLock(path, "test", lease); !errors.Is(err, ErrLocked) {
		t.Errorf("a renewed lock was taken: %v", err)
	}
}

// TestTakeOverRace: many takers of one stale lock at once; exactly one
// holds it afterwards.
func TestTakeOverRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	now := time.Now().UTC()
	raw, _ := json.Marshal(LockHolder{Host: "gone", PID: 1, Started: now.Add(-time.Hour), Expires: now.Add(-time.Minute), Token: "old"})
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 16
	got := make(chan *Lock, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			l, _ := tryLock(path, "test", DefaultLease)
			got <- l
		}()
	}
	close(start)
	held := 0
	for range n {
		if l := <-got; l != nil {
			held++
			defer l.Release()
		}
	}
	if held != 1 {
		t.Errorf("%d takers hold the lock, want 1", held)
	}
}
