package cli

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/pipeline"
)

const exitsGC = "  0 ok · 1 a run folder could not be removed · 2 usage error or no such working folder · 3 another gc holds its lock"

func newGCCmd(st *State, g *globals) *cobra.Command {
	var keep int
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc --keep N [--dry-run]",
		Short: "remove run folders beyond the newest N (never runs/latest; stage outputs stay)",
		Long: `Remove the run folders of the working folder beyond the newest N. The run
runs/latest points at is always kept. Stage outputs (the cache) are not
touched; a removed run folder's files stay wherever a stage output or a
kept run still uses them. history and diff then show only the kept runs.
gc never removes a run in progress: while any run holds a run lock it keeps
every run folder without run.json.`,
		Example:     "  pipeline gc --keep 30\n  pipeline gc --keep 5 --dry-run",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"exits": exitsGC},
		RunE: func(cmd *cobra.Command, args []string) error {
			if keep < 1 {
				return usageErrorf("--keep must be >= 1, got %d", keep)
			}
			removed, err := pipeline.GC(g.workdir, keep, dryRun)
			var lockErr *pipeline.LockError
			switch {
			case errors.As(err, &lockErr):
				return exitWith(ExitLocked, err)
			case errors.Is(err, fs.ErrNotExist):
				return exitWith(ExitUsage, err)
			case err != nil:
				return exitWith(ExitFailed, err)
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, id := range removed {
				fmt.Fprintf(st.Stdout, "%s %s\n", verb, id)
			}
			fmt.Fprintf(st.Stdout, "%s %d run folder(s), kept the newest %d\n", verb, len(removed), keep)
			return nil
		},
	}
	cmd.Flags().IntVar(&keep, "keep", 0, "run folders to keep, newest first (required, >= 1)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed; remove nothing")
	cmd.MarkFlagRequired("keep")
	return cmd
}
