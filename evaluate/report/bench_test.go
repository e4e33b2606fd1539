package report_test

import (
	"fmt"
	"testing"

	"github.com/postergenre/postergenre/evaluate/report"
)

// BenchmarkWriteRealSize writes every output of a report on 1,500 test
// posters (the real data's test split) with the gallery's posters read
// from a store: the cost report.html adds to `pipeline run`.
func BenchmarkWriteRealSize(b *testing.B) {
	in := input()
	in.Test = split(1500, 3)
	for i := range in.Test.Y {
		in.Test.Rows = append(in.Test.Rows, report.Row{ImdbID: int64(100 + i), Title: fmt.Sprintf("Film %d", i), Year: 2000})
	}
	in.Val = split(1500, 4)
	in.Bootstrap = 1000
	posters := posterStore(b, b.TempDir(), in.Test.Rows, nil)
	r, err := report.Build(in)
	if err != nil {
		b.Fatal(err)
	}
	// Build (the metrics and their bootstrap intervals) is common to all
	// and timed by the first case; the others time Write alone.
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			if _, err := report.Build(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name string
		opt  report.WriteOptions
	}{
		{"write-markdown", report.WriteOptions{}},
		{"write-markdown+plots", report.WriteOptions{Plots: true, Thumbnails: true}},
		{"write-markdown+plots+html", report.WriteOptions{Plots: true, Thumbnails: true, HTML: true, Posters: posters}},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			for b.Loop() {
				if err := report.Write(dir, r, c.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
