package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/configs"
)

type gridRow struct {
	cell  configs.Cell
	steps []Step
}

// gridTable renders a grid run as the paper's Table 2: resize ratio down,
// learning rate across, the primary headline metric on the test split
// (with its 95% interval) and the paper's figure where it gave one.
func gridTable(g *configs.Grid, rows []gridRow) string {
	var lrs []float64
	var shrinks []float64
	cells := map[string]gridRow{}
	label := "Headline metric"
	for _, r := range rows {
		if !containsF(shrinks, r.cell.Shrink) {
			shrinks = append(shrinks, r.cell.Shrink)
		}
		if !containsF(lrs, r.cell.LR) {
			lrs = append(lrs, r.cell.LR)
		}
		cells[r.cell.Key] = r
		if h := Headline(r.steps); len(h) > 0 {
			label = h[0].Label
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s on the test split, ours with its 95%% interval; the paper's figure in brackets where it gives one.\n\n", label)
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
				cell = primaryCell(r.steps)
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

// primaryCell is a cell's primary headline metric as a percentage.
func primaryCell(steps []Step) string {
	for _, s := range steps {
		if s.Status == StatusFailed {
			return StatusFailed
		}
	}
	h := Headline(steps)
	if len(h) == 0 {
		return "—"
	}
	m := h[0]
	if m.Lo != nil && m.Hi != nil {
		return fmt.Sprintf("%.1f%% (%.1f–%.1f)", m.Value*100, *m.Lo*100, *m.Hi*100)
	}
	return fmt.Sprintf("%.1f%%", m.Value*100)
}

func containsF(xs []float64, x float64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
