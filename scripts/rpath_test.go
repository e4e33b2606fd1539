package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryFindsLibrariesBesideItself copies bin/pipeline into another
// folder with a .deps/ beside it (the libraries linked there, as a project
// folder mounted elsewhere on a Slurm node) and checks that the copy loads
// TensorFlow from its own .deps ($ORIGIN-relative RUNPATH), runs `version`,
// and that LD_LIBRARY_PATH still overrides the RUNPATH.
func TestBinaryFindsLibrariesBesideItself(t *testing.T) {
	bin := os.Getenv("PIPELINE_BIN")
	if bin == "" {
		t.Skip("PIPELINE_BIN not set (make test sets it to bin/pipeline)")
	}
	bin, _ = filepath.Abs(bin)
	libs := filepath.Join(filepath.Dir(bin), "..", ".deps", "tf", "tensorflow")
	names := []string{"libtensorflow_cc.so.2", "libtensorflow_framework.so.2"}
	elsewhere := t.TempDir()
	copyBin := filepath.Join(elsewhere, "bin", "pipeline")
	linkLibs(t, libs, filepath.Join(elsewhere, ".deps", "tf", "tensorflow"), names)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(copyBin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyBin, data, 0o755); err != nil {
		t.Fatal(err)
	}

	resolved := ldd(t, copyBin, nil)
	for _, n := range names {
		if want := filepath.Join(elsewhere, ".deps", "tf", "tensorflow", n); resolved[n] != want {
			t.Errorf("the copy loads %s from %q, want %q (beside itself)", n, resolved[n], want)
		}
	}
	cmd := exec.Command(copyBin, "version")
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=3")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "pipeline ") {
		t.Errorf("copied binary: version: %v\n%s", err, out)
	}

	override := filepath.Join(t.TempDir(), "override")
	linkLibs(t, libs, override, names)
	resolved = ldd(t, copyBin, []string{"LD_LIBRARY_PATH=" + override})
	for _, n := range names {
		if want := filepath.Join(override, n); resolved[n] != want {
			t.Errorf("with LD_LIBRARY_PATH the copy loads %s from %q, want %q", n, resolved[n], want)
		}
	}
}

// linkLibs makes dst hold symbolic links to src's libraries.
func linkLibs(t *testing.T, src, dst string, names []string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		target, err := filepath.EvalSymlinks(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dst, n)); err != nil {
			t.Fatal(err)
		}
	}
}

// ldd returns where the dynamic loader finds each library of bin.
func ldd(t *testing.T, bin string, env []string) map[string]string {
	t.Helper()
	cmd := exec.Command("ldd", bin)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), " => ")
		if !ok {
			continue
		}
		path, _, _ := strings.Cut(rest, " (")
		m[name] = filepath.Clean(path)
	}
	return m
}
