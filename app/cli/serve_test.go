package cli_test

import (
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
)

// TestServeUsage: serve's flag and model errors are usage errors (exit 2)
// and say what is wrong; the serving itself is tested in app/serve.
func TestServeUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no model", []string{"serve"}, cli.ExitUsage, "required flag"},
		{"help", []string{"serve", "--help"}, cli.ExitOK, "--max-pixels"},
		{"stray argument", []string{"serve", "--model", "m", "extra"}, cli.ExitUsage, "extra"},
		{"unknown model name", []string{"serve", "--model", "champion", "--workdir", t.TempDir()}, cli.ExitUsage, "champion"},
		{"bad upload cap", []string{"serve", "--model", "m", "--max-upload-mb", "0"}, cli.ExitUsage, "--max-upload-mb must be"},
		{"missing model", []string{"serve", "--model", t.TempDir()}, cli.ExitUsage, "model.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := run(t, c.args...)
			if code != c.code || !strings.Contains(out+errs, c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, c.code, c.want)
			}
		})
	}
}
