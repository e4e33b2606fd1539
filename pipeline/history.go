package pipeline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

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

// PrintHistory writes runs with their key test metrics side by side.
func PrintHistory(w io.Writer, runs []RunRecord) {
	fmt.Fprintf(w, "%-28s %-18s %-9s %8s %5s %5s  %-16s %-16s %-16s\n", "RUN", "CONFIG", "STATUS", "SECONDS", "RAN", "CACHED", "PAPER_ACC(base)", "TOP3_HIT(base)", "MACRO_AUC")
	for _, r := range runs {
		acc, top3, auc := "-", "-", "-"
		for _, s := range r.Steps {
			if s.Stage != stages.Evaluate || s.Summary == nil {
				continue
			}
			acc = pair(s.Summary, "paper_accuracy", "paper_accuracy_baseline")
			top3 = pair(s.Summary, "top3_hit", "top3_hit_baseline")
			if v, ok := number(s.Summary["macro_auc"]); ok {
				auc = fmt.Sprintf("%.3f", v)
			}
		}
		fmt.Fprintf(w, "%-28s %-18s %-9s %8.1f %5d %5d  %-16s %-16s %-16s\n", r.ID, r.Config, r.Status, r.Seconds, count(r.Steps, "ran"), count(r.Steps, StatusUpToDate), acc, top3, auc)
	}
}

func pair(m map[string]any, k, base string) string {
	v, ok := number(m[k])
	if !ok {
		return "-"
	}
	if b, ok := number(m[base]); ok {
		return fmt.Sprintf("%.3f (%.3f)", v, b)
	}
	return fmt.Sprintf("%.3f", v)
}
