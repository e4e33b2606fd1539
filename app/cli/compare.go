package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/evaluate/compare"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/pipeline"
)

const exitsCompare = "  0 ok · 1 a run could not be read or the page not written · 2 usage error or no such run"

func newCompareCmd(st *State, g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "compare RUN RUN... [--out FILE]",
		Short: "one HTML page comparing runs: overlaid ROC/PR curves per genre, metric deltas with paired intervals, config differences",
		Long: `Write one self-contained HTML page (no external files) comparing two or more
runs or grid cells (ids, prefixes, latest, tags, RUN/CELL): the headline
test metrics of each with its difference to the first run and a 95%
interval from a paired bootstrap over the test rows; per genre the runs'
ROC and precision-recall curves overlaid, with ROC-AUC and average
precision deltas and their intervals; and the config values that differ.
Intervals need the runs to have scored the same test rows; the page says
so when they did not. The page reads on a phone (one column at 390 px).`,
		Example:     "  pipeline compare RUN_A latest --out compare.html\n  pipeline compare champion latest",
		Args:        cobra.MinimumNArgs(2),
		Annotations: map[string]string{"exits": exitsCompare},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdCompare(st, g, args, out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "compare.html", "the page to write")
	return cmd
}

func cmdCompare(st *State, g *globals, refs []string, out string) error {
	var runs []compare.Run
	var sides []runSide
	for _, ref := range refs {
		s, err := readSide(g.workdir, ref)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errGridCell) {
			return exitWith(ExitUsage, err)
		}
		if err != nil {
			return exitWith(ExitFailed, err)
		}
		r := compare.Run{Name: s.ref.Name(), Config: s.ref.Record.Config, Headline: s.headline, Threshold: s.threshold, Preds: s.preds}
		if s.predsErr != nil {
			r.PredsNote = "no predictions.parquet: no curves"
		}
		runs, sides = append(runs, r), append(sides, s)
	}
	params, err := paramRows(sides)
	if err != nil {
		return exitWith(ExitFailed, err)
	}
	page, err := compare.Page(runs, params, time.Now())
	if err != nil {
		return exitWith(ExitFailed, err)
	}
	if err := atomicfile.WriteFile(out, page, 0o644); err != nil {
		return exitWith(ExitFailed, fmt.Errorf("compare: %w", err))
	}
	abs, _ := filepath.Abs(out)
	fmt.Fprintf(st.Stdout, "wrote %s (%d runs; open it in a browser)\n", abs, len(runs))
	return nil
}

// paramRows lists the config keys whose values differ among the runs.
func paramRows(sides []runSide) ([]compare.ParamRow, error) {
	keys := map[string]bool{}
	for i := 1; i < len(sides); i++ {
		d, err := pipeline.DiffRefs(sides[0].ref, sides[i].ref)
		if err != nil {
			return nil, err
		}
		for _, c := range d {
			keys[c.Key] = true
		}
	}
	flats := make([]map[string]string, len(sides))
	for i, s := range sides {
		f, err := pipeline.RefParams(s.ref)
		if err != nil {
			return nil, err
		}
		flats[i] = f
	}
	var rows []compare.ParamRow
	for k := range keys {
		row := compare.ParamRow{Key: k}
		for _, f := range flats {
			row.Values = append(row.Values, orDash(f[k]))
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	return rows, nil
}
