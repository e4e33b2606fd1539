package slurm_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/internal/slurm"
	"github.com/postergenre/postergenre/internal/slurm/slurmtest"
)

func TestJobArgs(t *testing.T) {
	tests := []struct {
		name string
		job  slurm.Job
		want string
	}{
		{"minimal", slurm.Job{Script: "cell.sh"}, "--parsable cell.sh"},
		{"gpu cell array", slurm.Job{Script: "/w/runs/r/slurm/cell.sh", Name: "postergenre-paper-grid", Array: "0-24%4",
			Output: "/w/runs/r/slurm/%A_%a.out", Partition: "gpu", Account: "lab", Time: "2:00:00", CPUs: 4, Mem: "16G",
			Gres: "gpu:1", Requeue: true, Extra: []string{"--qos=long"}},
			"--parsable --job-name=postergenre-paper-grid --array=0-24%4 --output=/w/runs/r/slurm/%A_%a.out --partition=gpu --account=lab --time=2:00:00 --cpus-per-task=4 --mem=16G --gres=gpu:1 --requeue --qos=long /w/runs/r/slurm/cell.sh"},
		{"resubmission", slurm.Job{Script: "cell.sh", Array: "1,3", Export: "ALL,POSTERGENRE_RESUME=1"},
			"--parsable --array=1,3 --export=ALL,POSTERGENRE_RESUME=1 cell.sh"},
		{"collector", slurm.Job{Script: "collect.sh", Dependency: "afterany:12:13"},
			"--parsable --dependency=afterany:12:13 collect.sh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(tc.job.Args(), " "); got != tc.want {
				t.Errorf("Args()\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestArraySpec(t *testing.T) {
	tests := []struct {
		idx  []int
		max  int
		want string
	}{
		{[]int{0, 1, 2, 3}, 0, "0-3"},
		{[]int{0, 1, 2, 3}, 2, "0-3%2"},
		{[]int{3, 1}, 0, "1,3"},
		{[]int{5, 0, 1, 2, 7, 8}, 4, "0-2,5,7-8%4"},
		{[]int{4}, 1, "4%1"},
	}
	for _, tc := range tests {
		if got := slurm.ArraySpec(tc.idx, tc.max); got != tc.want {
			t.Errorf("ArraySpec(%v, %d) = %q, want %q", tc.idx, tc.max, got, tc.want)
		}
	}
}

func TestParseSqueue(t *testing.T) {
	out := "7|1|RUNNING|n2|None|2026-12-07T00:19:24|2026-12-07T00:19:26|N/A|\n" +
		"7|0|COMPLETED|n1|None|2026-12-07T00:19:24|2026-12-07T00:19:26|2026-12-07T00:19:28|\n" +
		"7|2|PENDING||Priority|2026-12-07T00:19:24|N/A|N/A|\n" +
		"8|N/A|RUNNING|n1|None|2026-12-07T00:19:24|N/A|N/A|\n"
	tasks, err := slurm.ParseSqueue([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 {
		t.Fatalf("tasks = %+v, want 3 array tasks", tasks)
	}
	if tasks[1].Index != 0 || tasks[1].State != "COMPLETED" || tasks[1].Node != "n1" || tasks[1].End.IsZero() || !tasks[0].End.IsZero() {
		t.Errorf("tasks = %+v", tasks)
	}
	if tasks[2].Reason != "Priority" || !tasks[2].Start.IsZero() {
		t.Errorf("pending task = %+v", tasks[2])
	}
	if _, err := slurm.ParseSqueue([]byte("7|1|RUNNING\n")); err == nil {
		t.Error("a short squeue line was accepted")
	}
}

func TestParseAccounting(t *testing.T) {
	sacct := "12_0|COMPLETED|n1|2026-12-07T00:19:24|2026-12-07T00:19:26|2026-12-07T00:19:28\n" +
		"12_1|CANCELLED by 0|n2|2026-12-07T00:19:24|2026-12-07T00:19:26|2026-12-07T00:19:27\n" +
		"12_[2-3]|PENDING||2026-12-07T00:19:24|Unknown|Unknown\n"
	tasks, err := slurm.ParseSacct([]byte(sacct))
	if err != nil || len(tasks) != 2 || tasks[1].State != "CANCELLED" || tasks[1].Node != "n2" {
		t.Errorf("ParseSacct = %+v, %v", tasks, err)
	}
	comp := "JobId=13 UserId=root(0) Name=wrap JobState=COMPLETED NodeList=n2 StartTime=2026-12-07T00:19:26 EndTime=2026-12-07T00:19:28 ArrayJobId=12 ArrayTaskId=3 ExitCode=0:0\n" +
		"JobId=20 JobState=FAILED NodeList=n1 ArrayJobId=19 ArrayTaskId=0\n" +
		"JobId=12 JobState=TIMEOUT NodeList=n1 ArrayJobId=12 ArrayTaskId=2\n"
	got := slurm.ParseJobComp([]byte(comp), "12")
	if len(got) != 2 || got[0].Index != 3 || got[0].State != "COMPLETED" || got[1].State != "TIMEOUT" || got[0].End.IsZero() {
		t.Errorf("ParseJobComp = %+v", got)
	}
}

func TestRetryable(t *testing.T) {
	for state, want := range map[string]bool{"CANCELLED": true, "TIMEOUT": true, "NODE_FAIL": true, "PREEMPTED": true,
		"FAILED": false, "OUT_OF_MEMORY": false, "COMPLETED": false} {
		if got := slurm.Retryable(state); got != want {
			t.Errorf("Retryable(%s) = %v", state, got)
		}
		if !slurm.Terminal(state) {
			t.Errorf("Terminal(%s) = false", state)
		}
	}
	for _, s := range []string{"PENDING", "RUNNING", "REQUEUED", "COMPLETING"} {
		if slurm.Terminal(s) {
			t.Errorf("Terminal(%s) = true", s)
		}
	}
}

// TestClusterArray submits a 4-task array to the local two-node cluster:
// every task completes, both nodes run some, and the accounting agrees;
// then a long array is cancelled with scancel.
func TestClusterArray(t *testing.T) {
	c := &slurm.Client{Env: slurmtest.Cluster(t)}
	ctx := context.Background()
	dir := t.TempDir()
	script := filepath.Join(dir, "task.sh")
	os.WriteFile(script, []byte("#!/bin/bash\nsleep ${SLEEP:-1}\necho task $SLURM_ARRAY_TASK_ID on $SLURMD_NODENAME\n"), 0o755)
	id, err := c.Submit(ctx, slurm.Job{Script: script, Name: "slurm-test", Array: slurm.ArraySpec([]int{0, 1, 2, 3}, 0),
		Output: filepath.Join(dir, "%A_%a.out"), CPUs: 1, Chdir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tasks := waitDone(t, c, id, 4)
	nodes := map[string]bool{}
	for _, tk := range tasks {
		if tk.State != "COMPLETED" {
			t.Errorf("task %d: %s", tk.Index, tk.State)
		}
		nodes[tk.Node] = true
		out, err := os.ReadFile(filepath.Join(dir, id+"_"+itoa(tk.Index)+".out"))
		if err != nil || !strings.Contains(string(out), "task "+itoa(tk.Index)+" on "+tk.Node) {
			t.Errorf("task %d output: %q, %v", tk.Index, out, err)
		}
	}
	if len(nodes) != 2 {
		t.Errorf("nodes used: %v, want n1 and n2", nodes)
	}
	acct, err := c.Accounting(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var done []int
	for _, a := range acct {
		if a.State == "COMPLETED" {
			done = append(done, a.Index)
		}
	}
	slices.Sort(done)
	if !slices.Equal(done, []int{0, 1, 2, 3}) {
		t.Errorf("accounting: %+v", acct)
	}

	long, err := c.Submit(ctx, slurm.Job{Script: script, Array: "0-1", Output: filepath.Join(dir, "%A_%a.out"),
		Export: "ALL,SLEEP=300", Chdir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, long); err != nil {
		t.Fatal(err)
	}
	for _, tk := range waitDone(t, c, long, 2) {
		if tk.State != "CANCELLED" {
			t.Errorf("cancelled array: task %d %s", tk.Index, tk.State)
		}
	}
}

func waitDone(t *testing.T, c *slurm.Client, id string, n int) []slurm.Task {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		tasks, err := c.Tasks(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, tk := range tasks {
			if slurm.Terminal(tk.State) {
				done++
			}
		}
		if len(tasks) == n && done == n {
			return tasks
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("job %s: not done in 2 minutes", id)
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
