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

// Accounting renders where every row went, stage by stage: the counts by
// outcome and reason each stage names in Step.RowCountKeys.
func Accounting(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		for _, k := range s.RowCountKeys {
			m := asMap(s.Summary[k])
			if len(m) == 0 {
				continue
			}
			fmt.Fprintf(&b, "%-8s %-8s %s\n", s.Stage, k, formatCounts(m))
		}
	}
	return b.String()
}

// RowCounts is Accounting's data: stage → count key → outcome → count
// (for the run summary as JSON).
func RowCounts(steps []Step) map[string]map[string]map[string]any {
	out := map[string]map[string]map[string]any{}
	for _, s := range steps {
		for _, k := range s.RowCountKeys {
			m := asMap(s.Summary[k])
			if len(m) == 0 {
				continue
			}
			name := s.Stage
			if s.Cell != "" {
				name = s.Cell + "/" + s.Stage
			}
			if out[name] == nil {
				out[name] = map[string]map[string]any{}
			}
			out[name][k] = m
		}
	}
	return out
}

// Headline returns the headline metrics of a run's steps (in a grid, of
// one cell's steps), the primary one first.
func Headline(steps []Step) []stages.Metric {
	var out []stages.Metric
	for _, s := range steps {
		out = append(out, s.Headline...)
	}
	return out
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
		if n, ok := stages.Number(m[k]); ok && n == 0 {
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
	if h := Headline(steps); len(h) > 0 {
		b.WriteString("\n## Test metrics (model / baseline)\n\n")
		for _, m := range h {
			fmt.Fprintf(&b, "- %s: **%.3f** (95%% CI %s–%s), baseline %s\n", m.Label, m.Value, fmt3(m.Lo), fmt3(m.Hi), fmt3(m.Baseline))
		}
	}
	return atomicfile.WriteFile(filepath.Join(dir, "summary.md"), []byte(b.String()), 0o644)
}

// fmt3 formats an optional number with three decimals ("-" when unknown).
func fmt3(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *p)
}
