// Package digestcache computes files' sha256 and remembers each one under
// the file's stat (size, modification time, change time, inode), so a file
// whose stat has not changed is not read again. git's index and DVC's
// state database do the same.
//
// Why this is safe enough to trust: the kernel sets a file's change time
// (ctime) on every write, truncate, rename onto it or chmod, and no user
// call can set it back (`touch -r` restores mtime, not ctime). A poster
// changed in place, replaced or restored therefore misses the cache and is
// read again; a folder copied with `cp -a` (new inodes and ctimes) is read
// in full once, where it now is. A file whose ctime is within a second of
// the time it was hashed is not remembered (a write in the same clock
// tick could go unseen, git's "racy" case); it is read again next time.
//
// The cache is only a cache: a missing, damaged or unwritable cache file
// costs reading the files again, never a wrong digest.
package digestcache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
)

// FileName is the cache's file inside the folder it covers.
const FileName = ".sha256-cache.tsv"

// header starts the file; another header means another format: ignored.
const header = "# digestcache v1: size mtime_ns ctime_ns inode sha256 path\n"

// racyWindow is how recent a change may be and still be remembered.
const racyWindow = time.Second

// stat is what must be unchanged for a remembered digest to hold.
type stat struct {
	size, mtime, ctime int64
	ino                uint64
}

func statOf(fi os.FileInfo) (stat, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return stat{}, false
	}
	return stat{size: fi.Size(), mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino}, true
}

type entry struct {
	stat
	sum string
}

// Cache holds the digests of files under one folder, by path relative to it.
type Cache struct {
	root string
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]entry
	dirty   bool
	// Read counts the files this cache read to hash (misses).
	read int
}

// Open reads root's cache file; a missing or unreadable one is empty.
func Open(root string) *Cache {
	c := &Cache{root: root, now: time.Now, entries: map[string]entry{}}
	b, err := regular.ReadFile(filepath.Join(root, FileName))
	if err != nil || !bytes.HasPrefix(b, []byte(header)) {
		return c
	}
	sc := bufio.NewScanner(bytes.NewReader(b[len(header):]))
	for sc.Scan() {
		if rel, e, ok := parseLine(sc.Text()); ok {
			c.entries[rel] = e
		}
	}
	return c
}

func parseLine(line string) (string, entry, bool) {
	f := strings.SplitN(line, "\t", 6)
	if len(f) != 6 || len(f[4]) != sha256.Size*2 {
		return "", entry{}, false
	}
	var e entry
	var errs [4]error
	e.size, errs[0] = strconv.ParseInt(f[0], 10, 64)
	e.mtime, errs[1] = strconv.ParseInt(f[1], 10, 64)
	e.ctime, errs[2] = strconv.ParseInt(f[2], 10, 64)
	e.ino, errs[3] = strconv.ParseUint(f[3], 10, 64)
	for _, err := range errs {
		if err != nil {
			return "", entry{}, false
		}
	}
	e.sum = f[4]
	return f[5], e, true
}

// SHA256 is the hex sha256 of root/rel: the remembered one while the
// file's stat is unchanged, else read and hashed now. verify always reads.
func (c *Cache) SHA256(rel string, verify bool) (string, error) {
	path := filepath.Join(c.root, filepath.FromSlash(rel))
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	before, statOK := statOf(fi)
	if !verify && statOK {
		c.mu.Lock()
		e, ok := c.entries[rel]
		c.mu.Unlock()
		if ok && e.stat == before {
			return e.sum, nil
		}
	}
	sum, err := FileSHA256(path)
	if err != nil {
		return "", err
	}
	c.remember(rel, path, before, statOK, sum)
	return sum, nil
}

// remember keeps sum for rel if the file did not change while it was
// read and its last change is not too recent to tell apart.
func (c *Cache) remember(rel, path string, before stat, statOK bool, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read++
	fi, err := os.Stat(path)
	if err != nil || !statOK || strings.ContainsAny(rel, "\t\n") {
		return
	}
	after, _ := statOf(fi)
	if after != before || c.now().Add(-racyWindow).UnixNano() < after.ctime {
		delete(c.entries, rel)
		return
	}
	if e, ok := c.entries[rel]; ok && e.stat == after && e.sum == sum {
		return
	}
	c.entries[rel] = entry{stat: after, sum: sum}
	c.dirty = true
}

// Read is how many files were read and hashed (cache misses) so far.
func (c *Cache) Read() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}

// Save writes the cache file if anything new was remembered. Processes
// saving at once each replace it whole (last one wins; what the others
// remembered is read again next time).
func (c *Cache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	var b bytes.Buffer
	b.WriteString(header)
	for rel, e := range c.entries {
		fmt.Fprintf(&b, "%d\t%d\t%d\t%d\t%s\t%s\n", e.size, e.mtime, e.ctime, e.ino, e.sum, rel)
	}
	if err := atomicfile.WriteFileNoDirSync(filepath.Join(c.root, FileName), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("digest cache: %w", err)
	}
	c.dirty = false
	return nil
}

// FileSHA256 is the hex sha256 of a regular file's bytes, read now.
func FileSHA256(path string) (string, error) {
	f, err := regular.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
