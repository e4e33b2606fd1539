package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/slurm"
)

// Slurm runs the cells of a batch as one Slurm job array: task I runs
// `pipeline run CONFIG --cell I --run-id ID` (the batch script
// runs/<id>/slurm/cell.sh), its output in runs/<id>/slurm/<job>_<I>.out.
// Tasks are submitted with --requeue, so Slurm itself requeues a task whose
// node fails; the script adds --resume whenever Slurm restarts a task
// (SLURM_RESTART_COUNT) or the submitter resubmits it.
type Slurm struct {
	Cfg  configs.SlurmExecutor
	Gres string   // resolved --gres ("" for none)
	Env  []string // for the Slurm tools (SLURM_CONF=...)
}

var (
	_ Executor = (*Slurm)(nil)
	_ Detacher = (*Slurm)(nil)
)

// Name is "slurm".
func (s *Slurm) Name() string { return configs.ExecutorSlurm }

func (s *Slurm) client() *slurm.Client { return &slurm.Client{Env: s.Env} }

// Dir is where a batch's scripts and job output files go.
func (s *Slurm) Dir(b *Batch) string { return filepath.Join(b.RunDir(), "slurm") }

// Job is the sbatch submission of cells (for the tests: the command line).
func (s *Slurm) Job(b *Batch, cells []int, resume bool) slurm.Job {
	dir := s.Dir(b)
	export := "ALL"
	if resume {
		export += ",POSTERGENRE_RESUME=1"
	}
	return slurm.Job{
		Script:    filepath.Join(dir, "cell.sh"),
		Name:      "postergenre-" + b.Config.Name,
		Array:     slurm.ArraySpec(cells, s.Cfg.MaxParallel),
		Output:    filepath.Join(dir, "%A_%a.out"),
		Chdir:     b.Workdir,
		Partition: s.Cfg.Partition,
		Account:   s.Cfg.Account,
		Time:      s.Cfg.TimeLimit,
		CPUs:      s.Cfg.CPUsPerCell,
		Mem:       s.Cfg.MemPerCell,
		Gres:      s.Gres,
		Requeue:   true,
		Export:    export,
		Extra:     s.Cfg.SbatchArgs,
	}
}

// Submit writes the batch script (once per run) and submits the cells.
func (s *Slurm) Submit(ctx context.Context, b *Batch, cells []int, resume bool) (string, error) {
	if err := os.MkdirAll(s.Dir(b), 0o755); err != nil {
		return "", err
	}
	script := filepath.Join(s.Dir(b), "cell.sh")
	if err := os.WriteFile(script, []byte(CellScript(b)), 0o755); err != nil {
		return "", fmt.Errorf("batch script: %w", err)
	}
	return s.client().Submit(ctx, s.Job(b, cells, resume))
}

// CellScript is the batch script every array task runs.
func CellScript(b *Batch) string {
	const cell = `"$SLURM_ARRAY_TASK_ID"` // the cell index: expanded by the shell
	var q []string
	for _, a := range b.CellArgs(cell, false) {
		if a != cell {
			a = shellQuote(a)
		}
		q = append(q, a)
	}
	return "#!/bin/bash\n" +
		"# Written by `pipeline run --executor slurm`: one grid cell per array task\n" +
		"# ($SLURM_ARRAY_TASK_ID is the cell's index in grid order). A task that\n" +
		"# Slurm restarted (requeued after a node failure) or that the submitter\n" +
		"# resubmitted continues its interrupted training (--resume).\n" +
		"resume=()\n" +
		"if [ -n \"${POSTERGENRE_RESUME:-}\" ] || [ \"${SLURM_RESTART_COUNT:-0}\" -gt 0 ]; then resume=(--resume); fi\n" +
		"echo \"postergenre: cell $SLURM_ARRAY_TASK_ID of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname) node ${SLURMD_NODENAME:-?} restart ${SLURM_RESTART_COUNT:-0} at $(date +%s.%N) ${resume[*]}\" >&2\n" +
		"exec " + shellQuote(b.Bin) + " " + strings.Join(q, " ") + " \"${resume[@]}\"\n"
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// States reads the tasks of job from squeue (the controller keeps ended
// tasks for MinJobAge) and, for a job it no longer holds, from the
// accounting (sacct, or the job-completion log).
func (s *Slurm) States(ctx context.Context, b *Batch, job string) ([]TaskState, error) {
	c := s.client()
	tasks, err := c.Tasks(ctx, job)
	if errors.Is(err, slurm.ErrUnknownJob) {
		tasks, err = c.Accounting(ctx, job)
	}
	if err != nil {
		return nil, err
	}
	var out []TaskState
	for _, t := range tasks {
		out = append(out, TaskState{Index: t.Index, Phase: phaseOf(t.State), Raw: t.State, Node: t.Node, Start: t.Start, End: t.End})
	}
	return out, nil
}

// phaseOf maps a Slurm job state to a phase.
func phaseOf(state string) Phase {
	switch {
	case state == "COMPLETED":
		return Done
	case slurm.Retryable(state):
		return Interrupted
	case slurm.Terminal(state):
		return Failed
	case state == "RUNNING" || state == "COMPLETING" || state == "CONFIGURING":
		return Running
	}
	return Pending // PENDING, REQUEUED, REQUEUE_HOLD, SUSPENDED, …
}

// Cancel runs scancel on the job.
func (s *Slurm) Cancel(ctx context.Context, job string) error { return s.client().Cancel(ctx, job) }

// Collect submits `pipeline collect` to run once every job has ended
// (--dependency=afterany), so a detached run gets its run.json.
func (s *Slurm) Collect(ctx context.Context, b *Batch, jobs []string) (string, error) {
	args := []string{"collect", b.File, "--workdir", b.Workdir, "--run-id", b.RunID, "--log-format", "json"}
	for _, set := range b.Sets {
		args = append(args, "--set", set)
	}
	var q []string
	for _, a := range args {
		q = append(q, shellQuote(a))
	}
	script := filepath.Join(s.Dir(b), "collect.sh")
	body := "#!/bin/bash\n# Written by `pipeline run --executor slurm --detach`: gathers the cells into run.json.\n" +
		"exec " + shellQuote(b.Bin) + " " + strings.Join(q, " ") + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		return "", err
	}
	return s.client().Submit(ctx, slurm.Job{
		Script: script, Name: "postergenre-collect-" + b.Config.Name, Output: filepath.Join(s.Dir(b), "collect-%j.out"),
		Chdir: b.Workdir, Partition: s.Cfg.Partition, Account: s.Cfg.Account, CPUs: 1,
		Dependency: "afterany:" + strings.Join(jobs, ":"), Extra: []string{"--kill-on-invalid-dep=no"},
	})
}

// TaskOutput is the output file of cell i's task in job.
func (s *Slurm) TaskOutput(b *Batch, job string, i int) string {
	return filepath.Join(s.Dir(b), job+"_"+strconv.Itoa(i)+".out")
}
