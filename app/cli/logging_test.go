package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestMapsLogAsGroups: text logs never print a raw Go map.
func TestMapsLogAsGroups(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log := newLogger(&buf, format, false)
		log.With("counts", map[string]int{"b": 2}).Info("scrape done", "outcomes", map[string]int{"already_present": 0, "downloaded": 3}, "empty", map[string]any{})
		s := buf.String()
		if strings.Contains(s, "map[") {
			t.Errorf("%s: raw map in %q", format, s)
		}
		want := map[string]string{"text": "outcomes.downloaded=3", "json": `"outcomes":{"already_present":0,"downloaded":3}`}[format]
		if !strings.Contains(s, want) {
			t.Errorf("%s: %q lacks %q", format, s, want)
		}
	}
}
