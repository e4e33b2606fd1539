package textcap

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abc", 10, "0123456789… (13 bytes)"},
		{"ééééé", 5, "éé… (10 bytes)"}, // never half a character
		{"", 0, ""},
	} {
		got := Cut(tc.s, tc.max)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Cut(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
	if got := Cut(strings.Repeat("x", 3<<20), 1024); len(got) > 1100 {
		t.Errorf("3 MB cut to %d bytes", len(got))
	}
}
