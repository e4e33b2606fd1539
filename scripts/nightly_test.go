package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/internal/citest"
	"github.com/postergenre/postergenre/internal/slurm/slurmtest"
	"github.com/postergenre/postergenre/pipeline"
)

// TestNightlyChain submits slurm-nightly.sh once on the local two-node
// cluster, for two nights a second apart: the first night queues the
// second and builds the demo, the second queues nothing more and finds
// everything up to date, and no job of the chain is left in the queue.
func TestNightlyChain(t *testing.T) {
	bin := os.Getenv("PIPELINE_BIN")
	if bin == "" {
		citest.Skipf(t, "PIPELINE_BIN not set (make test sets it to bin/pipeline)")
	}
	env := slurmtest.Cluster(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	name := "nightly-test-" + filepath.Base(dir)
	cmd := exec.Command("sbatch", "--parsable", "--job-name="+name, "--output="+filepath.Join(dir, "night-%j.out"),
		filepath.Join(root, "scripts", "slurm-nightly.sh"), filepath.Join(root, "configs", "demo.yaml"), work,
		"--set", "demo.posters=60", "--set", "train.epochs=1", "--set", "evaluate.bootstrap=10", "--log-format", "json", "--quiet")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), "PIPELINE_BIN="+bin, "NIGHTLY_AT=now+1", "NIGHTLY_COUNT=2",
		"NIGHTLY_SBATCH_FLAGS=--job-name="+name+" --output="+filepath.Join(dir, "night-%j.out"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sbatch: %v: %s", err, out)
	}
	queued := func() string {
		q := exec.Command("squeue", "-h", "--name="+name, "-o", "%i %T")
		q.Env = append(os.Environ(), env...)
		b, err := q.Output()
		if err != nil {
			t.Fatalf("squeue: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	deadline := time.Now().Add(4 * time.Minute)
	var runs []pipeline.HistoryRow
	for {
		recs, _ := pipeline.History(work)
		runs = pipeline.HistoryRows(work, recs)
		if len(runs) >= 2 && queued() == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 4 min: %d runs in history, queue %q; job outputs:\n%s", len(runs), queued(), nightOutputs(dir))
		}
		time.Sleep(time.Second)
	}
	if len(runs) != 2 {
		t.Fatalf("%d nights ran, want 2 (NIGHTLY_COUNT=2)", len(runs))
	}
	second, first := runs[0], runs[1]
	if first.Status != pipeline.RunOK || first.Ran == 0 {
		t.Errorf("first night: status %s, %d stages ran; want ok and the demo built", first.Status, first.Ran)
	}
	if second.Status != pipeline.HistoryNothingRan || second.Ran != 0 {
		t.Errorf("second night: status %s, %d stages ran; want nothing ran: everything up to date", second.Status, second.Ran)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "night-*.out"))
	if len(logs) != 2 {
		t.Errorf("job outputs %v, want one per night", logs)
	}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if strings.Contains(string(b), "could not queue") {
			t.Errorf("%s: %s", l, b)
		}
	}
}

// nightOutputs is the last lines of every night's job output.
func nightOutputs(dir string) string {
	logs, _ := filepath.Glob(filepath.Join(dir, "night-*.out"))
	var b strings.Builder
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		b.WriteString(l + ":\n  " + strings.Join(lines[max(0, len(lines)-5):], "\n  ") + "\n")
	}
	return b.String()
}
