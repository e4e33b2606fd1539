package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/stages"
)

type gridRow struct {
	cell  configs.Cell
	steps []Step
}

// gridTable renders a grid run as the paper's Table 2: resize ratio down,
// learning rate across, our test paper-accuracy (with its 95% interval)
// and the paper's figure where it gave one.
func gridTable(g *configs.Grid, rows []gridRow) string {
	var lrs []float64
	var shrinks []float64
	cells := map[string]gridRow{}
	for _, r := range rows {
		if !containsF(shrinks, r.cell.Shrink) {
			shrinks = append(shrinks, r.cell.Shrink)
		}
		if !containsF(lrs, r.cell.LR) {
			lrs = append(lrs, r.cell.LR)
		}
		cells[r.cell.Key] = r
	}
	var b strings.Builder
	b.WriteString("Test paper-accuracy (argmax of the prediction = first true genre), ours with its 95% interval; the paper's figure in brackets where it gives one.\n\n")
	b.WriteString("| resize |")
	for _, lr := range lrs {
		fmt.Fprintf(&b, " lr %s |", strconv.FormatFloat(lr, 'g', -1, 64))
	}
	b.WriteString("\n|---|")
	for range lrs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range shrinks {
		fmt.Fprintf(&b, "| %g%% |", s)
		for _, lr := range lrs {
			key := configs.GridKey(s, lr)
			cell := "—"
			if r, ok := cells[key]; ok {
				cell = accuracyCell(r.steps)
			}
			if ref, ok := g.Reference[key]; ok {
				cell += fmt.Sprintf(" [paper %.1f%%]", ref*100)
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func accuracyCell(steps []Step) string {
	for _, s := range steps {
		if s.Stage != stages.Evaluate {
			continue
		}
		if s.Status == "failed" {
			return "failed"
		}
		acc, ok := number(s.Summary["paper_accuracy"])
		if !ok {
			return "?"
		}
		lo, okLo := number(s.Summary["paper_accuracy_ci_low"])
		hi, okHi := number(s.Summary["paper_accuracy_ci_high"])
		if okLo && okHi {
			return fmt.Sprintf("%.1f%% (%.1f–%.1f)", acc*100, lo*100, hi*100)
		}
		return fmt.Sprintf("%.1f%%", acc*100)
	}
	return "—"
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

func containsF(xs []float64, x float64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
