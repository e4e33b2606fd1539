package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/pipeline"
)

const exitsTag = "  0 ok · 1 the tags file could not be read or written · 2 usage error, no such run, cell or tag · 3 a run holds the lock"

func newTagCmd(st *State, g *globals) *cobra.Command {
	var del, list bool
	cmd := &cobra.Command{
		Use:   "tag RUN[/CELL] NAME | tag --delete NAME | tag --list",
		Short: "name a run or grid cell (e.g. champion): predict/serve --model NAME use its model",
		Long: `Name a run or a grid cell, like an MLflow model alias: predict --model NAME,
serve --model NAME, diff and compare accept the name wherever they take a
run, the model card shows it, and gc never removes a tagged run. Tagging
an existing name moves it. Tags live in <workdir>/tags.json.`,
		Example:     "  pipeline tag latest champion\n  pipeline tag 20250101T020000Z/paper-grid-s40-lr0.0001 best-grid\n  pipeline serve --model champion",
		Args:        cobra.RangeArgs(0, 2),
		Annotations: map[string]string{"exits": exitsTag},
		RunE: func(cmd *cobra.Command, args []string) error {
			err := runTag(st, g, args, del, list)
			var lockErr *pipeline.LockError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &lockErr):
				return exitWith(ExitLocked, err)
			case errors.Is(err, fs.ErrNotExist):
				return exitWith(ExitUsage, err)
			}
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			return exitWith(ExitFailed, err)
		},
	}
	cmd.Flags().BoolVar(&del, "delete", false, "remove the tag NAME")
	cmd.Flags().BoolVar(&list, "list", false, "list the tags")
	return cmd
}

func runTag(st *State, g *globals, args []string, del, list bool) error {
	switch {
	case list && len(args) == 0:
		tags, err := pipeline.ReadTags(g.workdir)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(tags))
		for n := range tags {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t := tags[n]
			target := t.Run
			if t.Cell != "" {
				target += " cell " + t.Cell
			}
			fmt.Fprintf(st.Stdout, "%-20s %s\n", n, target)
		}
		return nil
	case del && len(args) == 1:
		if err := pipeline.DeleteTag(g.workdir, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(st.Stdout, "deleted tag %s\n", args[0])
		return nil
	case !del && !list && len(args) == 2:
		r, err := pipeline.SetTag(g.workdir, args[0], args[1])
		if errors.Is(err, pipeline.ErrRunRef) {
			return exitWith(ExitUsage, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(st.Stdout, "tag %s -> %s\n", args[1], r.Name())
		return nil
	}
	return usageErrorf("tag: give RUN[/CELL] NAME, --delete NAME or --list")
}
