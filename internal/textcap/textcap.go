// Package textcap bounds text copied from input into messages, records and
// reports, so that a hostile input (a 200 MB title, a 3 MB line) is never
// copied whole.
package textcap

import (
	"fmt"
	"unicode/utf8"
)

// Cut returns s when it has at most max bytes; otherwise its first max
// bytes or fewer (cut on a character boundary) followed by "… (N bytes)",
// N being the length of s.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes)", len(s))
}
