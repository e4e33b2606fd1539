package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/postergenre/postergenre/internal/texttable"
	"github.com/postergenre/postergenre/stages"
)

// Statuses history adds to a run's own (ok, failed, cancelled).
const (
	// HistoryInterrupted is a run folder without run.json: the run was
	// killed (or is still going).
	HistoryInterrupted = "interrupted"
	// HistoryNothingRan is a run that succeeded with every stage up to date.
	HistoryNothingRan = "nothing ran"
	// HistoryUnreadable is a run whose run.json cannot be read (damaged):
	// its row is shown, flagged, with the error.
	HistoryUnreadable = "unreadable"
)

// HistoryRow is one row of `pipeline history`: a run, or one cell of a
// grid run.
type HistoryRow struct {
	Run     string    `json:"run"`
	Cell    string    `json:"cell,omitempty"`
	Config  string    `json:"config"`
	Status  string    `json:"status"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Ran     int       `json:"ran"`
	Cached  int       `json:"up_to_date"`
	Commit  string    `json:"commit,omitempty"`
	// Changed lists the resolved config values (key=value) that differ
	// from the previous run of the same config; nil for its first run.
	Changed  []string        `json:"changed"`
	Headline []stages.Metric `json:"headline,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// History reads every run folder of the working folder, newest first. A
// working folder that does not exist is an error (a mistyped --workdir);
// one without runs yet is not. A run.json that cannot be read does not
// hide the others: its run is listed with status HistoryUnreadable and
// the error, and History returns every such error too (with the runs).
func History(workdir string) ([]RunRecord, error) {
	if fi, err := os.Stat(workdir); err != nil {
		return nil, fmt.Errorf("working folder %s: %w", workdir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("working folder %s: not a folder", workdir)
	}
	runs, bad, err := readRuns(layout{root: workdir})
	if err != nil {
		return nil, err
	}
	return runs, errors.Join(bad...)
}

// unreadableRun stands for a run whose run.json is damaged: its id, its
// start from the id, and the error.
func unreadableRun(id string, err error) RunRecord {
	rec := RunRecord{ID: id, Status: HistoryUnreadable, Error: CapText(err.Error())}
	if t, err := time.Parse("20060102T150405Z", strings.SplitN(id, "-", 2)[0]); err == nil {
		rec.Started = t
	}
	return rec
}

// readRun reads runs/<id>/run.json; a folder without one is an
// interrupted run, named from its resolved config.yaml.
func readRun(dir string) (RunRecord, error) {
	var rec RunRecord
	err := readJSON(filepath.Join(dir, RunFile), &rec)
	if err == nil {
		return rec, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return rec, fmt.Errorf("%s: %w", filepath.Join(dir, RunFile), err)
	}
	rec = RunRecord{ID: filepath.Base(dir), Status: HistoryInterrupted}
	if t, err := time.Parse("20060102T150405Z", strings.SplitN(rec.ID, "-", 2)[0]); err == nil {
		rec.Started = t
	}
	if flat, err := flattenConfigFile(filepath.Join(dir, "config.yaml")); err == nil {
		rec.Config = flat["name"]
	}
	return rec, nil
}

// HistoryRows turns runs (newest first, as History returns them) into
// rows, one per grid cell, each with what changed since the previous run
// of the same config.
func HistoryRows(workdir string, runs []RunRecord) []HistoryRow {
	l := layout{root: workdir}
	configs := make([]map[string]string, len(runs))
	for i, r := range runs {
		configs[i], _ = flattenConfigFile(filepath.Join(l.run(r.ID), "config.yaml"))
	}
	var out []HistoryRow
	for i, r := range runs {
		var changed []string
		for j := i + 1; j < len(runs); j++ { // the previous run of the same config
			if runs[j].Config == r.Config && configs[j] != nil && configs[i] != nil {
				changed = []string{}
				for _, c := range diffFlat(configs[j], configs[i]) {
					changed = append(changed, c.Key+"="+c.B)
				}
				break
			}
		}
		cells := cellsOf(r.Steps)
		for _, cell := range cells {
			steps := stepsOf(r.Steps, cell)
			row := HistoryRow{Run: r.ID, Cell: cell, Config: r.Config, Status: r.Status, Started: r.Started,
				Seconds: r.Seconds, Ran: count(steps, StatusRan), Cached: count(steps, StatusUpToDate),
				Commit: r.Commit, Changed: changed, Headline: Headline(steps), Error: r.Error}
			if row.Status == RunOK && row.Ran == 0 {
				row.Status = HistoryNothingRan
			}
			out = append(out, row)
		}
	}
	return out
}

// cellsOf lists a run's grid cells in order ("" for a run without a grid).
func cellsOf(steps []Step) []string {
	cells := []string{}
	for _, s := range steps {
		if !slices.Contains(cells, s.Cell) {
			cells = append(cells, s.Cell)
		}
	}
	if len(cells) == 0 {
		cells = append(cells, "")
	}
	return cells
}

func stepsOf(steps []Step, cell string) []Step {
	var out []Step
	for _, s := range steps {
		if s.Cell == cell {
			out = append(out, s)
		}
	}
	return out
}

// PrintHistoryJSON writes one JSON object per row.
func PrintHistoryJSON(w io.Writer, rows []HistoryRow) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// PrintHistory writes rows with their headline metrics side by side: one
// column per metric key found in any row (e.g. TOP3_HIT and TOP5_HIT when
// top_k changed between runs), "-" where a row lacks it; what changed
// since the previous run of the config comes last. With width > 0 every
// line fits in it: the widest columns are cut with "…", never wrapped.
func PrintHistory(w io.Writer, rows []HistoryRow, width int) {
	var keys []string
	cells := false
	for _, r := range rows {
		cells = cells || r.Cell != ""
		for _, m := range r.Headline {
			if !slices.Contains(keys, m.Key) {
				keys = append(keys, m.Key)
			}
		}
	}
	// Cut first: CHANGED, CONFIG; left out first when still too wide:
	// CHANGED, the later metrics, COMMIT, SEC. RUN (what diff takes),
	// STATUS and the primary metric always show.
	header := []texttable.Column{{Name: "RUN"}}
	if cells {
		header = append(header, texttable.Column{Name: "CELL", Min: 8})
	}
	header = append(header, texttable.Column{Name: "CONFIG", Min: 8}, texttable.Column{Name: "STATUS"},
		texttable.Column{Name: "SEC", Drop: 1}, texttable.Column{Name: "RAN", Drop: 2}, texttable.Column{Name: "COMMIT", Drop: 3})
	for i, k := range keys {
		drop := 0
		if i > 0 {
			drop = 3 + i
		}
		header = append(header, texttable.Column{Name: strings.ToUpper(k) + "(base)", Min: 13, Drop: drop})
	}
	header = append(header, texttable.Column{Name: "CHANGED", Min: 12, Drop: 100})
	var table [][]string
	for _, r := range rows {
		line := []string{r.Run}
		if cells {
			line = append(line, orDash(r.Cell))
		}
		line = append(line, r.Config, r.Status, fmt.Sprintf("%.1f", r.Seconds), fmt.Sprintf("%d/%d", r.Ran, r.Ran+r.Cached), orDash(firstN(r.Commit, 9)))
		byKey := map[string]stages.Metric{}
		for _, m := range r.Headline {
			byKey[m.Key] = m
		}
		for _, k := range keys {
			c := "-"
			if m, ok := byKey[k]; ok {
				c = fmt.Sprintf("%.3f", m.Value)
				if m.Baseline != nil {
					c += fmt.Sprintf(" (%.3f)", *m.Baseline)
				}
			}
			line = append(line, c)
		}
		changed := "(first run)"
		if r.Changed != nil {
			changed = strings.Join(r.Changed, " ")
			if changed == "" {
				changed = "(same config)"
			}
		}
		table = append(table, append(line, changed))
	}
	io.WriteString(w, texttable.Render(header, table, width))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
