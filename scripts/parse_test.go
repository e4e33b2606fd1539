package scripts

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/internal/citest"
)

// TestScriptsParse checks that every shell and Python script here parses
// (`bash -n`; Python's ast). Most of them run only in `make bench`, `make
// deps` or on real data, never in the tests, so a brace lost in a merge
// would otherwise first show when a user runs the broken target (it
// happened to bench.sh).
func TestScriptsParse(t *testing.T) {
	checks := []struct {
		glob string
		cmd  []string // the script's name is appended
	}{
		{"*.sh", []string{"bash", "-n"}},
		{"*.py", []string{"python3", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])"}},
	}
	for _, c := range checks {
		scripts, err := filepath.Glob(c.glob)
		if err != nil || len(scripts) == 0 {
			t.Fatalf("no %s scripts found: %v", c.glob, err)
		}
		if _, err := exec.LookPath(c.cmd[0]); err != nil {
			citest.Skipf(t, "%s scripts not checked: %v", c.glob, err)
		}
		for _, s := range scripts {
			t.Run(s, func(t *testing.T) {
				if out, err := exec.Command(c.cmd[0], append(c.cmd[1:], s)...).CombinedOutput(); err != nil {
					t.Errorf("%v %s: %v\n%s", c.cmd, s, err, out)
				}
			})
		}
	}
}
