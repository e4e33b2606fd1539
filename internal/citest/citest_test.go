package citest_test

import (
	"testing"

	"github.com/postergenre/postergenre/internal/citest"
)

// TestSkipf: Skipf skips, except under CI=true, where it fails; Python
// returns $PYTHON, or does the same when it is unset.
func TestSkipf(t *testing.T) {
	for _, tc := range []struct {
		ci, python string
		skip, fail bool
	}{
		{"", "", true, false},
		{"false", "", true, false},
		{"true", "", false, true},
		{"true", "/usr/bin/python3", false, false},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv("PYTHON", tc.python)
		f := &fakeTB{TB: t}
		var got string
		func() {
			defer func() { _ = recover() }() // Skipf and Fatalf stop the caller
			if tc.python == "" {
				citest.Skipf(f, "no %s", "thing")
			}
			got = citest.Python(f)
		}()
		if f.skip != tc.skip || f.fatal != tc.fail || (tc.python != "" && got != tc.python) {
			t.Errorf("CI=%q PYTHON=%q: skipped %v, failed %v, python %q; want %v, %v, %q",
				tc.ci, tc.python, f.skip, f.fatal, got, tc.skip, tc.fail, tc.python)
		}
	}
}

// fakeTB records Fatalf and Skipf, and stops the caller as they would.
type fakeTB struct {
	testing.TB
	fatal, skip bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(string, ...any) { f.fatal = true; panic("fatal") }

func (f *fakeTB) Skipf(string, ...any) { f.skip = true; panic("skip") }
