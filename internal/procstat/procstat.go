// Package procstat reads this process's peak resident set size from Linux's
// /proc, the one way memory bounds are measured here (benchmarks and the
// tests that bound memory): never a timing, always the kernel's own count.
package procstat

import (
	"errors"
	"os"
	"strconv"
	"strings"
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
