package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/evaluate/compare"
	"github.com/postergenre/postergenre/internal/texttable"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// RunDiff is `pipeline diff`'s result.
type RunDiff struct {
	A       string                  `json:"a"`
	B       string                  `json:"b"`
	Config  []pipeline.ConfigChange `json:"config"`
	Metrics []compare.MetricDiff    `json:"metrics"`
	Genres  []compare.GenreDiff     `json:"genres,omitempty"`
	// Intervals says why there are none ("" when there are).
	Intervals string `json:"intervals,omitempty"`
	TestRows  int    `json:"test_rows,omitempty"`
}

func newDiffCmd(st *State, g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff RUN_A RUN_B [--json]",
		Short: "compare two runs: config values that differ, headline metrics with paired intervals",
		Long: `Compare two runs or grid cells (run ids, unique prefixes, "latest", tags, run
folders; RUN/CELL for a grid cell): the resolved config values that differ
(--set included), then each headline test metric of both with the
difference B − A and its 95% interval from a paired bootstrap over the test
rows, when both scored the same test rows (evaluate's predictions.parquet);
otherwise it says how the rows differ. A grid run needs its cell named.`,
		Example:     "  pipeline diff 20250101T020000Z latest\n  pipeline diff RUN/paper-grid-s40-lr0.001 RUN/paper-grid-s40-lr0.0001",
		Args:        cobra.ExactArgs(2),
		Annotations: map[string]string{"exits": exitsDiff},
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := diffRuns(g.workdir, args[0], args[1])
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errGridCell) {
				return exitWith(ExitUsage, err)
			}
			if err != nil {
				return exitWith(ExitFailed, err)
			}
			if asJSON {
				return json.NewEncoder(st.Stdout).Encode(d)
			}
			printDiff(st, d)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// errGridCell marks a grid run named without its cell (a usage error).
var errGridCell = errors.New("grid run without a cell")

// resolveRef resolves a run or cell name for diff and compare.
func resolveRef(workdir, ref string) (pipeline.RunRef, error) {
	r, err := pipeline.ResolveRunRef(workdir, ref)
	if err != nil && r.Dir != "" && !errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("%w: %w", errGridCell, err)
	}
	return r, err
}

// runSide is what diff and compare read of one run or cell.
type runSide struct {
	ref       pipeline.RunRef
	headline  []stages.Metric
	threshold float64
	preds     compare.Predictions
	predsErr  error // fs.ErrNotExist: none; compare.ErrUnreadable: damaged
}

func readSide(workdir, ref string) (runSide, error) {
	r, err := resolveRef(workdir, ref)
	if err != nil {
		return runSide{}, err
	}
	s := runSide{ref: r, threshold: 0.5}
	if r.Record.Status == pipeline.HistoryInterrupted {
		return s, fmt.Errorf("%s: an interrupted run has no metrics (no run.json): %w", r.Name(), fs.ErrNotExist)
	}
	for _, st := range r.Steps() {
		if t, ok := st.Summary["threshold"].(float64); ok && len(st.Headline) > 0 {
			s.threshold = t
		}
	}
	s.headline = pipeline.Headline(r.Steps())
	dir, err := r.StageDir(workdir, stages.Evaluate)
	if err != nil {
		s.predsErr = err
		return s, nil
	}
	s.preds, s.predsErr = compare.ReadTestPredictions(dir)
	if errors.Is(s.predsErr, compare.ErrUnreadable) {
		return s, s.predsErr
	}
	return s, nil
}

func diffRuns(workdir, refA, refB string) (*RunDiff, error) {
	a, err := readSide(workdir, refA)
	if err != nil {
		return nil, err
	}
	b, err := readSide(workdir, refB)
	if err != nil {
		return nil, err
	}
	d := &RunDiff{A: a.ref.Name(), B: b.ref.Name()}
	if d.Config, err = pipeline.DiffRefs(a.ref, b.ref); err != nil {
		return nil, err
	}
	d.Metrics = compare.Headlines(a.headline, b.headline)
	switch {
	case a.predsErr != nil || b.predsErr != nil:
		d.Intervals = "no intervals: intervals need predictions.parquet in both runs' evaluate output"
	case compare.RowsDiffer(a.preds.Rows, b.preds.Rows) != "":
		d.Intervals = compare.RowsDiffer(a.preds.Rows, b.preds.Rows)
	default:
		d.TestRows = len(a.preds.Rows)
		d.Genres = compare.Paired(d.Metrics, a.preds.Genres, a.preds.Rows, b.preds.Rows, a.threshold, b.threshold, compare.Resamples)
	}
	return d, nil
}

func printDiff(st *State, d *RunDiff) {
	w := st.Stdout
	fmt.Fprintf(w, "A: %s\nB: %s\n\nconfig (resolved, --set included):\n", d.A, d.B)
	if len(d.Config) == 0 {
		fmt.Fprintln(w, "  (no differences)")
	}
	var rows [][]string
	for _, c := range d.Config {
		rows = append(rows, []string{"  " + c.Key, orDash(c.A), "→", orDash(c.B)})
	}
	if len(rows) > 0 {
		fmt.Fprint(w, texttable.Render([]texttable.Column{{Name: "  key"}, {Name: "A", Min: 12}, {Name: ""}, {Name: "B", Min: 12}}, rows, st.width(0)))
	}
	fmt.Fprintln(w, "\ntest metrics:")
	rows = nil
	for _, m := range d.Metrics {
		rows = append(rows, metricRow("  "+m.Label, m))
	}
	for _, g := range d.Genres {
		rows = append(rows, metricRow("  "+g.AUC.Label, g.AUC))
	}
	cols := []texttable.Column{{Name: "  metric", Min: 16}, {Name: "A"}, {Name: "B"}, {Name: "B − A"}, {Name: "95% interval (paired)"}}
	fmt.Fprint(w, texttable.Render(cols, rows, st.width(0)))
	if d.Intervals != "" {
		fmt.Fprintf(w, "\n%s\n", d.Intervals)
	} else {
		fmt.Fprintf(w, "\nintervals: paired bootstrap over the same %d test rows, %d resamples\n", d.TestRows, compare.Resamples)
	}
}

func metricRow(label string, m compare.MetricDiff) []string {
	iv := "-"
	if m.Lo != nil && m.Hi != nil {
		iv = fmt.Sprintf("[%+.3f, %+.3f]", *m.Lo, *m.Hi)
	}
	return []string{label, num3(m.A), num3(m.B), signed3(m.Diff), iv}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func num3(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *p)
}

func signed3(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%+.3f", *p)
}
