package pipeline

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ExpRow is one row of `pipeline exp`: a run, or one cell of a grid run,
// with its resolved config values and headline test metrics.
type ExpRow struct {
	Run     string    `json:"run"`
	Cell    string    `json:"cell,omitempty"` // the cell's folder name (RUN/CELL names it)
	Config  string    `json:"config"`
	Status  string    `json:"status"`
	Started time.Time `json:"started"`
	Tags    []string  `json:"tags,omitempty"`
	// Params are the resolved config values, dotted keys (train.epochs).
	Params      map[string]string  `json:"params"`
	Metrics     map[string]float64 `json:"metrics"`
	metricOrder []string           // the headline's order, primary first
}

// ExpRows reads the runs of a working folder as experiment rows, newest
// first: only experiments (runs that trained or evaluated something)
// unless all.
func ExpRows(workdir string, all bool) ([]ExpRow, error) {
	runs, err := History(workdir)
	if err != nil {
		return nil, err
	}
	tags, err := ReadTags(workdir)
	if err != nil {
		return nil, err
	}
	l := layout{root: workdir}
	var out []ExpRow
	for _, r := range runs {
		if !all && !Experiment(r) {
			continue
		}
		flat, _ := flattenConfigFile(filepath.Join(l.run(r.ID), "config.yaml"))
		for _, cell := range cellsOf(r.Steps) {
			row := ExpRow{Run: r.ID, Config: r.Config, Status: r.Status, Started: r.Started,
				Tags: TagsOf(tags, r.ID, cell), Params: cellParams(flat, cell), Metrics: map[string]float64{}}
			if cell != "" {
				row.Cell = cellFolder(r.Config, cell)
				row.Config = row.Cell
			}
			steps := stepsOf(r.Steps, cell)
			if row.Status == RunOK && count(steps, StatusRan) == 0 {
				row.Status = HistoryNothingRan
			}
			for _, m := range Headline(steps) {
				row.Metrics[m.Key] = m.Value
				row.metricOrder = append(row.metricOrder, m.Key)
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// cellParams is a run's flat config with a grid cell's values applied.
func cellParams(flat map[string]string, cell string) map[string]string {
	out := map[string]string{}
	for k, v := range flat {
		if !strings.HasPrefix(k, "grid.") {
			out[k] = v
		}
	}
	if shrink, lr, ok := strings.Cut(cell, "/"); ok {
		out["encode.image.shrink_percent"] = shrink
		out["train.optimizer.learning_rate"] = lr
	}
	return out
}

// VaryingParams lists the config keys whose values differ among rows,
// sorted, leaving out what does not change results (name, description,
// extends; a demo's loopback CSV address).
func VaryingParams(rows []ExpRow) []string {
	seen := map[string]bool{}
	for i := 1; i < len(rows); i++ {
		for _, c := range diffFlat(rows[0].Params, rows[i].Params) {
			seen[c.Key] = true
		}
	}
	var keys []string
	for k := range seen {
		switch k {
		case "name", "description", "extends":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MetricKeys lists the metric keys of the rows in first-seen order.
func MetricKeys(rows []ExpRow) []string {
	var keys []string
	seen := map[string]bool{}
	for _, r := range rows {
		for _, k := range r.metricOrder {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// Value is a row's value for a column key: a metric, a param, or one of
// run, cell, config, status, started.
func (r ExpRow) Value(key string) (string, bool) {
	switch key {
	case "run":
		return r.Run, true
	case "cell":
		return r.Cell, true
	case "config":
		return r.Config, true
	case "status":
		return r.Status, true
	case "started":
		return r.Started.Format(time.RFC3339), true
	}
	if v, ok := r.Metrics[key]; ok {
		return strconv.FormatFloat(v, 'f', 4, 64), true
	}
	v, ok := r.Params[key]
	return v, ok
}
