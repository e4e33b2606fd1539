package report_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/evaluate/report"
	"github.com/postergenre/postergenre/internal/browsertest"
)

// TestReportOnAPhone opens report.html in headless Chromium at 390 px
// (a phone) and at 1280 px: the page never scrolls sideways, no element
// passes the right edge outside a box that scrolls on its own, its text is
// >= 10 px, and every plot and example card is there. With
// REPORT_SCREENSHOTS=DIR the screenshots are kept (report-390.png,
// report-1280.png).
func TestReportOnAPhone(t *testing.T) {
	in := input()
	r, err := report.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	posters := posterStore(t, t.TempDir(), in.Test.Rows, nil)
	if err := report.Write(dir, r, report.WriteOptions{HTML: true, Posters: posters}); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.Join(dir, report.HTMLFile)
	for _, width := range []int{390, 1280} {
		ctx := browsertest.Open(t, width, 900)
		shot := ""
		if d := os.Getenv("REPORT_SCREENSHOTS"); d != "" {
			shot = filepath.Join(d, "report-"+itoa(width)+".png")
		}
		l := browsertest.Measure(t, ctx, width, url, shot)
		if l.ScrollWidth > width || len(l.Overflowing) > 0 {
			t.Errorf("at %d px: scrollWidth %d, overflowing %v", width, l.ScrollWidth, l.Overflowing)
		}
		if l.MinFont < 10 {
			t.Errorf("at %d px: text as small as %.1f px", width, l.MinFont)
		}
		if n := browsertest.Count(t, ctx, "figure.plot img"); n < 6 {
			t.Errorf("at %d px: %d plots, want every plot (>= 6)", width, n)
		}
		if n := browsertest.Count(t, ctx, ".gallery .case"); n != len(r.Mistakes)+len(r.Hits) {
			t.Errorf("at %d px: %d example cards, want %d", width, n, len(r.Mistakes)+len(r.Hits))
		}
	}
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
