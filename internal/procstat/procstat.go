// Package procstat reads this process's peak resident set size from Linux's
// /proc, the one way memory bounds are measured here (benchmarks and the
// tests that bound memory): never a timing, always the kernel's own count.
package procstat

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// PeakRSS is the process's peak resident set size in bytes (VmHWM in
// /proc/self/status).
func PeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("procstat: no VmHWM in /proc/self/status")
}

// ResetPeakRSS sets the peak to the current resident set (Linux >= 4.0), so
// that what ran before in this process does not count.
func ResetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// PeakRSSOf is the peak resident set size in bytes of a child process that
// has ended (ru_maxrss from wait4), e.g. the built binary run by a test.
func PeakRSSOf(ps *os.ProcessState) (int64, error) {
	if ps == nil {
		return 0, errors.New("procstat: the process has not ended")
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, errors.New("procstat: no resource usage for the process")
	}
	return ru.Maxrss << 10, nil // Linux reports kilobytes
}
