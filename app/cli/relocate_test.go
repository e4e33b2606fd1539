package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/pipeline"
)

// tinyDemo is the smallest demo run that goes through every stage.
var tinyDemo = []string{"--set", "demo.posters=120", "--set", "train.epochs=1", "--set", "evaluate.bootstrap=20", "--log-format", "json"}

// planOf runs `status` on a working folder and returns stage → status
// (a config without a grid).
func planOf(t *testing.T, bin, work string, sets ...string) map[string]string {
	t.Helper()
	args := append([]string{"status", demoConfig, "--workdir", work}, tinyDemo...)
	code, out, errs := runBin(t, bin, append(args, sets...)...)
	if code != cli.ExitOK {
		t.Fatalf("status %s: exit %d\n%s%s", work, code, out, lastLines(errs, 10))
	}
	plan := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 {
			// "params changed: train.epochs: 1 → 2" is "params changed".
			status := strings.Join(f[2:], " ")
			if strings.HasPrefix(status, pipeline.StatusParamsChanged+":") {
				status = pipeline.StatusParamsChanged
			}
			plan[f[0]] = status
		}
	}
	return plan
}

// copyWorkdir copies a working folder with `cp -a`, as a user would.
func copyWorkdir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
}

// TestRelocatedWorkdir: a working folder copied with `cp -a` (and one
// bind-mounted at another path) checks its own files. The original is
// moved away first, so any read of it fails: the copy is up to date as it
// stands, and a poster deleted, a shard truncated or a training parameter
// changed in the copy is seen in the copy (and then rebuilt there). No record in the copy names an absolute path.
func TestRelocatedWorkdir(t *testing.T) {
	bin := pipelineBin(t)
	dir := t.TempDir()
	orig := filepath.Join(dir, "w1")
	if code, _, errs := runBin(t, bin, append([]string{"run", demoConfig, "--workdir", orig}, tinyDemo...)...); code != cli.ExitOK {
		t.Fatalf("first run: exit %d\n%s", code, lastLines(errs, 15))
	}
	// Reuse by content: clean rerun by force writes the same bytes, so
	// encode, train and evaluate stay up to date.
	t.Run("forced clean, same bytes", func(t *testing.T) {
		args := append([]string{"run", demoConfig, "--workdir", orig, "--only", "clean", "--force"}, tinyDemo...)
		if code, _, errs := runBin(t, bin, args...); code != cli.ExitOK {
			t.Fatalf("--only clean --force: exit %d\n%s", code, lastLines(errs, 10))
		}
		for stage, status := range planOf(t, bin, orig) {
			if status != "up to date" {
				t.Errorf("after --only clean --force: %s is %q, want up to date", stage, status)
			}
		}
	})
	for _, c := range []string{"copy", "bind mount"} {
		t.Run(c, func(t *testing.T) {
			src := filepath.Join(dir, "src-"+strings.ReplaceAll(c, " ", "-"))
			copyWorkdir(t, orig, src)
			work := src
			if c == "bind mount" {
				work = bindMount(t, src, filepath.Join(dir, "mnt"))
			}
			checkRelocated(t, bin, work, orig)
		})
	}
}

// checkRelocated checks a relocated working folder work while the folder
// it was copied from (orig) is moved out of the way.
func checkRelocated(t *testing.T, bin, work, orig string) {
	t.Helper()
	away := orig + ".away"
	if err := os.Rename(orig, away); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(away, orig)
	for stage, status := range planOf(t, bin, work) {
		if status != "up to date" {
			t.Errorf("relocated, untouched: %s is %q, want up to date", stage, status)
		}
	}
	if p := planOf(t, bin, work, "--set", "train.epochs=2"); p["train"] != "params changed" || p["encode"] != "up to date" {
		t.Errorf("a changed training parameter: plan %v", p)
	}
	shards, _ := filepath.Glob(filepath.Join(work, "stages", "encode", "*", "shard-*.parquet"))
	if len(shards) == 0 {
		t.Fatal("no encode shard in the copy")
	}
	if err := os.Truncate(shards[0], 1000); err != nil {
		t.Fatal(err)
	}
	if p := planOf(t, bin, work); !strings.HasPrefix(p["encode"], "damaged") || !strings.Contains(p["encode"], filepath.Base(shards[0])) {
		t.Errorf("a shard truncated in the copy: encode is %q, want damaged naming %s", p["encode"], filepath.Base(shards[0]))
	}
	posters, _ := filepath.Glob(filepath.Join(work, "posters", "*", "*.jpg"))
	if len(posters) == 0 {
		posters, _ = filepath.Glob(filepath.Join(work, "posters", "*.jpg"))
	}
	if len(posters) == 0 {
		t.Fatal("no posters in the copy")
	}
	if err := os.Remove(posters[0]); err != nil {
		t.Fatal(err)
	}
	if p := planOf(t, bin, work); p["scrape"] == "up to date" {
		t.Errorf("a poster deleted in the copy: plan %v, want scrape not up to date", p)
	}
	if code, _, errs := runBin(t, bin, append([]string{"run", demoConfig, "--workdir", work}, tinyDemo...)...); code != cli.ExitOK {
		t.Fatalf("run on the copy: exit %d\n%s", code, lastLines(errs, 15))
	}
	for stage, status := range planOf(t, bin, work, "--verify") {
		if status != "up to date" {
			t.Errorf("after the run on the copy, status --verify: %s is %q", stage, status)
		}
	}
	checkNoAbsolutePaths(t, work, orig)
}

// checkNoAbsolutePaths fails when a record (JSON) in work names the
// working folder or the original by an absolute path. Logs are not
// records: they say where a run was, and are skipped.
func checkNoAbsolutePaths(t *testing.T, work, orig string) {
	t.Helper()
	filepath.WalkDir(work, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, p := range []string{work, orig, filepath.Dir(orig)} {
			if strings.Contains(string(b), p) {
				t.Errorf("%s names %s", path, p)
				break
			}
		}
		return nil
	})
}

// bindMount mounts src at mnt (root only), unmounted when the test ends.
// Skipped with a message where mounting is not permitted, unless CI=true.
func bindMount(t *testing.T, src, mnt string) string {
	t.Helper()
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "--bind", src, mnt).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount --bind (CI=true: must run): %v\n%s", err, out)
		}
		t.Skipf("mount --bind not permitted here (%v: %s); runs as root in CI", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}
