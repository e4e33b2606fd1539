// Package regular opens the files the program reads only when they are
// regular files. A named pipe (FIFO) among the inputs — a poster in the
// store, the CSV, a shard, a model file, a config, a predict input — would
// otherwise block open(2) or read(2) forever: no context reaches a blocked
// system call, so SIGINT, SIGTERM and timeouts were lost and a cron run held
// its lock until killed. Here the file is opened with O_NONBLOCK (which
// never blocks, even on a FIFO without a writer), checked with fstat on that
// same descriptor (no race with a rename between check and open), and only
// then switched back to blocking reads. Devices and sockets are refused the
// same way.
package regular

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrNotRegular is a path that is not a regular file (a named pipe, a
// device, a socket, a directory where a file was expected).
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading if it is a regular file (symlinks followed).
// Otherwise the error wraps ErrNotRegular and names the path and its kind.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, fi.Mode())
	}
	// Regular files ignore O_NONBLOCK, but clear it all the same so that
	// the descriptor is an ordinary one for whatever reads it (cgo, mmap).
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), false) })
	}
	return f, nil
}

// ReadFile is os.ReadFile for regular files only (see Open).
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int
	if fi, err := f.Stat(); err == nil && fi.Size() < 1<<40 {
		size = int(fi.Size())
	}
	b := make([]byte, 0, size+512)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// Check says whether path is a regular file without opening it: for files
// another library opens (TensorFlow reading a SavedModel), where the
// O_NONBLOCK open is not ours to make. It uses stat, which never blocks.
func Check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return notRegular(path, fi.Mode())
	}
	return nil
}

// CheckTree checks that every file under dir is a regular file or a
// folder (Check for each): the tree can be handed to a library that reads
// it whole.
func CheckTree(dir string) error {
	root, err := filepath.EvalSymlinks(dir) // runs/latest/model is a link
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		return Check(path)
	})
}

func notRegular(path string, m fs.FileMode) error {
	kind := "special file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		kind = "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "socket"
	case m&fs.ModeDevice != 0:
		kind = "device"
	case m.IsDir():
		kind = "folder"
	}
	return fmt.Errorf("%s: %w: it is a %s", path, ErrNotRegular, kind)
}

// Reader returns r whose reads fail with ctx's error once ctx is done, so
// a long read loop (a CSV of a gigabyte, a stream) stops at SIGINT between
// two reads instead of running to the end.
func Reader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
