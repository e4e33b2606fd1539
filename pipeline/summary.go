package pipeline

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/stages"
)

// dropKeys are the summary entries that count rows by outcome or reason.
var dropKeys = map[string][]string{
	stages.Scrape: {"outcomes", "reasons"},
	stages.Clean:  {"rejects"},
	stages.Encode: {"rejects", "splits"},
}

// Accounting renders where every row went, stage by stage: the counts by
// outcome and reason from each stage's summary.
func Accounting(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		for _, k := range dropKeys[s.Stage] {
			m := asMap(s.Summary[k])
			if len(m) == 0 {
				continue
			}
			fmt.Fprintf(&b, "%-8s %-8s %s\n", s.Stage, k, formatCounts(m))
		}
	}
	return b.String()
}

// asMap reads a summary entry as a map whatever its Go type: a stage that
// just ran hands over e.g. map[string]int, one read back from _stage.json a
// map[string]any.
func asMap(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

func formatCounts(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if n, ok := number(m[k]); ok && n == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// writeCellSummary writes summary.md into a run (or grid cell) folder: the
// stages, where every row went, and the headline test metrics.
func writeCellSummary(dir, config string, steps []Step) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Run summary: %s\n\n| stage | status | seconds | output |\n|---|---|---:|---|\n", config)
	for _, s := range steps {
		fmt.Fprintf(&b, "| %s | %s | %.1f | `%s` |\n", s.Stage, s.Status, s.Seconds, filepath.Base(s.Output))
	}
	b.WriteString("\n## Where the rows went\n\n```\n" + Accounting(steps) + "```\n")
	for _, s := range steps {
		if s.Stage != stages.Evaluate || s.Summary == nil {
			continue
		}
		b.WriteString("\n## Test metrics (model / baseline)\n\n")
		for _, k := range []string{"paper_accuracy", "top3_hit", "macro_auc", "micro_f1"} {
			if v, ok := number(s.Summary[k]); ok {
				base, _ := number(s.Summary[k+"_baseline"])
				lo, _ := number(s.Summary[k+"_ci_low"])
				hi, _ := number(s.Summary[k+"_ci_high"])
				fmt.Fprintf(&b, "- %s: **%.3f** (95%% CI %.3f–%.3f), baseline %.3f\n", k, v, lo, hi, base)
			}
		}
		b.WriteString("\nFull report: [report/report.md](report/report.md)\n")
	}
	return atomicfile.WriteFile(filepath.Join(dir, "summary.md"), []byte(b.String()), 0o644)
}
