package cli

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/pipeline"
)

const exitsGC = "  0 ok · 1 a folder could not be removed · 2 usage error or no such working folder · 3 another gc holds its lock"

func newGCCmd(st *State, g *globals) *cobra.Command {
	var o pipeline.GCOptions
	cmd := &cobra.Command{
		Use:   "gc --keep N [--outputs] [--dry-run]",
		Short: "remove run folders beyond the newest N experiments (never runs/latest or a tagged run)",
		Long: `Remove the run folders of the working folder beyond the newest N experiments
(runs that trained or evaluated something). Runs newer than the N-th
experiment stay (recent failures and "nothing ran" records), and so do the
run runs/latest points at and every tagged run (pipeline tag). An
interrupted attempt (stages/<stage>/.interrupted-*) whose output has
completed since is removed too.

--outputs also removes, like dvc gc -w, every stage output that no kept run
used and no config's state points at (what its next run reuses), and every
interrupted attempt. A removed folder's files stay wherever a kept run
still links them. --dry-run lists what would go, with sizes. gc never
removes a run in progress: while any run holds a run lock it keeps every
run folder without run.json (and it never removes a run whose run.json
cannot be read).`,
		Example:     "  pipeline gc --keep 30\n  pipeline gc --keep 5 --outputs --dry-run",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"exits": exitsGC},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Keep < 0 {
				return usageErrorf("--keep must be >= 0, got %d", o.Keep)
			}
			items, err := pipeline.GC(g.workdir, o)
			var lockErr *pipeline.LockError
			switch {
			case errors.As(err, &lockErr):
				return exitWith(ExitLocked, err)
			case errors.Is(err, fs.ErrNotExist):
				return exitWith(ExitUsage, err)
			case err != nil:
				return exitWith(ExitFailed, err)
			}
			printGC(st, items, o)
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Keep, "keep", 0, "experiments to keep, newest first (required, >= 0)")
	cmd.Flags().BoolVar(&o.Outputs, "outputs", false, "also remove stage outputs no kept run or config state uses")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be removed, with sizes; remove nothing")
	cmd.MarkFlagRequired("keep")
	return cmd
}

func printGC(st *State, items []pipeline.GCItem, o pipeline.GCOptions) {
	verb := "removed"
	if o.DryRun {
		verb = "would remove"
	}
	var total int64
	runs := 0
	for _, it := range items {
		fmt.Fprintf(st.Stdout, "%s %-60s %9s  %s\n", verb, it.Path, byteSize(it.Bytes), it.Why)
		total += it.Bytes
		if it.Kind == "run" {
			runs++
		}
	}
	fmt.Fprintf(st.Stdout, "%s %d run folder(s) and %d output(s), %s; kept the newest %d experiment(s), runs/latest and tagged runs\n",
		verb, runs, len(items)-runs, byteSize(total), o.Keep)
}

// byteSize formats a size for people: 1.1 MB.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
