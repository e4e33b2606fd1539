package cli

import (
	"errors"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/pipeline"
)

func newHistoryCmd(st *State, g *globals) *cobra.Command {
	var asJSON bool
	var width int
	cmd := &cobra.Command{
		Use:   "history [--json]",
		Short: "past runs, one row per grid cell: status, what changed, commit, key metrics",
		Long: `Past runs of the working folder, newest first, one row per grid cell: the
status ("nothing ran" when every stage was up to date, "interrupted" for a
run folder without run.json: the run was killed; for a run whose cells
are still on an executor, one row per cell with its state there, e.g.
"slurm running n1"), the config values that
changed since the previous run of the same config, the commit and the
headline test metrics with the baseline in brackets.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"exits": exitsHistory},
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := pipeline.History(g.workdir)
			if runs == nil && errors.Is(err, fs.ErrNotExist) {
				return exitWith(ExitUsage, err)
			}
			if runs == nil && err != nil {
				return exitWith(ExitFailed, err)
			}
			// Damaged run records are rows flagged "unreadable"; the
			// others still show, and the exit is 1 naming each file.
			rows := withExecutorStates(st.Ctx, g.workdir, pipeline.HistoryRows(g.workdir, runs))
			if asJSON {
				if perr := pipeline.PrintHistoryJSON(st.Stdout, rows); perr != nil {
					return perr
				}
			} else {
				pipeline.PrintHistory(st.Stdout, rows, st.width(width))
			}
			if err != nil {
				return exitWith(ExitFailed, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per row")
	addWidthFlag(cmd, &width)
	return cmd
}
