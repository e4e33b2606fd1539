package texttable_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postergenre/postergenre/internal/texttable"
)

func TestRenderFitsWidth(t *testing.T) {
	header := []texttable.Column{{Name: "RUN"}, {Name: "CONFIG", Min: 6}, {Name: "learning_rate", Min: 5, Drop: 1}, {Name: "paper_accuracy", Drop: 2}, {Name: "CHANGED", Min: 8, Drop: 3}}
	rows := [][]string{
		{"20261207T002255Z-92adb212", "demo", "0.001", "0.815", strings.Repeat("train.epochs=3 ", 12)},
		{"20261207T002300Z-11111111", "paper-grid-s40-lr0.0001", "0.0001", "0.5", "-"},
	}
	tests := []struct {
		name  string
		width int
	}{{"no limit", 0}, {"80 columns", 80}, {"40 columns", 40}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := texttable.Render(header, rows, tt.width)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("%d lines, want 3 (no wrapping):\n%s", len(lines), out)
			}
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); tt.width > 0 && n > tt.width {
					t.Errorf("line of %d > %d: %q", n, tt.width, l)
				}
			}
			if tt.width == 0 && !strings.Contains(out, rows[0][4][:30]) {
				t.Errorf("unlimited width cut a cell:\n%s", out)
			}
			if tt.width == 80 && (!strings.Contains(out, "…") || !strings.Contains(out, rows[0][0])) {
				t.Errorf("at 80 columns: nothing cut, or the run id cut:\n%s", out)
			}
			if tt.width == 40 && (strings.Contains(out, "CHANGED") || !strings.Contains(out, rows[0][0])) {
				t.Errorf("at 40 columns: the dropped column shown, or the run id cut:\n%s", out)
			}
		})
	}
	// Numbers right-aligned: both accuracy cells end in the same column.
	out := texttable.Render([]texttable.Column{{Name: "K"}, {Name: "V"}}, [][]string{{"a", "0.815"}, {"b", "0.5"}}, 0)
	l := strings.Split(out, "\n")
	if len(l[1]) != len(l[2]) {
		t.Errorf("numbers not right-aligned:\n%s", out)
	}
}
