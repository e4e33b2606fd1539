package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// predictionsFile is evaluate's per-row output (imdb id, split, true
// labels, probabilities), read by column name.
const predictionsFile = "predictions.parquet"

type predictionRow struct {
	ImdbID        int64     `parquet:"imdb_id"`
	Split         string    `parquet:"split"`
	Label         []float32 `parquet:"label,list"`
	Probabilities []float32 `parquet:"probabilities,list"`
}

// MetricDiff is one headline metric of two runs.
type MetricDiff struct {
	Key   string   `json:"key"`
	Label string   `json:"label"`
	A     *float64 `json:"a"`
	B     *float64 `json:"b"`
	// Diff is B − A; Lo and Hi its paired-bootstrap 95% interval over the
	// shared test rows (nil when the rows differ or predictions are missing).
	Diff *float64 `json:"diff"`
	Lo   *float64 `json:"ci_low,omitempty"`
	Hi   *float64 `json:"ci_high,omitempty"`
}

// RunDiff is `pipeline diff`'s result.
type RunDiff struct {
	A       string                  `json:"a"`
	B       string                  `json:"b"`
	Config  []pipeline.ConfigChange `json:"config"`
	Metrics []MetricDiff            `json:"metrics"`
	// Intervals says why there are none ("" when there are).
	Intervals string `json:"intervals,omitempty"`
	TestRows  int    `json:"test_rows,omitempty"`
}

const diffResamples = 1000

func newDiffCmd(st *State, g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff RUN_A RUN_B [--json]",
		Short: "compare two runs: config values that differ, headline metrics with paired intervals",
		Long: `Compare two runs (run ids, unique prefixes, "latest" or run folders): the
resolved config values that differ (--set included), then each headline test
metric of both with the difference B − A and its 95% interval from a paired
bootstrap over the test rows, when both runs scored the same test rows
(evaluate's predictions.parquet).`,
		Example:     "  pipeline diff 20250101T020000Z latest",
		Args:        cobra.ExactArgs(2),
		Annotations: map[string]string{"exits": exitsDiff},
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := diffRuns(g.workdir, args[0], args[1])
			if errors.Is(err, fs.ErrNotExist) {
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

func diffRuns(workdir, refA, refB string) (*RunDiff, error) {
	dirA, err := pipeline.ResolveRun(workdir, refA)
	if err != nil {
		return nil, err
	}
	dirB, err := pipeline.ResolveRun(workdir, refB)
	if err != nil {
		return nil, err
	}
	d := &RunDiff{A: filepath.Base(dirA), B: filepath.Base(dirB)}
	if d.Config, err = pipeline.DiffConfigs(dirA, dirB); err != nil {
		return nil, err
	}
	hA, thrA, err := runHeadline(dirA)
	if err != nil {
		return nil, err
	}
	hB, thrB, err := runHeadline(dirB)
	if err != nil {
		return nil, err
	}
	var keys []string
	labels := map[string]string{}
	for _, h := range [][]stages.Metric{hA, hB} {
		for _, m := range h {
			if _, ok := labels[m.Key]; !ok {
				keys = append(keys, m.Key)
				labels[m.Key] = m.Label
			}
		}
	}
	for _, k := range keys {
		md := MetricDiff{Key: k, Label: labels[k], A: valueOf(hA, k), B: valueOf(hB, k)}
		if md.A != nil && md.B != nil {
			md.Diff = stages.Finite(*md.B - *md.A)
		}
		d.Metrics = append(d.Metrics, md)
	}
	pa, errA := readTestPredictions(dirA)
	pb, errB := readTestPredictions(dirB)
	// A missing file means no intervals; a file that is there but cannot
	// be read (truncated, not Parquet) is a broken run: say so, exit 1.
	for _, err := range []error{errA, errB} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("unreadable: %w", err)
		}
	}
	switch {
	case errA != nil || errB != nil:
		d.Intervals = "intervals need predictions.parquet in both runs' evaluate output"
	case !sameRows(pa, pb):
		d.Intervals = "no intervals: the runs scored different test rows"
	default:
		d.TestRows = len(pa)
		pairedIntervals(d.Metrics, pa, pb, thrA, thrB)
	}
	return d, nil
}

// runHeadline reads a run's headline metrics and evaluate's threshold from
// run.json (a grid run: its first cell's).
func runHeadline(dir string) ([]stages.Metric, float64, error) {
	var rec pipeline.RunRecord
	b, err := regular.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w (an interrupted run has no metrics)", filepath.Join(dir, "run.json"), err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", filepath.Join(dir, "run.json"), err)
	}
	thr := 0.5
	for _, s := range rec.Steps {
		if t, ok := s.Summary["threshold"].(float64); ok && len(s.Headline) > 0 {
			thr = t
		}
	}
	return pipeline.Headline(rec.Steps), thr, nil
}

func valueOf(h []stages.Metric, key string) *float64 {
	for _, m := range h {
		if m.Key == key {
			v := m.Value
			return &v
		}
	}
	return nil
}

// readTestPredictions reads the test rows of a run's predictions.parquet.
func readTestPredictions(runDir string) ([]predictionRow, error) {
	path := filepath.Join(runDir, stages.Evaluate, predictionsFile)
	rows, err := parquet.ReadFile[predictionRow](path)
	if err != nil {
		if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
			return nil, serr
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var test []predictionRow
	for _, r := range rows {
		if r.Split == "test" {
			test = append(test, r)
		}
	}
	return test, nil
}

// sameRows: the same posters in the same order with the same labels, so
// that resampling rows resamples the same posters in both runs.
func sameRows(a, b []predictionRow) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i].ImdbID != b[i].ImdbID || len(a[i].Label) != len(b[i].Label) {
			return false
		}
		for j := range a[i].Label {
			if a[i].Label[j] != b[i].Label[j] {
				return false
			}
		}
	}
	return true
}

// pairedIntervals fills Lo/Hi of every metric it knows: the same bootstrap
// resample of test rows weighs both runs, and the 95% percentile interval
// of B − A is kept. The metrics are internal/metrics', never recomputed here.
func pairedIntervals(ms []MetricDiff, a, b []predictionRow, thrA, thrB float64) {
	k := 1
	for _, m := range ms {
		if n, ok := topKOf(m.Key); ok {
			k = max(k, n)
		}
	}
	yA, sA := matrices(a)
	_, sB := matrices(b)
	eA := metrics.NewEvaluator(yA, sA, thrA, k)
	eB := metrics.NewEvaluator(yA, sB, thrB, k)
	diffs := make([][]float64, len(ms))
	metrics.Resamples(len(a), diffResamples, 1, func(_ int, w []float64) {
		va, vb := eA.Compute(w), eB.Compute(w)
		for i, m := range ms {
			x, okA := pick(va, m.Key)
			y, okB := pick(vb, m.Key)
			if okA && okB {
				diffs[i] = append(diffs[i], y-x)
			}
		}
	})
	for i := range ms {
		if len(diffs[i]) == 0 {
			continue
		}
		iv := metrics.PercentileInterval(diffs[i], 0.95)
		ms[i].Lo, ms[i].Hi = stages.Finite(iv.Low), stages.Finite(iv.High)
	}
}

func topKOf(key string) (int, bool) {
	if !strings.HasPrefix(key, "top") || !strings.HasSuffix(key, "_hit") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(key, "top"), "_hit"))
	return n, err == nil && n > 0
}

// pick reads a headline key from evaluated values.
func pick(v metrics.Values, key string) (float64, bool) {
	switch key {
	case "paper_accuracy":
		return v.PaperAccuracy, true
	case "macro_auc":
		return v.MacroAUC, true
	case "micro_f1":
		return v.MicroF1, true
	}
	if k, ok := topKOf(key); ok && k <= len(v.TopHit) {
		return v.TopHit[k-1], true
	}
	return math.NaN(), false
}

func matrices(rows []predictionRow) ([][]bool, [][]float64) {
	y, s := make([][]bool, len(rows)), make([][]float64, len(rows))
	for i, r := range rows {
		y[i], s[i] = make([]bool, len(r.Label)), make([]float64, len(r.Probabilities))
		for j, v := range r.Label {
			y[i][j] = v > 0.5
		}
		for j, v := range r.Probabilities {
			s[i][j] = float64(v)
		}
	}
	return y, s
}

func printDiff(st *State, d *RunDiff) {
	w := st.Stdout
	fmt.Fprintf(w, "A: %s\nB: %s\n\nconfig (resolved, --set included):\n", d.A, d.B)
	if len(d.Config) == 0 {
		fmt.Fprintln(w, "  (no differences)")
	}
	for _, c := range d.Config {
		fmt.Fprintf(w, "  %-40s %s → %s\n", c.Key, orDash(c.A), orDash(c.B))
	}
	fmt.Fprintf(w, "\ntest metrics:\n  %-20s %8s %8s %8s  %s\n", "metric", "A", "B", "B − A", "95% interval (paired)")
	for _, m := range d.Metrics {
		iv := "-"
		if m.Lo != nil && m.Hi != nil {
			iv = fmt.Sprintf("[%+.3f, %+.3f]", *m.Lo, *m.Hi)
		}
		fmt.Fprintf(w, "  %-20s %8s %8s %8s  %s\n", m.Label, num3(m.A), num3(m.B), signed3(m.Diff), iv)
	}
	if d.Intervals != "" {
		fmt.Fprintf(w, "\n%s\n", d.Intervals)
	} else {
		fmt.Fprintf(w, "\nintervals: paired bootstrap over the same %d test rows, %d resamples\n", d.TestRows, diffResamples)
	}
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
