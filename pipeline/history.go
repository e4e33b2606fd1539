package pipeline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/postergenre/postergenre/stages"
)

// History reads every run.json in the working folder, newest first.
func History(workdir string) ([]RunRecord, error) {
	l := layout{root: workdir}
	entries, err := os.ReadDir(l.runs())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RunRecord
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "latest" {
			continue
		}
		var rec RunRecord
		if err := readJSON(filepath.Join(l.run(e.Name()), "run.json"), &rec); err != nil {
			continue // a run still going, or killed before it wrote run.json
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// PrintHistory writes runs with their headline metrics side by side: one
// column per metric key found in any run (e.g. TOP3_HIT and TOP5_HIT when
// top_k changed between runs), "-" where a run lacks it.
func PrintHistory(w io.Writer, runs []RunRecord) {
	var keys []string
	for _, r := range runs {
		for _, m := range Headline(r.Steps) {
			if !slices.Contains(keys, m.Key) {
				keys = append(keys, m.Key)
			}
		}
	}
	fmt.Fprintf(w, "%-28s %-18s %-9s %8s %5s %6s", "RUN", "CONFIG", "STATUS", "SECONDS", "RAN", "CACHED")
	widths := make([]int, len(keys))
	for i, k := range keys {
		head := strings.ToUpper(k) + "(base)"
		widths[i] = max(16, len(head))
		fmt.Fprintf(w, "  %-*s", widths[i], head)
	}
	fmt.Fprintln(w)
	for _, r := range runs {
		fmt.Fprintf(w, "%-28s %-18s %-9s %8.1f %5d %6d", r.ID, r.Config, r.Status, r.Seconds, count(r.Steps, "ran"), count(r.Steps, StatusUpToDate))
		byKey := map[string]stages.Metric{}
		for _, m := range Headline(r.Steps) {
			byKey[m.Key] = m
		}
		for i, k := range keys {
			cell := "-"
			if m, ok := byKey[k]; ok {
				cell = fmt.Sprintf("%.3f", m.Value)
				if m.Baseline != nil {
					cell += fmt.Sprintf(" (%.3f)", *m.Baseline)
				}
			}
			fmt.Fprintf(w, "  %-*s", widths[i], cell)
		}
		fmt.Fprintln(w)
	}
}
