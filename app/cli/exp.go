package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/internal/texttable"
	"github.com/postergenre/postergenre/pipeline"
)

const exitsExp = "  0 ok · 1 a run record could not be read · 2 usage error or no such working folder"

// expFlags are exp's flags.
type expFlags struct {
	params, metrics, sort string
	where                 []string
	all, json, csv        bool
	width                 int
}

func newExpCmd(st *State, g *globals) *cobra.Command {
	var f expFlags
	cmd := &cobra.Command{
		Use:   "exp [--params K,…] [--metrics K,…] [--sort KEY] [--where KEY=VALUE] [--json|--csv]",
		Short: "the experiments as a table, one row per run or grid cell (like dvc exp show)",
		Long: `The experiments of the working folder (runs that trained or evaluated
something; --all adds the others), newest first, one row per run or grid
cell: chosen config values and headline test metrics as columns.

Default columns: the config values that differ among the listed rows, and
every headline metric. --sort KEY sorts by a column (metric, config key,
run, config, status, started), descending with a leading "-". --where
KEY=VALUE keeps the rows whose value is VALUE (repeatable). The table fits
the terminal (cells cut with "…", never wrapped); --json and --csv print
every value whole.`,
		Example:     "  pipeline exp\n  pipeline exp --params train.optimizer.learning_rate,encode.image.width --metrics paper_accuracy,macro_auc --sort -paper_accuracy\n  pipeline exp --csv > runs.csv",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"exits": exitsExp},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdExp(st, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.params, "params", "", "config keys to show, comma-separated (default: those that differ among the rows)")
	fl.StringVar(&f.metrics, "metrics", "", "metric keys to show, comma-separated (default: every headline metric)")
	fl.StringVar(&f.sort, "sort", "", `sort by this column; "-KEY" for descending (default: newest first)`)
	fl.StringArrayVar(&f.where, "where", nil, "keep rows whose KEY equals VALUE: KEY=VALUE (repeatable)")
	fl.BoolVar(&f.all, "all", false, `list every run, also "nothing ran", failed and interrupted ones`)
	fl.BoolVar(&f.json, "json", false, "one JSON object per row")
	fl.BoolVar(&f.csv, "csv", false, "CSV with a header row")
	addWidthFlag(cmd, &f.width)
	return cmd
}

func cmdExp(st *State, g *globals, f expFlags) error {
	if f.json && f.csv {
		return usageErrorf("exp: --json and --csv exclude each other")
	}
	rows, err := pipeline.ExpRows(g.workdir, f.all)
	if errors.Is(err, fs.ErrNotExist) {
		return exitWith(ExitUsage, err)
	}
	if err != nil {
		return exitWith(ExitFailed, err)
	}
	if rows, err = filterRows(rows, f.where); err != nil {
		return err
	}
	if err := sortRows(rows, f.sort); err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(st.Stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return exitWith(ExitFailed, err)
			}
		}
		return nil
	}
	params, metrics := splitList(f.params), splitList(f.metrics)
	if f.params == "" {
		params = pipeline.VaryingParams(rows)
	}
	if f.metrics == "" {
		metrics = pipeline.MetricKeys(rows)
	}
	header, table := expTable(rows, params, metrics, !f.csv)
	if f.csv {
		names := make([]string, len(header))
		for i, c := range header {
			names[i] = c.Name
		}
		w := csv.NewWriter(st.Stdout)
		w.WriteAll(append([][]string{names}, table...))
		return nil
	}
	if len(rows) == 0 {
		fmt.Fprintln(st.Stdout, "no experiments yet (runs that trained or evaluated something; --all lists every run)")
		return nil
	}
	fmt.Fprint(st.Stdout, texttable.Render(header, table, st.width(f.width)))
	return nil
}

// expTable lays the rows out; short headers name a config key by its last
// part (the CSV keeps the whole key).
//
// At a narrow width config names are cut, then the rightmost metric and
// config columns are left out; run and status always show.
func expTable(rows []pipeline.ExpRow, params, metrics []string, short bool) ([]texttable.Column, [][]string) {
	header := []texttable.Column{{Name: "run"}, {Name: "config", Min: 8}, {Name: "status"}}
	drop := 0 // the rightmost column is left out first
	for _, p := range params {
		h := p
		if short {
			h = p[strings.LastIndexByte(p, '.')+1:]
		}
		drop++
		header = append(header, texttable.Column{Name: h, Min: 10, Drop: drop})
	}
	for _, m := range metrics {
		drop++
		header = append(header, texttable.Column{Name: m, Drop: drop})
	}
	var table [][]string
	for _, r := range rows {
		line := []string{r.Run, r.Config, r.Status}
		if len(r.Tags) > 0 {
			line[0] += " (" + strings.Join(r.Tags, ",") + ")"
		}
		for _, k := range params {
			line = append(line, dashIfMissing(r.Params[k], r.Params, k))
		}
		for _, k := range metrics {
			v, ok := r.Metrics[k]
			if !ok {
				line = append(line, "-")
				continue
			}
			line = append(line, strconv.FormatFloat(v, 'f', 3, 64))
		}
		table = append(table, line)
	}
	return header, table
}

func dashIfMissing(v string, m map[string]string, k string) string {
	if _, ok := m[k]; !ok {
		return "-"
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func filterRows(rows []pipeline.ExpRow, where []string) ([]pipeline.ExpRow, error) {
	for _, w := range where {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, usageErrorf("exp: --where %q: want KEY=VALUE", w)
		}
		rows = slices.DeleteFunc(rows, func(r pipeline.ExpRow) bool {
			got, ok := r.Value(k)
			if !ok {
				return true
			}
			if a, err1 := strconv.ParseFloat(got, 64); err1 == nil {
				if b, err2 := strconv.ParseFloat(v, 64); err2 == nil {
					return a != b
				}
			}
			return got != v
		})
	}
	return rows, nil
}

// sortRows sorts by a column, numbers as numbers; rows without the value
// go last.
func sortRows(rows []pipeline.ExpRow, key string) error {
	if key == "" {
		return nil
	}
	desc := strings.HasPrefix(key, "-")
	key = strings.TrimPrefix(key, "-")
	sort.SliceStable(rows, func(i, j int) bool {
		a, okA := rows[i].Value(key)
		b, okB := rows[j].Value(key)
		if okA != okB {
			return okA
		}
		fa, errA := strconv.ParseFloat(a, 64)
		fb, errB := strconv.ParseFloat(b, 64)
		if errA == nil && errB == nil {
			if desc {
				return fa > fb
			}
			return fa < fb
		}
		if desc {
			return a > b
		}
		return a < b
	})
	return nil
}
