package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/executor"
	"github.com/postergenre/postergenre/pipeline"
)

// executorKind is the executor a run uses: --executor, else the config's;
// --cell runs one cell in this process, whatever the config says.
func executorKind(f runFlags, cfg *configs.Loaded) string {
	switch {
	case f.executor != "":
		return f.executor
	case f.cell != "" || f.runID != "":
		return configs.ExecutorLocal
	}
	return cfg.Executor.Kind
}

// checkExecutorFlags refuses what a run on another executor cannot do.
func checkExecutorFlags(f runFlags, cfg *configs.Loaded, kind string) error {
	if kind == configs.ExecutorLocal {
		if f.detach {
			return usageErrorf("--detach needs an executor other than local (--executor slurm)")
		}
		return nil
	}
	for _, bad := range [][2]string{{"--only", f.only}, {"--from", f.from}, {"--cell", f.cell}, {"--run-id", f.runID}} {
		if bad[1] != "" {
			return usageErrorf("%s cannot be combined with --executor %s (it applies to one process; the cells run elsewhere)", bad[0], kind)
		}
	}
	if f.force {
		return usageErrorf("--force cannot be combined with --executor %s", kind)
	}
	if cfg.Grid == nil {
		return usageErrorf("--executor %s runs the cells of a grid config; %s has no grid (run it without --executor)", kind, cfg.File)
	}
	return nil
}

// cmdRunOn runs a grid config's cells on an executor: the shared stages
// here, then one job per cell, waiting (or not, --detach) for them, and
// the same run record as a local run in the end.
func cmdRunOn(st *State, g *globals, file string, f runFlags, cfg *configs.Loaded, opts pipeline.Options, kind string) error {
	log := opts.Logger
	ex, err := executor.New(kind, &cfg.Config, nil)
	if err != nil {
		return exitWith(ExitUsage, err)
	}
	bin := st.Getenv("PIPELINE_BIN")
	if bin == "" {
		if bin, err = executor.Binary(); err != nil {
			return exitWith(ExitUsage, err)
		}
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return exitWith(ExitUsage, err)
	}
	r, err := pipeline.NewRunner(opts)
	if err != nil {
		return exitWith(ExitUsage, err)
	}
	started := time.Now().UTC()
	sub, err := r.Submit(st.Ctx, cfg)
	if err != nil {
		return runError(st, cfg, resumeCommand(st.program(), file, g.workdir, f), nil, err)
	}
	defer sub.Release()
	workdir, _ := filepath.Abs(opts.Workdir)
	b := &executor.Batch{Bin: bin, File: absFile, Sets: f.sets, Workdir: workdir, RunID: sub.ID, Config: cfg, Cells: cfg.Cells()}
	d := &executor.Driver{Ex: ex, Batch: b, Resume: f.resume, MaxRequeues: cfg.Executor.Slurm.MaxRequeues, Poll: cfg.Executor.Slurm.Poll, Log: log,
		Outcome: func(i int) (string, string, bool) {
			rec, err := pipeline.ReadCellRecord(workdir, sub.ID, b.Cells[i])
			if err != nil {
				return "", "", false
			}
			return rec.Status, rec.Error, true
		}}
	if _, err := d.Start(st.Ctx); err != nil {
		return exitWith(ExitFailed, err)
	}
	if f.detach {
		if err := d.Detach(st.Ctx); err != nil {
			return exitWith(ExitFailed, fmt.Errorf("detach: %w (the cells were submitted as job %s)", err, d.Submission().Jobs[0]))
		}
		s := d.Submission()
		fmt.Fprintf(st.Stdout, "submitted %d cell(s) of %s as %s job %s (collected by job %s into run %s)\n`pipeline status %s` shows their states; `pipeline history` the run once collected\n",
			len(b.Cells), cfg.Name, kind, s.Jobs[0], s.Collector, sub.ID, file)
		return nil
	}
	waitErr := d.Wait(st.Ctx)
	writeMissingCellRecords(b, d.Submission(), log)
	rec, err := pipeline.CollectRun(workdir, cfg, sub.ID, started)
	if rec != nil {
		err = errors.Join(err, sub.Record(rec))
		printSummary(st, rec, workdir)
	}
	switch {
	case waitErr != nil && st.Ctx.Err() != nil:
		return exitWith(ExitInterrupted, fmt.Errorf("interrupted: cancelled the %s job(s) %s; `pipeline run %s --executor %s --resume` continues from the cells' complete outputs and checkpoints",
			kind, strings.Join(d.Submission().Jobs, ", "), file, kind))
	case waitErr != nil:
		return exitWith(ExitFailed, waitErr)
	case err != nil:
		return exitWith(ExitFailed, err)
	case rec.Status != pipeline.RunOK:
		return exitWith(ExitFailed, errors.New(rec.Error))
	}
	return nil
}

// writeMissingCellRecords gives every cell that ended without its own
// record (its process crashed, was killed, or never started) one that
// says why, and puts the submitter's reason into the record of a cell it
// gave up on (out of requeues), so the collected run names each cell's
// cause.
func writeMissingCellRecords(b *executor.Batch, s *executor.Submission, log interface {
	Warn(string, ...any)
}) {
	for i, c := range s.Cells {
		if c.Phase == executor.Done {
			continue
		}
		own, err := pipeline.ReadCellRecord(b.Workdir, b.RunID, b.Cells[i])
		if err == nil && c.Phase == executor.Cancelled && c.Error != "" {
			own.Error = c.Error + " (the cell's process: " + own.Error + ")"
			if err := pipeline.WriteCellRecord(b.Workdir, b.RunID, b.Cells[i], own); err != nil {
				log.Warn("could not record a cell's outcome", "cell", c.Key, "err", err)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		status := pipeline.RunFailed
		if c.Phase == executor.Cancelled {
			status = pipeline.RunCancelled
		}
		// Its times are the submitter's: first submitted, last seen ending.
		rec := pipeline.RunRecord{ID: b.RunID, Config: b.Config.Name, File: b.File, Status: status, Error: c.Error,
			Started: s.Started, Finished: time.Now().UTC()}
		if n := len(c.Attempts); n > 0 {
			rec.Started = c.Attempts[0].Submitted
			if !c.Attempts[n-1].Noticed.IsZero() {
				rec.Finished = c.Attempts[n-1].Noticed
			}
		}
		if rec.Started.IsZero() {
			rec.Started = rec.Finished
		}
		rec.Seconds = rec.Finished.Sub(rec.Started).Seconds()
		if err := pipeline.WriteCellRecord(b.Workdir, b.RunID, b.Cells[i], rec); err != nil {
			log.Warn("could not record a cell's outcome", "cell", c.Key, "err", err)
		}
	}
}

// runError maps a run's error to its exit code; resume is the command
// that continues an interrupted run (resumeCommand).
func runError(st *State, cfg *configs.Loaded, resume string, rec *pipeline.RunRecord, err error) error {
	if st.Ctx.Err() != nil {
		return exitWith(ExitInterrupted, interrupted(cfg, resume, rec))
	}
	var lockErr *pipeline.LockError
	if errors.As(err, &lockErr) {
		return exitWith(ExitLocked, err)
	}
	return exitWith(ExitFailed, err)
}

func newCollectCmd(st *State, g *globals) *cobra.Command {
	var sets []string
	var runID string
	cmd := &cobra.Command{
		Use:   "collect CONFIG --run-id ID [--set key=value]...",
		Short: "gather the cells of a detached executor run into its run.json",
		Long: `Gather the cells that array tasks ran into runs/ID (run.json, grid.md,
runs/latest), as the submitting command does when it waits. A run started
with --detach has a job that runs this once every cell has ended.`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{"exits": exitsCollect},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(args[0], sets)
			if err != nil {
				return err
			}
			if runID == "" {
				return usageErrorf("collect: --run-id is required")
			}
			workdir, _ := filepath.Abs(g.workdir)
			b := &executor.Batch{File: args[0], Workdir: workdir, RunID: runID, Config: cfg, Cells: cfg.Cells()}
			if s, err := executor.ReadSubmission(b.RunDir()); err == nil {
				for i := range s.Cells {
					if s.Cells[i].Phase != executor.Done && s.Cells[i].Error == "" {
						s.Cells[i].Error = "no record: the task ended without one (see runs/" + runID + "/slurm/)"
					}
				}
				writeMissingCellRecords(b, s, g.logger(st))
			}
			rec, err := pipeline.CollectRun(workdir, cfg, runID, time.Time{})
			if rec != nil {
				printSummary(st, rec, workdir)
			}
			if err != nil {
				return exitWith(ExitFailed, err)
			}
			if rec.Status != pipeline.RunOK {
				return exitWith(ExitFailed, errors.New(rec.Error))
			}
			return nil
		},
	}
	addSetFlag(cmd, &sets)
	cmd.Flags().StringVar(&runID, "run-id", "", "the run folder runs/ID the cells attached to")
	return cmd
}

// executorStates prints the cells of the latest submission of cfg that is
// not collected yet, with their states on the executor.
func executorStates(ctx context.Context, st *State, workdir string, cfg *configs.Loaded) {
	runs, err := pipeline.History(workdir)
	if err != nil {
		return
	}
	for _, run := range runs {
		if run.Config != cfg.Name {
			continue
		}
		dir := filepath.Join(workdir, "runs", run.ID)
		s, err := executor.ReadSubmission(dir)
		if err != nil || run.Status != pipeline.HistoryInterrupted {
			return // the newest run of cfg is local or collected
		}
		live := liveStates(ctx, s, workdir, cfg)
		fmt.Fprintf(st.Stdout, "run %s on %s, job(s) %s: %s\n", run.ID, s.Executor, strings.Join(s.Jobs, ","), live.Summary())
		for _, c := range live.Cells {
			fmt.Fprintf(st.Stdout, "  [%s] %-11s %-6s attempt %d %s\n", c.Key, c.Phase, c.Node, len(c.Attempts), c.Error)
		}
		return
	}
}

// liveStates asks the executor for the states of a submission's cells
// (when it can: a detached run's record is as its submitter left it).
func liveStates(ctx context.Context, s *executor.Submission, workdir string, cfg *configs.Loaded) *executor.Submission {
	ex, err := executor.New(s.Executor, &cfg.Config, nil)
	if err != nil || ex == nil {
		return s
	}
	b := &executor.Batch{Workdir: workdir, RunID: s.RunID, Config: cfg, Cells: cfg.Cells()}
	for _, job := range s.Jobs {
		ts, err := ex.States(ctx, b, job)
		if err != nil {
			continue
		}
		for _, t := range ts {
			if t.Index < len(s.Cells) && len(s.Cells[t.Index].Attempts) > 0 && s.Cells[t.Index].Attempts[len(s.Cells[t.Index].Attempts)-1].Job == job {
				c := &s.Cells[t.Index]
				c.Phase, c.Node = t.Phase, t.Node
				c.Error = t.Raw
			}
		}
	}
	return s
}

// withExecutorStates replaces the row of a run that is still on an
// executor (no run.json yet) with one row per cell and its live state
// ("slurm running n1").
func withExecutorStates(ctx context.Context, workdir string, rows []pipeline.HistoryRow) []pipeline.HistoryRow {
	var out []pipeline.HistoryRow
	for _, r := range rows {
		s, err := executor.ReadSubmission(filepath.Join(workdir, "runs", r.Run))
		if r.Status != pipeline.HistoryInterrupted || err != nil {
			out = append(out, r)
			continue
		}
		cfg := &configs.Loaded{Config: configs.Default()}
		s = liveStates(ctx, s, workdir, cfg)
		for _, c := range s.Cells {
			row := r
			row.Cell, row.Config = c.Key, s.Config
			row.Status = strings.TrimSpace(s.Executor + " " + string(c.Phase) + " " + c.Node)
			out = append(out, row)
		}
	}
	return out
}
