// Package texttable lays out a table of text for a terminal: columns
// padded to their widest cell, numbers right-aligned, and, given a width,
// every line kept within it by cutting the widest columns' cells with "…"
// and, when that is not enough, leaving columns out (never wrapping).
package texttable

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Gap is the space between two columns.
const Gap = "  "

// Column describes one column.
type Column struct {
	Name string
	// Min is the narrowest the column is cut to; 0 keeps it whole (a run
	// id, a number).
	Min int
	// Drop orders the columns left out when even their minimum widths do
	// not fit: the highest first; 0 is never left out.
	Drop int
}

// Render lays out rows under cols; width <= 0 means no limit. Each line
// ends with "\n"; trailing spaces are trimmed. Numbers are right-aligned.
// When the natural widths do not fit, the widest cuttable columns shrink
// towards their Min; when the minimums do not fit either, columns are left
// out by Drop.
func Render(cols []Column, rows [][]string, width int) string {
	n := len(cols)
	widths := make([]int, n)
	numeric := make([]bool, n)
	for c := range cols {
		widths[c] = utf8.RuneCountInString(cols[c].Name)
		numeric[c] = len(rows) > 0
		for _, r := range rows {
			widths[c] = max(widths[c], utf8.RuneCountInString(cell(r, c)))
			if v := cell(r, c); v != "" && v != "-" && !isNumber(v) {
				numeric[c] = false
			}
		}
	}
	shown := make([]bool, n)
	for c := range shown {
		shown[c] = true
	}
	if width > 0 {
		fit(cols, widths, shown, width)
	}
	var b strings.Builder
	header := make([]string, n)
	for c := range cols {
		header[c] = cols[c].Name
	}
	for _, r := range append([][]string{header}, rows...) {
		var line strings.Builder
		first := true
		for c := range cols {
			if !shown[c] {
				continue
			}
			if !first {
				line.WriteString(Gap)
			}
			first = false
			v := Cut(cell(r, c), widths[c])
			pad := strings.Repeat(" ", widths[c]-utf8.RuneCountInString(v))
			if numeric[c] {
				line.WriteString(pad + v)
			} else {
				line.WriteString(v + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return b.String()
}

// fit shrinks and hides columns until the shown ones fit in width.
func fit(cols []Column, widths []int, shown []bool, width int) {
	for {
		sum, count := 0, 0
		for c := range cols {
			if shown[c] {
				sum += widths[c]
				count++
			}
		}
		sum += len(Gap) * max(0, count-1)
		if sum <= width {
			return
		}
		// Cut the widest column that can still give a character.
		widest := -1
		for c := range cols {
			if shown[c] && cols[c].Min > 0 && widths[c] > cols[c].Min && (widest < 0 || widths[c] > widths[widest]) {
				widest = c
			}
		}
		if widest >= 0 {
			widths[widest]--
			continue
		}
		// Leave out the column dropped first (the rightmost among equals).
		drop := -1
		for c := range cols {
			if shown[c] && cols[c].Drop > 0 && (drop < 0 || cols[c].Drop >= cols[drop].Drop) {
				drop = c
			}
		}
		if drop < 0 {
			return // nothing left to give: the line stays wider
		}
		shown[drop] = false
	}
}

// Cut shortens s to at most n runes, ending in "…" when it was cut.
func Cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-1]) + "…"
}

func cell(r []string, c int) string {
	if c < len(r) {
		return r[c]
	}
	return ""
}

func isNumber(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "+"), "%")
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
