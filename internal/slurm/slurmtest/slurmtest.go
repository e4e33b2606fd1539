// Package slurmtest brings up the project's local two-node Slurm
// (scripts/slurm-local.sh) for tests that need a real cluster.
package slurmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	once    sync.Once
	env     []string
	skipMsg string
	failMsg string
)

// Cluster starts the local cluster once per test binary (idempotent: an
// already running one is reused, and left running for the next package)
// and returns the environment the Slurm tools need (SLURM_CONF=...). Not
// root, or no Slurm and no apt-get to install it: the test is skipped
// with a message — except under CI=true, where it fails.
func Cluster(t testing.TB) []string {
	t.Helper()
	once.Do(start)
	if skipMsg != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: the Slurm tests must run: %s", skipMsg)
		}
		t.Skip(skipMsg)
	}
	if failMsg != "" {
		t.Fatal(failMsg)
	}
	return env
}

func start() {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "slurm-local.sh")
	installed := true
	for _, tool := range []string{"slurmctld", "slurmd", "munged", "sbatch"} {
		if _, err := exec.LookPath(tool); err != nil {
			installed = false
		}
	}
	_, aptErr := exec.LookPath("apt-get")
	switch {
	case os.Geteuid() != 0:
		skipMsg = "the local Slurm cluster needs root (scripts/slurm-local.sh start)"
		return
	case !installed && aptErr != nil:
		skipMsg = "Slurm is not installed and there is no apt-get to install it with"
		return
	}
	out, err := exec.Command(script, "start").CombinedOutput()
	if err != nil {
		failMsg = "scripts/slurm-local.sh start: " + err.Error() + "\n" + string(out)
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, v)
		}
	}
}
