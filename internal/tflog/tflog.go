// Package tflog keeps TensorFlow's own INFO and WARNING lines off stderr
// while its errors still show. Import it (blank) from package main; it does
// its work while the program loads, before TensorFlow's libraries
// initialise, and main calls Flush before it exits.
//
// TensorFlow writes to file descriptor 2 through two loggers, and neither
// can be switched from Go in time:
//
//   - Its own logger (`2026-01-02 03:04:05.678: I
//     tensorflow/core/util/port.cc:153] oneDNN custom operations are on`,
//     `cpu_feature_guard.cc ... To enable the following instructions: AVX2
//     ... rebuild TensorFlow`) reads TF_CPP_MIN_LOG_LEVEL once, at its
//     first line, and the oneDNN line is written by a static initialiser
//     while the dynamic loader runs it — before Go's runtime starts (it
//     shows even for `pipeline help`). os.Setenv in main is too late; so is
//     setenv from an ELF .preinit_array hook, because glibc hands libc the
//     original environment again when libc's own initialiser runs, after
//     the hook. So the hook below, which runs before every shared library's
//     initialiser, re-executes the program once with
//     TF_CPP_MIN_LOG_LEVEL=2 added when the user has not set it.
//     TensorFlow's initialisers run only in the new image, but the loader's
//     mapping and relocation of the first one cost ~0.4 s per start
//     (`pipeline help`: 0.3 s with the variable exported, 0.7 s without);
//     exporting it skips that.
//   - Abseil's logger (`WARNING: All log messages before
//     absl::InitializeLog() is called are written to STDERR`, then `I0000
//     00:00:... mlir_graph_optimization_pass.cc:401] MLIR V1 optimization
//     pass is not enabled` at the first Session.Run) ignores
//     TF_CPP_MIN_LOG_LEVEL, and libtensorflow_cc.so.2 carries its own
//     private copy of Abseil whose threshold no exported symbol reaches
//     (absl::SetMinLogLevel exported by libtensorflow_framework.so.2 sets
//     the other copy only). So the hook also points fd 2 at a pipe read by
//     a small filter process forked from it: the filter drops Abseil lines
//     below the level (`I…`, and `W…` at 2) and the banner, and copies
//     everything else — TensorFlow's errors and fatal messages, a Go panic
//     — to the real stderr. Being a separate process, it still delivers a
//     fatal message written just before TensorFlow aborts. Go's own writes
//     skip the pipe: init points os.Stderr at the real stderr, so terminal
//     detection and progress output see the terminal.
//
// Level 2 is TensorFlow's own meaning of TF_CPP_MIN_LOG_LEVEL: errors and
// fatal messages only. A user who exports TF_CPP_MIN_LOG_LEVEL (0 shows
// everything, and then no filter runs) gets that level on both loggers.
package tflog

/*
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char tflog_var[] = "TF_CPP_MIN_LOG_LEVEL=";

// The real stderr (a duplicate of the inherited fd 2) and the filter's pid,
// when the filter runs; -1 otherwise.
static int tflog_stderr_fd = -1;
static int tflog_filter_pid = -1;

static int tflog_write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

// tflog_drop says whether one line is Abseil's below the level: its prefix
// is a severity letter, MMDD, a space and hh:mm:ss.uuuuuu (absl's format;
// before absl::InitializeLog it prints 0000 00:00:<Unix seconds>.uuuuuu),
// or it is the banner absl prints before its first line.
static int tflog_drop(const char *s, size_t n, int level) {
	static const char banner[] = "WARNING: All log messages before absl::InitializeLog() is called";
	if (n >= sizeof banner - 1 && memcmp(s, banner, sizeof banner - 1) == 0) return level >= 1;
	if (n < 21) return 0;
	int sev;
	switch (s[0]) {
	case 'I': sev = 0; break;
	case 'W': sev = 1; break;
	default: return 0; // E, F and anything else pass
	}
	for (int i = 1; i <= 4; i++) if (s[i] < '0' || s[i] > '9') return 0;
	if (s[5] != ' ' || s[8] != ':' || s[11] != ':') return 0;
	// Seconds, or (before absl::InitializeLog) Unix seconds, then '.'.
	size_t i = 12;
	while (i < n && s[i] >= '0' && s[i] <= '9') i++;
	if (i == 12 || i >= n || s[i] != '.') return 0;
	return sev < level;
}

// tflog_filter copies lines from in to out, dropping tflog_drop's; at end
// of input it exits. A line longer than the buffer is passed through.
static void tflog_filter(int in, int out, int level) {
	static char buf[1 << 16];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(in, buf + have, sizeof buf - have);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		have += (size_t)r;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (nl == NULL) break;
			size_t n = (size_t)(nl - (buf + start)) + 1;
			if (!tflog_drop(buf + start, n, level)) tflog_write_all(out, buf + start, n);
			start += n;
		}
		if (start == 0 && have == sizeof buf) { // no newline in a full buffer
			tflog_write_all(out, buf, have);
			have = 0;
		} else {
			memmove(buf, buf + start, have - start);
			have -= start;
		}
	}
	if (have > 0 && !tflog_drop(buf, have, level)) tflog_write_all(out, buf, have);
	_exit(0);
}

// Runs before every shared library's initialiser (ELF .preinit_array),
// TensorFlow's included; single-threaded, so fork is safe here.
static void tflog_preinit(int argc, char **argv, char **envp) {
	(void)argc;
	int n = 0, level = -1;
	for (; envp != NULL && envp[n] != NULL; n++) {
		if (strncmp(envp[n], tflog_var, sizeof tflog_var - 1) == 0) level = atoi(envp[n] + sizeof tflog_var - 1);
	}
	if (level < 0) {
		char *env[n + 2];
		for (int i = 0; i < n; i++) env[i] = envp[i];
		env[n] = "TF_CPP_MIN_LOG_LEVEL=2";
		env[n + 1] = NULL;
		execve("/proc/self/exe", argv, env);
		return; // exec failed: carry on, louder
	}
	if (level < 1) return; // the user asked for everything
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) return;
	int real = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (real < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		close(real);
		return;
	}
	if (pid == 0) {
		// The filter: keep only its pipe and the real stderr, outlive
		// Ctrl-C (it ends when the program's fd 2 closes), never hold the
		// program's stdin/stdout open.
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		for (int fd = 0; fd < 1024; fd++) if (fd != p[0] && fd != real) close(fd);
		tflog_filter(p[0], real, level);
	}
	close(p[0]);
	dup2(p[1], 2);
	close(p[1]);
	tflog_stderr_fd = real;
	tflog_filter_pid = pid;
}
__attribute__((section(".preinit_array"), used))
static void (*tflog_preinit_ptr)(int, char **, char **) = tflog_preinit;

static int tflog_get_stderr_fd(void) { return tflog_stderr_fd; }

// For the tests: write as TensorFlow's C++ code does, and die as
// LOG(FATAL) does.
static void tflog_raw_write(const char *s, size_t n) { tflog_write_all(2, s, n); }
static void tflog_abort(void) { abort(); }

// tflog_flush closes fd 2 (the pipe) and waits for the filter to copy what
// is left, so nothing arrives after the program has exited.
static void tflog_flush(void) {
	if (tflog_filter_pid <= 0) return;
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0) {
		dup2(devnull, 2);
		close(devnull);
	} else {
		close(2);
	}
	while (waitpid(tflog_filter_pid, NULL, 0) < 0 && errno == EINTR) {}
	tflog_filter_pid = -1;
}
*/
import "C"

import (
	"os"
	"strconv"
	"unsafe"
)

func init() {
	// Go's writes go straight to the real stderr: only what C code writes
	// to fd 2 passes the filter, and term.IsTerminal sees the terminal.
	if fd := int(C.tflog_get_stderr_fd()); fd >= 0 {
		os.Stderr = os.NewFile(uintptr(fd), "/dev/stderr")
	}
}

// Filtering reports whether the filter process is running.
func Filtering() bool { return C.tflog_get_stderr_fd() >= 0 }

// Level is the TF_CPP_MIN_LOG_LEVEL in force: the user's, or the 2 the
// start-up hook set. TensorFlow reads an unset or unparsable value as 0.
func Level() int {
	n, _ := strconv.Atoi(os.Getenv("TF_CPP_MIN_LOG_LEVEL"))
	return n
}

// dropLine reports whether the filter drops one line at the given level.
func dropLine(line string, level int) bool {
	cs := C.CString(line)
	defer C.free(unsafe.Pointer(cs))
	return C.tflog_drop(cs, C.size_t(len(line)), C.int(level)) == 1
}

// writeRaw writes s to fd 2 from C, as TensorFlow does; abort dies as its
// LOG(FATAL) does. Both exist for the tests.
func writeRaw(s string) {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	C.tflog_raw_write(cs, C.size_t(len(s)))
}

func abort() { C.tflog_abort() }

// Flush lets the filter copy what TensorFlow wrote last and waits for it;
// call it just before os.Exit. Writes to fd 2 after it are discarded.
func Flush() { C.tflog_flush() }
