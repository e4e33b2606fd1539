// Package slurm drives a Slurm cluster through its command-line tools
// (sbatch, squeue, sacct, scancel): what every site has, whatever its Slurm
// release, unlike slurmrestd's versioned paths. The command lines are
// built by plain functions (tested without a cluster); Client runs them.
package slurm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Job is one sbatch submission: a batch script run as a job array.
type Job struct {
	Script string // the batch script's path (run by bash on the node)
	Name   string // --job-name
	// Array is --array: "0-24%4", "1,3"; "" submits a single job.
	Array string
	// Output is --output, with Slurm's %A (array job id) and %a (task).
	Output    string
	Chdir     string // --chdir
	Partition string
	Account   string
	Time      string // --time
	CPUs      int    // --cpus-per-task (0: not given)
	Mem       string // --mem
	Gres      string // --gres, e.g. gpu:1
	// Requeue lets Slurm requeue a task whose node failed (--requeue).
	Requeue bool
	// Dependency is --dependency, e.g. afterany:123.
	Dependency string
	// Export is --export: which environment the tasks get, e.g.
	// "ALL,POSTERGENRE_RESUME=1".
	Export string
	Extra  []string // more sbatch options, as they are
}

// Args is the sbatch command line for j (without "sbatch").
func (j Job) Args() []string {
	args := []string{"--parsable"}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag+"="+v)
		}
	}
	add("--job-name", j.Name)
	add("--array", j.Array)
	add("--output", j.Output)
	add("--chdir", j.Chdir)
	add("--partition", j.Partition)
	add("--account", j.Account)
	add("--time", j.Time)
	if j.CPUs > 0 {
		add("--cpus-per-task", strconv.Itoa(j.CPUs))
	}
	add("--mem", j.Mem)
	add("--gres", j.Gres)
	if j.Requeue {
		args = append(args, "--requeue")
	}
	add("--dependency", j.Dependency)
	add("--export", j.Export)
	args = append(args, j.Extra...)
	return append(args, j.Script)
}

// ArraySpec is the --array value for task indexes (sorted, compressed to
// ranges) with at most max running at once (0: no cap): 0-3%2, 1,4-5.
func ArraySpec(indexes []int, max int) string {
	xs := append([]int(nil), indexes...)
	sort.Ints(xs)
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		} else {
			parts = append(parts, strconv.Itoa(xs[i]))
		}
		i = j + 1
	}
	s := strings.Join(parts, ",")
	if max > 0 {
		s += "%" + strconv.Itoa(max)
	}
	return s
}

// Task is the state of one array task as Slurm reports it.
type Task struct {
	JobID string // the array job's id
	Index int    // the array task index
	// State is Slurm's: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED,
	// TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, REQUEUED, …
	State  string
	Node   string
	Reason string
	Submit time.Time
	Start  time.Time
	End    time.Time
}

// Terminal reports whether a state is final for the task's current attempt.
func Terminal(state string) bool {
	switch state {
	case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
		"BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "REVOKED", "SPECIAL_EXIT":
		return true
	}
	return false
}

// Retryable reports whether a task that ended in state did not fail by
// itself: it was cancelled, ran out of time, lost its node or was
// preempted, and rerunning it (resuming) can succeed.
func Retryable(state string) bool {
	switch state {
	case "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE":
		return true
	}
	return false
}

// Client runs the Slurm tools.
type Client struct {
	// Env is added to the tools' environment (e.g. SLURM_CONF=...).
	Env []string
}

// ErrUnknownJob is squeue's answer for a job the controller no longer holds.
var ErrUnknownJob = errors.New("slurm: job unknown to the controller")

func (c *Client) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Invalid job id") {
			return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), ErrUnknownJob)
		}
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// Submit runs sbatch and returns the job id.
func (c *Client) Submit(ctx context.Context, j Job) (string, error) {
	out, err := c.run(ctx, "sbatch", j.Args()...)
	if err != nil {
		return "", err
	}
	// --parsable prints "jobid" or "jobid;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch printed %q, not a job id", out)
	}
	return id, nil
}

// Cancel runs scancel on a job (every task of an array) or one task ("12_3").
func (c *Client) Cancel(ctx context.Context, id string) error {
	_, err := c.run(ctx, "scancel", id)
	return err
}

// squeueFields are the squeue -O columns Tasks reads, in order.
const squeueFields = "ArrayJobID:|,ArrayTaskID:|,State:|,NodeList:|,Reason:|,SubmitTime:|,StartTime:|,EndTime:|"

// Tasks returns the tasks of array job id that the controller still holds,
// finished ones included (for MinJobAge after they end). A job the
// controller no longer knows is ErrUnknownJob; Accounting reads those.
func (c *Client) Tasks(ctx context.Context, id string) ([]Task, error) {
	out, err := c.run(ctx, "squeue", "-h", "-r", "--states=all", "-j", id, "-O", squeueFields)
	if err != nil {
		return nil, err
	}
	return ParseSqueue(out)
}

// ParseSqueue reads Tasks' squeue output.
func ParseSqueue(out []byte) ([]Task, error) {
	var tasks []Task
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) < 8 {
			return nil, fmt.Errorf("squeue: unexpected line %q", line)
		}
		idx, err := strconv.Atoi(strings.TrimSpace(f[1]))
		if err != nil {
			continue // not an array task (N/A): not ours
		}
		t := Task{JobID: strings.TrimSpace(f[0]), Index: idx, State: strings.TrimSpace(f[2]),
			Node: strings.TrimSpace(f[3]), Reason: strings.TrimSpace(f[4])}
		t.Submit, t.Start, t.End = slurmTime(f[5]), slurmTime(f[6]), slurmTime(f[7])
		tasks = append(tasks, t)
	}
	return tasks, sc.Err()
}

// slurmTime parses Slurm's local time stamps ("N/A", "Unknown": zero).
func slurmTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02T15:04:05", strings.TrimSpace(s), time.Local)
	if err != nil {
		return time.Time{}
	}
	return t
}
