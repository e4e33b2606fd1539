package clean

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseYear returns the year of a title ending in "(YYYY)" (trailing spaces
// allowed) and the title without it. ok is false when the title has no year.
func ParseYear(title string) (name string, year int, ok bool) {
	t := strings.TrimRight(title, " \t")
	if len(t) < 6 || t[len(t)-1] != ')' || t[len(t)-6] != '(' {
		return title, 0, false
	}
	digits := t[len(t)-5 : len(t)-1]
	for i := 0; i < 4; i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return title, 0, false
		}
	}
	y, _ := strconv.Atoi(digits)
	return strings.TrimRight(t[:len(t)-6], " \t"), y, true
}

// SplitGenres splits a Genre field on "|", trimming spaces and dropping empty
// parts, in listed order.
func SplitGenres(field string) []string {
	var out []string
	for _, g := range strings.Split(field, "|") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// PaperFilterReason is the reason the paper's row filter drops a row, or ""
// when the row passes: an https poster link, a year in 1900..2018, a title
// longer than one character, more than one listed genre. title is the whole
// Title field, year included ("M (1931)" passes): that is what reproduces
// the paper's counts (8,761 rows, see ../shared/notes/metrics.md); checking
// the name without its year drops 3 more rows of the subset.
func PaperFilterReason(posterURL, title string, year int, hasYear bool, genres []string) string {
	switch {
	case !strings.HasPrefix(posterURL, "https://"):
		return ReasonPaperNotHTTPS
	case !hasYear || year < 1900 || year > 2018:
		return ReasonPaperYear
	case utf8.RuneCountInString(strings.TrimSpace(title)) <= 1:
		return ReasonPaperTitle
	case len(genres) <= 1:
		return ReasonPaperSingleGenre
	}
	return ""
}
