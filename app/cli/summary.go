package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// printSummary tells people where the results are and, for a failed run,
// why: text on a terminal, one JSON record otherwise (cron appends stdout
// and stderr to one .jsonl file, where every line must be an object).
func printSummary(st *State, rec *pipeline.RunRecord, workdir string) {
	runDir := filepath.Join(workdir, "runs", rec.ID)
	report := reportOf(workdir, runDir, rec)
	if !st.StdoutIsTerminal {
		level := slog.LevelInfo
		if rec.Status != pipeline.RunOK {
			level = slog.LevelError
		}
		type step struct {
			Cell    string  `json:"cell,omitempty"`
			Stage   string  `json:"stage"`
			Status  string  `json:"status"`
			Seconds float64 `json:"seconds,omitempty"`
			Error   string  `json:"error,omitempty"`
		}
		steps := make([]step, len(rec.Steps))
		for i, s := range rec.Steps {
			steps[i] = step{s.Cell, s.Stage, s.Status, s.Seconds, s.Error}
		}
		fields := map[string]any{
			"run": rec.ID, "config": rec.Config, "status": rec.Status, "seconds": rec.Seconds,
			"steps": steps, "run_folder": runDir,
		}
		if rec.Error != "" {
			fields["cause"] = rec.Error
		}
		if h := pipeline.Headline(rec.Steps); len(h) > 0 && rec.Grid == "" {
			fields["headline"] = h
		}
		if rows := pipeline.RowCounts(rec.Steps); len(rows) > 0 {
			fields["rows"] = rows
		}
		if report != "" {
			fields["report"] = report
		}
		record(st.Stdout, level, "run summary", fields)
		return
	}
	w := st.Stdout
	fmt.Fprintf(w, "run %s: %s in %.1fs\n", rec.ID, rec.Status, rec.Seconds)
	for _, s := range rec.Steps {
		cell := ""
		if s.Cell != "" {
			cell = "[" + s.Cell + "] "
		}
		line := fmt.Sprintf("  %-24s %-12s", cell+s.Stage, s.Status)
		if s.Seconds > 0 {
			line += fmt.Sprintf(" %7.1fs", s.Seconds)
		}
		fmt.Fprintln(w, line)
	}
	if rec.Error != "" {
		fmt.Fprintf(w, "\n%s because: %s\n", rec.Status, rec.Error)
	}
	if rec.Grid != "" {
		fmt.Fprintf(w, "\n%s\n", rec.Grid)
	} else {
		if acc := pipeline.Accounting(rec.Steps); acc != "" {
			fmt.Fprintf(w, "\nwhere the rows went:\n%s", acc)
		}
		if h := pipeline.Headline(rec.Steps); len(h) > 0 {
			fmt.Fprintf(w, "\ntest %s\n", headlineText(h))
		}
	}
	if report != "" {
		fmt.Fprintf(w, "report: %s (open in a browser; report.md beside it)\n", report)
	}
	if pipeline.NothingRan(*rec) {
		fmt.Fprintf(w, "run record: %s (everything was up to date: the outputs are those of earlier runs)\n", runDir)
	} else {
		fmt.Fprintf(w, "run folder: %s\n", runDir)
	}
	if rec.Status == pipeline.RunOK && rec.Grid == "" {
		printNext(st, workdir)
	}
}

// reportOf is the HTML report a run made or used: in its run folder, or
// for a grid, none (each cell has its own); for a run that ran nothing,
// in the evaluate output it used.
func reportOf(workdir, runDir string, rec *pipeline.RunRecord) string {
	if rec.Grid != "" {
		return ""
	}
	for _, dir := range []string{runDir, ""} {
		if dir == "" {
			ref := pipeline.RunRef{Dir: runDir, Record: *rec}
			out, err := ref.StageDir(workdir, stages.Evaluate)
			if err != nil {
				return ""
			}
			dir = out
		}
		p := filepath.Join(dir, "report", "report.html")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// printNext shows the commands that read the run, ready to paste.
func printNext(st *State, workdir string) {
	wd := ""
	a, errA := filepath.Abs(workdir)
	b, errB := filepath.Abs(defaultWorkdir(st))
	if errA != nil || errB != nil || a != b {
		wd = " --workdir " + shellQuote(workdir)
	}
	p := shellQuote(st.program())
	fmt.Fprintf(st.Stdout, "next:\n  %s history%s\n  %s predict%s --model latest POSTER.jpg\n  %s serve%s --model latest\n", p, wd, p, wd, p, wd)
}

// headlineText reads "Paper accuracy 0.512 (baseline 0.301), Top-3 hit …".
func headlineText(h []stages.Metric) string {
	parts := make([]string, len(h))
	for i, m := range h {
		parts[i] = fmt.Sprintf("%s %.3f", m.Label, m.Value)
		if m.Baseline != nil {
			parts[i] += fmt.Sprintf(" (baseline %.3f)", *m.Baseline)
		}
	}
	return strings.Join(parts, ", ")
}
