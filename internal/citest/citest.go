// Package citest is what a test does when something it needs is missing:
// skip with a message that says how to get it, except under CI=true, where
// everything must be there and the test fails instead.
package citest

import (
	"os"
	"testing"
)

// Skipf skips the test with the message, or fails it under CI=true.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: must run, but "+format, args...)
	}
	t.Skipf(format, args...)
}

// Python returns $PYTHON, the interpreter the cross-check tests run their
// reference scripts with (make test sets it to .venv/bin/python, which has
// NumPy and pyarrow); without it the test skips (fails under CI=true).
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("PYTHON")
	if py == "" {
		Skipf(t, "PYTHON unset (make test sets it to .venv/bin/python with numpy)")
	}
	return py
}
