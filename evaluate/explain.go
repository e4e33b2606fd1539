package evaluate

import (
	"context"
	"fmt"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate/report"
	"github.com/postergenre/postergenre/internal/heatmap"
	"github.com/postergenre/postergenre/train"
)

// GalleryHeatmaps computes the Grad-CAM overlays of the report's gallery
// (its confident mistakes and hits): for each poster, the predicted (top)
// genre and the best-scored true genre other than it, both in one session
// run, on the poster's test-split pixels.
func GalleryHeatmaps(ctx context.Context, encDir string, man encode.Manifest, model *train.Model, rep *report.Report) (map[int64][]report.GalleryHeatmap, error) {
	want := map[int64]report.Case{}
	for _, c := range append(append([]report.Case(nil), rep.Mistakes...), rep.Hits...) {
		want[c.ImdbID] = c
	}
	out := map[int64][]report.GalleryHeatmap{}
	if len(want) == 0 || !model.CanExplain() {
		return out, nil
	}
	err := encode.ForEachRow(ctx, encDir, man, encode.SplitTest, func(r encode.ShardRow) error {
		c, ok := want[r.ImdbID]
		if !ok {
			return nil
		}
		top := argmaxF(c.Scores)
		genres, roles := []int{top}, []string{"predicted"}
		if t := bestTrueOther(c, top); t >= 0 {
			genres, roles = append(genres, t), append(roles, "true")
		}
		a, err := model.AnalyzePixels(r.Pixels, genres)
		if err != nil {
			return fmt.Errorf("heatmap of %d: %w", r.ImdbID, err)
		}
		for i, hm := range a.Heatmaps {
			png, err := heatmap.PNG(hm.Overlay(a.Input, 1))
			if err != nil {
				return err
			}
			out[r.ImdbID] = append(out[r.ImdbID], report.GalleryHeatmap{Genre: hm.Genre, Role: roles[i], PNG: png})
		}
		delete(want, r.ImdbID)
		return nil
	})
	return out, err
}

func argmaxF(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// bestTrueOther is the best-scored true genre other than top, or -1.
func bestTrueOther(c report.Case, top int) int {
	best := -1
	for j, y := range c.Label {
		if y && j != top && (best < 0 || c.Scores[j] > c.Scores[best]) {
			best = j
		}
	}
	return best
}
