package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
)

// TestRunErrorIsPrinted: a run that cannot even plan (its CSV unreadable)
// says why on stderr, once, exit 1, also under --quiet.
func TestRunErrorIsPrinted(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := write("missing.yaml", "version: 1\nname: m\nscrape:\n  csv: nowhere.csv\n")
	if err := os.Mkdir(filepath.Join(dir, "folder.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	folder := write("folder.yaml", "version: 1\nname: f\nscrape:\n  csv: folder.csv\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"dry run, no such CSV", []string{"run", missing, "--dry-run"}, "nowhere.csv: no such file or directory"},
		{"dry run, quiet", []string{"run", missing, "--dry-run", "--quiet"}, "nowhere.csv: no such file or directory"},
		{"dry run, CSV is a folder", []string{"run", folder, "--dry-run"}, "folder.csv: not a regular file: it is a folder"},
		{"run, no such CSV", []string{"run", missing, "--quiet"}, "nowhere.csv: no such file or directory"},
		{"status, no such CSV", []string{"status", missing}, "nowhere.csv: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "--workdir", filepath.Join(t.TempDir(), "work"), "--log-format", "json")
			code, _, errs := run(t, args...)
			if code != cli.ExitFailed {
				t.Errorf("exit %d, want %d", code, cli.ExitFailed)
			}
			if n := strings.Count(errs, tt.want); n == 0 {
				t.Errorf("stderr lacks the cause %q:\n%s", tt.want, errs)
			}
			// One error record (stderr is not a terminal here: every line
			// is a JSON object), naming the stage once.
			var plain []string
			for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
				if !json.Valid([]byte(l)) {
					t.Errorf("not a JSON line: %q", l)
				}
				if strings.Contains(l, `"msg":"pipeline failed"`) {
					plain = append(plain, l)
				}
			}
			if len(plain) != 1 || strings.Contains(plain[0], "scrape: scrape:") {
				t.Errorf("want one error record naming scrape once, got %q", plain)
			}
		})
	}
}
