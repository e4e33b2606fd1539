// Package executor is the seam between planning a grid run and running
// its cells somewhere. The local executor is the pipeline itself (every
// cell in the running process, pipeline.Runner.Run); any other executor
// starts each cell as `pipeline run CONFIG --cell I --run-id ID` against the
// same working folder, on a cluster, and Drive waits for them: progress
// per cell, resubmission (with --resume) of cells that were interrupted
// rather than failed, cancellation, and in the end the same run record as
// a local run (pipeline.CollectRun).
//
// An executor only submits, reports and cancels (Executor); Slurm is the
// one here (slurm.go). A Ray or Kubernetes backend implements the same
// three methods.
package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/postergenre/postergenre/configs"
)

// Batch is the cells of one run, handed to an executor.
type Batch struct {
	// Bin is the pipeline binary the cells run (reachable on every node).
	Bin string
	// File and Sets are the config as given on the command line: each
	// cell loads them itself, so a cell resolves what is local to it (the
	// demo's loopback server).
	File string
	Sets []string
	// Workdir is the shared working folder (absolute).
	Workdir string
	// RunID is the run folder the cells attach to (runs/<RunID>).
	RunID  string
	Config *configs.Loaded
	Cells  []configs.Cell
}

// RunDir is the run's folder.
func (b *Batch) RunDir() string { return filepath.Join(b.Workdir, "runs", b.RunID) }

// CellArgs is the command line of cell i (after the binary): `run` with
// the config, its overrides, the cell, the shared run folder and --resume.
// The cell runs in its own process (--executor local), whatever the
// config's executor.kind says.
func (b *Batch) CellArgs(i string, resume bool) []string {
	args := []string{"run", b.File, "--workdir", b.Workdir, "--cell", i, "--run-id", b.RunID, "--log-format", "json"}
	for _, s := range b.Sets {
		args = append(args, "--set", s)
	}
	args = append(args, "--executor", "local")
	if resume {
		args = append(args, "--resume")
	}
	return args
}

// Phase is where a cell's current attempt stands, whatever the executor.
type Phase string

const (
	Pending Phase = "pending"
	Running Phase = "running"
	Done    Phase = "done"
	// Failed: the cell failed by itself (a stage error, a crash); running
	// it again would fail again.
	Failed Phase = "failed"
	// Interrupted: the attempt was stopped from outside (cancelled, out of
	// time, node lost, preempted); it may be resubmitted with --resume.
	Interrupted Phase = "interrupted"
	// Cancelled: given up on (the run was cancelled, or out of requeues).
	Cancelled Phase = "cancelled"
)

// TaskState is one cell's attempt as its executor reports it.
type TaskState struct {
	Index int    // the cell's index in Batch.Cells
	Phase Phase  //
	Raw   string // the executor's own state (Slurm's RUNNING, TIMEOUT, …)
	Node  string
	Start time.Time // as the executor saw it (zero: not known)
	End   time.Time
}

// Executor runs cells of a batch somewhere else than this process.
type Executor interface {
	// Name is what --executor selects ("slurm").
	Name() string
	// Submit starts the given cells (indexes into b.Cells) and returns
	// their job's id; resume makes each cell continue its interrupted
	// training (`pipeline run --resume`).
	Submit(ctx context.Context, b *Batch, cells []int, resume bool) (string, error)
	// States reports the cells of a job submitted earlier (the ones the
	// executor still knows; a cell not reported is still pending).
	States(ctx context.Context, b *Batch, job string) ([]TaskState, error)
	// Cancel stops every cell of a job.
	Cancel(ctx context.Context, job string) error
}

// Detacher is an executor that can finish a run without the submitting
// process: it arranges for `pipeline collect` to run once the jobs end.
type Detacher interface {
	Collect(ctx context.Context, b *Batch, jobs []string) (string, error)
}

// New returns the executor named kind, configured from cfg; nil for local.
func New(kind string, cfg *configs.Config, env []string) (Executor, error) {
	switch kind {
	case "", configs.ExecutorLocal:
		return nil, nil
	case configs.ExecutorSlurm:
		return &Slurm{Cfg: cfg.Executor.Slurm, Gres: cfg.GresFor(), Env: env}, nil
	}
	return nil, fmt.Errorf("unknown executor %q (executors: %s, %s)", kind, configs.ExecutorLocal, configs.ExecutorSlurm)
}

// Binary is the path of the running pipeline binary, for the cells to run.
func Binary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(exe, ".test") {
		return "", fmt.Errorf("executor: running as a test binary (%s): set PIPELINE_BIN", exe)
	}
	return filepath.EvalSymlinks(exe)
}
