// Package machine describes the machine a benchmark runs on, for the line
// every bench/results.md block starts with: the CPU model and the load
// average at the start (these machines are shared and noisy, so a figure
// is only read with the load it was measured under).
package machine

import (
	"os"
	"strings"
)

// LoadAvg is the 1, 5 and 15 minute load averages from /proc/loadavg, or
// "unknown" where there is none.
func LoadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(raw)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// CPUModel is the first "model name" of /proc/cpuinfo, or "unknown CPU".
func CPUModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
