package configs

import (
	"regexp"
	"strings"
	"time"

	"github.com/postergenre/postergenre/stages"
)

// Executors: where the cells of a grid run.
const (
	// ExecutorLocal runs every cell in the running process, one after the
	// other (the default).
	ExecutorLocal = "local"
	// ExecutorSlurm submits the cells as one Slurm job array; each task
	// runs `pipeline run CONFIG --cell I` against the same working folder.
	ExecutorSlurm = "slurm"
)

// Executor is the `executor:` section: where a run's cells execute. It is
// part of no stage's fingerprint (Config.SectionHash hashes stage sections
// only), so an output built on Slurm is reused by a local run and the
// other way round.
type Executor struct {
	// Kind is local or slurm (`pipeline run --executor` overrides it).
	Kind  string        `yaml:"kind"`
	Slurm SlurmExecutor `yaml:"slurm"`
}

// SlurmExecutor is how cells are submitted to Slurm (sbatch options).
type SlurmExecutor struct {
	Partition string `yaml:"partition"` // --partition; "" = the cluster's default
	Account   string `yaml:"account"`   // --account; "" = the user's default
	// TimeLimit is sbatch's --time per cell ("2:00:00", "1-00:00:00"); "" = the partition's.
	TimeLimit   string `yaml:"time_limit"`
	CPUsPerCell int    `yaml:"cpus_per_cell"` // --cpus-per-task
	MemPerCell  string `yaml:"mem_per_cell"`  // --mem ("8G"); "" = the partition's default
	// Gres is --gres per cell ("gpu:1"). "auto" asks for gpu:1 when
	// train.device is gpu and for nothing otherwise; "" never asks.
	Gres string `yaml:"gres"`
	// MaxParallel is N in --array=0-K%N: at most N cells at once (0: no cap).
	MaxParallel int `yaml:"max_parallel"`
	// SbatchArgs are passed to sbatch as they are (e.g. --qos=long).
	SbatchArgs []string `yaml:"sbatch_args"`
	// MaxRequeues is how many times a cell whose task was cancelled, timed
	// out, lost its node or was preempted is resubmitted (with --resume).
	MaxRequeues int `yaml:"max_requeues"`
	// Poll is how often the submitter asks squeue for the tasks' states.
	Poll time.Duration `yaml:"poll"`
}

// DefaultExecutor is the executor section's defaults.
func DefaultExecutor() Executor {
	return Executor{Kind: ExecutorLocal, Slurm: SlurmExecutor{
		CPUsPerCell: 1, Gres: "auto", MaxRequeues: 2, Poll: 2 * time.Second,
	}}
}

var (
	slurmTimeRe = regexp.MustCompile(`^(\d+-)?\d+(:\d+){0,2}$|^\d+-\d+$`)
	slurmMemRe  = regexp.MustCompile(`^\d+[KMGT]?$`)
	gresRe      = regexp.MustCompile(`^[a-z][a-z0-9_]*(:[A-Za-z0-9_.-]+)*(,[a-z][a-z0-9_]*(:[A-Za-z0-9_.-]+)*)*$`)
)

// Validate appends every problem of the section.
func (e *Executor) Validate(prefix string, ps *stages.Problems) {
	if e.Kind != ExecutorLocal && e.Kind != ExecutorSlurm {
		ps.Addf(prefix+"/kind", "must be %q or %q, got %q", ExecutorLocal, ExecutorSlurm, e.Kind)
	}
	s, p := &e.Slurm, prefix+"/slurm"
	if s.TimeLimit != "" && !slurmTimeRe.MatchString(s.TimeLimit) {
		ps.Addf(p+"/time_limit", `must be Slurm's [days-]hours:minutes:seconds (e.g. "2:00:00"), got %q`, s.TimeLimit)
	}
	if s.CPUsPerCell < 1 {
		ps.Addf(p+"/cpus_per_cell", "must be >= 1, got %d", s.CPUsPerCell)
	}
	if s.MemPerCell != "" && !slurmMemRe.MatchString(s.MemPerCell) {
		ps.Addf(p+"/mem_per_cell", `must be a size such as "8G" or "500M", got %q`, s.MemPerCell)
	}
	if s.Gres != "" && s.Gres != "auto" && !gresRe.MatchString(s.Gres) {
		ps.Addf(p+"/gres", `must be "auto", "" or Slurm's name[:type]:count (e.g. "gpu:1"), got %q`, s.Gres)
	}
	if s.MaxParallel < 0 {
		ps.Addf(p+"/max_parallel", "must be >= 0 (0: no cap), got %d", s.MaxParallel)
	}
	if s.MaxRequeues < 0 || s.MaxRequeues > 100 {
		ps.Addf(p+"/max_requeues", "must be in 0..100, got %d", s.MaxRequeues)
	}
	if s.Poll < 100*time.Millisecond {
		ps.Addf(p+"/poll", "must be >= 100ms, got %s", s.Poll)
	}
	for i, a := range s.SbatchArgs {
		if !strings.HasPrefix(a, "-") {
			ps.Addf(p+"/sbatch_args/"+stages.Index(i), "must be an sbatch option starting with '-', got %q", a)
		}
		for _, own := range []string{"--array", "--parsable", "--output", "--error", "--wrap"} {
			if a == own || strings.HasPrefix(a, own+"=") {
				ps.Addf(p+"/sbatch_args/"+stages.Index(i), "%s is set by the executor", own)
			}
		}
	}
}

// GresFor is the --gres a cell of c asks for ("" for none): "auto" asks
// for one GPU when training on a GPU.
func (c *Config) GresFor() string {
	g := c.Executor.Slurm.Gres
	if g != "auto" {
		return g
	}
	if c.Train.Device == "gpu" {
		return "gpu:1"
	}
	return ""
}
