package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/app/progress"
	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// runFlags are run's own flags (status takes --set only).
type runFlags struct {
	sets                        []string
	only, from, cell, runID     string
	force, dryRun, resume, json bool
	verify                      bool
	// executor overrides the config's executor.kind; detach returns once
	// the cells are submitted.
	executor string
	detach   bool
}

func newRunCmd(st *State, g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run CONFIG [flags]",
		Short: "run the stages of a config that are not up to date",
		Long: `Run the stages of CONFIG in order, skipping each one whose output for the same
code, config section and inputs already exists.

--force reruns every selected stage even when up to date; the new output
replaces the shared one for later runs, while earlier run folders keep
pointing at what they produced. --from STAGE forces that stage and reruns
each later one whose input it changed (outputs are identified by content:
a rerun that wrote the same bytes leaves the later stages up to date; add
--force to rerun them all); --only STAGE runs just one (its inputs must
exist).

--cell KEY runs one cell of a grid config (its upstream stages, train and
evaluate): KEY as in the grid table ("40/0.0001") or the cell's index
0..N-1 in grid order, as a Slurm array task passes $SLURM_ARRAY_TASK_ID.
Any number of processes, on any number of hosts sharing the working
folder, may run different cells (or different configs) at once: each
takes only its cells' run locks; two that need the same missing stage
output build it once (the other waits and reuses it). A second run of the
same config or cell exits 3. --run-id ID attaches the run to the run folder
runs/ID shared by the cells of one submission (each cell writes
<cell>/cell.json there; the submitting process gathers them into run.json).

--executor slurm runs the cells of a grid config as one Slurm job array
(see README: Running on a Slurm cluster): the stages the cells share
(scrape, clean, encode per image size) are built here first, then every
cell is an array task running this binary with --cell against the same
working folder. The command waits, logging each cell's state and node,
resubmits (with --resume) cells that were cancelled, timed out or lost
their node, up to executor.slurm.max_requeues, and ends with the same
summary, run.json and history as a local run. --detach returns at once
with the job id (a dependent job collects the run; ` + "`pipeline status`" + ` shows
the cells' states). Ctrl-C cancels the array (scancel) and exits 130.`,
		Example:     "  pipeline run configs/demo.yaml\n  pipeline run configs/paper.yaml --set train.epochs=5 --from train\n  pipeline --log-format json run configs/paper.yaml >>postergenre.jsonl 2>&1",
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{"exits": exitsRun},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdRun(st, g, args[0], f)
		},
	}
	fl := cmd.Flags()
	addSetFlag(cmd, &f.sets)
	fl.StringVar(&f.only, "only", "", "run only this stage (its inputs must exist): "+strings.Join(stages.Order, ", "))
	fl.StringVar(&f.from, "from", "", "rerun this stage, and the later ones its new output changes (with --force: all of them)")
	fl.BoolVar(&f.force, "force", false, "rerun the selected stages even when up to date (earlier run folders keep their outputs)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan; run nothing")
	fl.BoolVar(&f.resume, "resume", false, "continue an interrupted train stage from its last checkpoint")
	fl.BoolVar(&f.verify, "verify", false, "check every file of a reused output by its sha256 (default: size and mtime); a damaged output is rebuilt")
	fl.StringVar(&f.cell, "cell", "", "run one grid cell only: its key (e.g. 40/0.0001) or index 0..N-1 in grid order")
	fl.StringVar(&f.runID, "run-id", "", "attach to the shared run folder runs/ID (cells of one array job) instead of a new one")
	fl.StringVar(&f.executor, "executor", "", "where the cells of a grid run: local (this process) or slurm (one job array); default: the config's executor.kind")
	fl.BoolVar(&f.detach, "detach", false, "with --executor slurm: return once the cells are submitted (prints the job id)")
	return cmd
}

func newStatusCmd(st *State, g *globals) *cobra.Command {
	var sets []string
	var verify bool
	cmd := &cobra.Command{
		Use:         "status CONFIG [--set key=value]... [--verify]",
		Short:       "which stages are up to date (runs nothing, starts nothing)",
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{"exits": exitsStatus},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdStatus(st, g, args[0], sets, verify)
		},
	}
	addSetFlag(cmd, &sets)
	cmd.Flags().BoolVar(&verify, "verify", false, "check every file of each output by its sha256, not only size and mtime (damaged outputs show as such)")
	return cmd
}

// checkStage validates --only/--from with a suggestion for a typo.
func checkStage(flag, name string) error {
	if name == "" || indexOf(stages.Order, name) >= 0 {
		return nil
	}
	return usageErrorf("--%s %s: unknown stage%s (stages: %s)", flag, name, didYouMean(name, stages.Order), strings.Join(stages.Order, ", "))
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// options are the runner options every command that plans or runs shares.
func (g *globals) options(st *State, log *slog.Logger) pipeline.Options {
	return pipeline.Options{
		Workdir:  g.workdir,
		Logger:   log,
		Out:      st.Stdout,
		ExtraLog: pipeline.JSONLogFile,
		Build:    buildStages,
	}
}

// progressFor shows progress as bars on a terminal, else as log lines
// every `scrape.progress_every`; none under --quiet.
func progressFor(st *State, g *globals, cfg *configs.Loaded, log *slog.Logger) stages.Progress {
	switch {
	case g.quiet:
		return nil
	case st.IsTerminal && g.format(st) == "text":
		return progress.Bars{W: st.Stderr}
	}
	return progress.Logs{Logger: log, Every: cfg.Scrape.ProgressEvery}
}

func cmdRun(st *State, g *globals, file string, f runFlags) error {
	for _, s := range [][2]string{{"only", f.only}, {"from", f.from}} {
		if err := checkStage(s[0], s[1]); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(file, f.sets)
	if err != nil {
		return err
	}
	kind := executorKind(f, cfg)
	if err := checkExecutorFlags(f, cfg, kind); err != nil {
		return err
	}
	log := g.logger(st)
	opts := g.options(st, log)
	opts.Only, opts.From, opts.Force, opts.DryRun, opts.Resume = f.only, f.from, f.force, f.dryRun, f.resume
	opts.Cell, opts.RunID, opts.Verify = f.cell, f.runID, f.verify
	opts.Build = stagesVerifying(f.verify)
	if _, err := pipeline.SelectCells(cfg, f.cell); err != nil {
		return usageErrorf("%v", err)
	}
	opts.Progress = progressFor(st, g, cfg, log)
	if cfg.Demo != nil {
		// Under the run's lock and the working folder's setup lock: a
		// second run of the demo exits 3, a run of another demo cell waits
		// for the data instead of racing on it.
		opts.Setup = func(ctx context.Context) (func(), error) {
			stop, err := startDemo(ctx, cfg, opts.Workdir, log)
			if err != nil {
				return nil, fmt.Errorf("demo: %w", err)
			}
			return stop, nil
		}
	}
	if kind != configs.ExecutorLocal && !f.dryRun {
		return cmdRunOn(st, g, file, f, cfg, opts, kind)
	}
	r, err := pipeline.NewRunner(opts)
	if err != nil {
		return exitWith(ExitUsage, err)
	}
	rec, err := r.Run(st.Ctx, cfg)
	if rec != nil && rec.ID != "" {
		printSummary(st, rec, opts.Workdir)
	}
	if err == nil {
		return nil
	}
	return runError(st, cfg, resumeCommand(st.program(), file, g.workdir, f), rec, err)
}

// cmdStatus plans without running anything: no demo data is generated and
// no server started (a demo whose data does not exist yet would run every
// stage).
func cmdStatus(st *State, g *globals, file string, sets []string, verify bool) error {
	cfg, err := loadConfig(file, sets)
	if err != nil {
		return err
	}
	log := g.logger(st)
	opts := g.options(st, log)
	opts.Verify, opts.Build = verify, stagesVerifying(verify)
	r, err := pipeline.NewRunner(opts)
	if err != nil {
		return exitWith(ExitUsage, err)
	}
	if cfg.Demo != nil {
		csv := filepath.Join(demoDir(cfg, g.workdir), "MovieGenre.csv")
		if _, err := os.Stat(csv); err != nil {
			fmt.Fprintf(st.Stdout, "demo data not generated yet (%s): `pipeline run %s` generates it and runs every stage\n", filepath.Dir(csv), file)
			var steps []pipeline.Step
			for _, c := range cfg.Cells() {
				for _, s := range stages.Order {
					steps = append(steps, pipeline.Step{Cell: c.Key, Stage: s, Status: pipeline.StatusNeverRun})
				}
			}
			pipeline.PrintPlan(st.Stdout, steps)
			return nil
		}
		// The CSV's content decides the scrape fingerprint, not where it
		// is served from: the generated file stands in for the server.
		cfg.Scrape.CSV = csv
	}
	steps, err := r.Plan(st.Ctx, cfg)
	if err != nil {
		return exitWith(ExitFailed, err)
	}
	pipeline.PrintPlan(st.Stdout, steps)
	// A submission of this config still running elsewhere: its cells' states.
	executorStates(st.Ctx, st, g.workdir, cfg)
	return nil
}

// interrupted says what an interrupted run kept and how to continue.
func interrupted(cfg *configs.Loaded, resume string, rec *pipeline.RunRecord) error {
	var kept, stopped []string
	keeps := false
	if rec != nil {
		for _, s := range rec.Steps {
			name := s.Stage
			if s.Cell != "" {
				name = "[" + s.Cell + "] " + name
			}
			switch s.Status {
			case pipeline.StatusRan, pipeline.StatusUpToDate:
				kept = append(kept, name)
			case pipeline.StatusFailed:
				stopped = append(stopped, name)
				if k, ok := buildStages(cfg.Config)[s.Stage].(stages.StagingKeeper); ok && k.KeepsFailedAttempt() {
					keeps = true
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("interrupted")
	if len(stopped) > 0 {
		fmt.Fprintf(&b, " during %s", strings.Join(stopped, ", "))
	}
	if len(kept) > 0 {
		fmt.Fprintf(&b, "; kept the complete outputs of %s", strings.Join(kept, ", "))
	} else {
		b.WriteString("; no stage had completed")
	}
	switch {
	case keeps:
		fmt.Fprintf(&b, "; the unfinished %s attempt is kept: `%s` continues it from its last checkpoint", strings.Join(stopped, ", "), resume)
	case len(stopped) > 0:
		fmt.Fprintf(&b, "; the unfinished %s output was discarded", strings.Join(stopped, ", "))
		if slices.Contains(stopped, stages.Scrape) {
			b.WriteString(" (the posters it downloaded stay in the store)")
		}
		fmt.Fprintf(&b, ": `%s` continues from there", resume)
	default:
		fmt.Fprintf(&b, ": `%s` continues", resume)
	}
	return errors.New(b.String())
}

// resumeCommand is the command line that continues an interrupted run
// when pasted into a shell: the same config, working folder (absolute),
// every --set and --only, plus --resume.
func resumeCommand(program, file, workdir string, f runFlags) string {
	if abs, err := filepath.Abs(workdir); err == nil {
		workdir = abs
	}
	args := []string{shellQuote(program), "run", shellQuote(file), "--workdir", shellQuote(workdir)}
	for _, s := range f.sets {
		args = append(args, "--set", shellQuote(s))
	}
	if f.only != "" {
		args = append(args, "--only", f.only)
	}
	return strings.Join(append(args, "--resume"), " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./=:,+@%.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (st *State) program() string {
	if st.Program == "" {
		return "pipeline"
	}
	return st.Program
}
