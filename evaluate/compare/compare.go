// Package compare holds the statistics of comparing two or more runs on the
// same test rows: each headline metric's difference B − A and, per genre,
// the ROC-AUC and average-precision differences, each with a 95% interval
// from a paired bootstrap (the same resample of test rows weighs both
// runs). `pipeline diff` prints them; `pipeline compare` draws them. The
// metrics are internal/metrics', never recomputed here.
package compare

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

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/stages"
)

// Resamples is the paired bootstrap's number of resamples.
const Resamples = 1000

// ErrUnreadable marks a predictions file that exists but cannot be read
// (truncated, not Parquet): an error, unlike a missing one.
var ErrUnreadable = errors.New("unreadable predictions")

// Predictions are one run's scored test rows.
type Predictions struct {
	Genres []string
	Rows   []evaluate.PredictionRow
}

// ReadTestPredictions reads the test rows of evaluate's
// predictions.parquet in an evaluate output (or a run folder's copy). A
// missing file is fs.ErrNotExist; a damaged one ErrUnreadable.
func ReadTestPredictions(evalDir string) (Predictions, error) {
	path := filepath.Join(evalDir, evaluate.PredictionsFile)
	if _, err := os.Stat(path); err != nil {
		return Predictions{}, err
	}
	f, err := regular.Open(path) // a regular file: a FIFO is an error, never a hang
	if err != nil {
		return Predictions{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Predictions{}, err
	}
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		return Predictions{}, fmt.Errorf("%s: %w: %w", path, ErrUnreadable, err)
	}
	var p Predictions
	if g, ok := pf.Lookup(encode.MetaGenres); ok {
		if err := json.Unmarshal([]byte(g), &p.Genres); err != nil {
			return p, fmt.Errorf("%s: genres metadata: %w: %w", path, ErrUnreadable, err)
		}
	}
	rows, err := parquet.Read[evaluate.PredictionRow](f, fi.Size())
	if err != nil {
		return p, fmt.Errorf("%s: %w: %w", path, ErrUnreadable, err)
	}
	for _, r := range rows {
		if r.Split == encode.SplitTest {
			p.Rows = append(p.Rows, r)
		}
	}
	return p, nil
}

// SameRows: the same posters in the same order with the same labels, so
// that resampling rows resamples the same posters in every run.
func SameRows(a, b []evaluate.PredictionRow) bool {
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

// RowsDiffer says how two runs' test rows differ ("" when they are the same).
func RowsDiffer(a, b []evaluate.PredictionRow) string {
	if SameRows(a, b) {
		return ""
	}
	ids := map[int64]bool{}
	for _, r := range a {
		ids[r.ImdbID] = true
	}
	shared := 0
	for _, r := range b {
		if ids[r.ImdbID] {
			shared++
		}
	}
	return fmt.Sprintf("the runs scored different test rows (A %d, B %d, %d posters in both): no paired intervals", len(a), len(b), shared)
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

// Headlines pairs two runs' headline metrics by key, in first-seen order.
func Headlines(hA, hB []stages.Metric) []MetricDiff {
	var out []MetricDiff
	seen := map[string]bool{}
	for _, h := range [][]stages.Metric{hA, hB} {
		for _, m := range h {
			if seen[m.Key] {
				continue
			}
			seen[m.Key] = true
			md := MetricDiff{Key: m.Key, Label: m.Label, A: valueOf(hA, m.Key), B: valueOf(hB, m.Key)}
			if md.A != nil && md.B != nil {
				md.Diff = stages.Finite(*md.B - *md.A)
			}
			out = append(out, md)
		}
	}
	return out
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

// GenreDiff is one genre's ROC-AUC and average precision in two runs.
type GenreDiff struct {
	Genre string     `json:"genre"`
	AUC   MetricDiff `json:"auc"`
	AP    MetricDiff `json:"ap"`
}

// Paired fills the intervals of the headline diffs it knows and returns
// the per-genre diffs, all from one paired bootstrap: each resample of
// test rows weighs both runs. a and b must hold the same rows (SameRows).
func Paired(ms []MetricDiff, genres []string, a, b []evaluate.PredictionRow, thrA, thrB float64, resamples int) []GenreDiff {
	k := 1
	for _, m := range ms {
		if n, ok := topKOf(m.Key); ok {
			k = max(k, n)
		}
	}
	y, sA := Matrices(a)
	_, sB := Matrices(b)
	eA := metrics.NewEvaluator(y, sA, thrA, k)
	eB := metrics.NewEvaluator(y, sB, thrB, k)
	diffs := make([][]float64, len(ms))
	g := len(genres)
	aucD, apD := make([][]float64, g), make([][]float64, g)
	metrics.Resamples(len(a), resamples, 1, func(_ int, w []float64) {
		va, vb := eA.Compute(w), eB.Compute(w)
		for i, m := range ms {
			x, okA := pick(va, m.Key)
			y, okB := pick(vb, m.Key)
			if okA && okB && !math.IsNaN(y-x) {
				diffs[i] = append(diffs[i], y-x)
			}
		}
		for j := 0; j < g && j < len(va.AUC) && j < len(vb.AUC); j++ {
			if d := vb.AUC[j] - va.AUC[j]; !math.IsNaN(d) {
				aucD[j] = append(aucD[j], d)
			}
			if d := vb.AP[j] - va.AP[j]; !math.IsNaN(d) {
				apD[j] = append(apD[j], d)
			}
		}
	})
	for i := range ms {
		ms[i].Lo, ms[i].Hi = interval(diffs[i])
	}
	full := make([]float64, len(a))
	for i := range full {
		full[i] = 1
	}
	va, vb := eA.Compute(full), eB.Compute(full)
	out := make([]GenreDiff, g)
	for j, name := range genres {
		out[j] = GenreDiff{Genre: name,
			AUC: pointDiff("auc_"+name, name+" ROC-AUC", at(va.AUC, j), at(vb.AUC, j), aucD[j]),
			AP:  pointDiff("ap_"+name, name+" average precision", at(va.AP, j), at(vb.AP, j), apD[j])}
	}
	return out
}

func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return math.NaN()
}

func pointDiff(key, label string, a, b float64, diffs []float64) MetricDiff {
	m := MetricDiff{Key: key, Label: label, A: stages.Finite(a), B: stages.Finite(b), Diff: stages.Finite(b - a)}
	m.Lo, m.Hi = interval(diffs)
	return m
}

func interval(diffs []float64) (lo, hi *float64) {
	if len(diffs) == 0 {
		return nil, nil
	}
	iv := metrics.PercentileInterval(diffs, 0.95)
	return stages.Finite(iv.Low), stages.Finite(iv.High)
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

// Matrices turns prediction rows into truth and score matrices.
func Matrices(rows []evaluate.PredictionRow) ([][]bool, [][]float64) {
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

// IsMissing reports an error that means "no predictions" (not "damaged").
func IsMissing(err error) bool { return errors.Is(err, fs.ErrNotExist) }
