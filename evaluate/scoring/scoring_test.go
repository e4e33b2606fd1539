package scoring_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodetest"
	"github.com/postergenre/postergenre/evaluate/scoring"
)

// fake scores genre j as pixel[j]/255 and counts its calls.
type fake struct {
	calls, images int
	h, w          int
}

func (f *fake) Predict(pix []byte, n int) ([][]float32, error) {
	if len(pix) != n*f.h*f.w*3 {
		return nil, fmt.Errorf("%d bytes for %d images", len(pix), n)
	}
	f.calls++
	f.images += n
	out := make([][]float32, n)
	for i := range out {
		img := pix[i*f.h*f.w*3:]
		out[i] = []float32{float32(img[0]) / 255, float32(img[1]) / 255, float32(img[2]) / 255}
	}
	return out, nil
}

const h, w = 2, 2

func row(id int64, split string, label ...float32) encode.ShardRow {
	pix := make([]byte, h*w*3)
	for j, l := range label {
		pix[j] = byte(50 + 150*l + float32(id%5))
	}
	return encode.ShardRow{ImdbID: id, Title: fmt.Sprintf("T%d", id), Year: 2000, Genres: []string{"X"}, Label: label,
		Split: split, Height: h, Width: w, Pixels: pix}
}

func TestScore(t *testing.T) {
	dir := t.TempDir()
	var a, b []encode.ShardRow
	for i := int64(0); i < 10; i++ {
		a = append(a, row(i, encode.SplitTrain, 1, float32(i%2), 0)) // prevalence 1, .5, 0
	}
	for i := int64(10); i < 17; i++ {
		a = append(a, row(i, encode.SplitTest, 0, 1, 1))
		b = append(b, row(i+100, encode.SplitValidation, 1, 0, 0))
	}
	b = append(b, row(98, "holdout", 1, 0, 0))
	man := writeOutput(t, dir, a, b)
	p := &fake{h: h, w: w}
	res, err := scoring.Score(context.Background(), dir, man, p, scoring.Options{BatchSize: 3, Examples: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Test.Y) != 7 || len(res.Test.S) != 7 || len(res.Val.Y) != 7 || len(res.Val.S) != 7 {
		t.Fatalf("test %d/%d val %d/%d rows", len(res.Test.Y), len(res.Test.S), len(res.Val.Y), len(res.Val.S))
	}
	if p.images != 14 || p.calls != 6 { // 7 = 3+3+1 per split
		t.Errorf("Predict: %d calls, %d images", p.calls, p.images)
	}
	if res.TrainRows != 10 || !reflect.DeepEqual(res.TrainPrevalence, []float64{1, 0.5, 0}) {
		t.Errorf("train %d rows, prevalence %v", res.TrainRows, res.TrainPrevalence)
	}
	// scores line up with rows: the fake reads the label back from the pixels
	for i, s := range res.Test.S {
		if s[0] > 0.3 || s[1] < 0.7 || res.Test.Rows[i].ImdbID != int64(10+i) {
			t.Errorf("test row %d (%d): %v", i, res.Test.Rows[i].ImdbID, s)
		}
	}
	want := map[string]int{"unknown_split": 1}
	if !reflect.DeepEqual(res.Skipped, want) {
		t.Errorf("skipped %v, want %v", res.Skipped, want)
	}
	// co-occurrence over train (10) + test (7) rows
	if res.CooccurrenceRows != 17 || res.Cooccurrence[1][2] != 7 || res.Cooccurrence[0][1] != 5 || res.Cooccurrence[0][0] != 10 {
		t.Errorf("cooccurrence %v over %d", res.Cooccurrence, res.CooccurrenceRows)
	}
	if len(res.Examples) != 4 {
		t.Fatalf("%d examples", len(res.Examples))
	}
	for _, e := range res.Examples {
		if len(e.Pixels) != h*w*3 || len(e.Scores) != 3 || e.Scores[1] < 0.7 {
			t.Errorf("example %+v", e)
		}
	}
	again, _ := scoring.Score(context.Background(), dir, man, &fake{h: h, w: w}, scoring.Options{BatchSize: 5, Examples: 4, Seed: 1})
	if !reflect.DeepEqual(again.Examples, res.Examples) || !reflect.DeepEqual(again.Test, res.Test) {
		t.Error("a different batch size changed the result")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := scoring.Score(ctx, dir, man, &fake{h: h, w: w}, scoring.Options{}); err == nil {
		t.Error("cancelled context: no error")
	}
}

// writeOutput writes one shard per row set and a manifest over genres A, B, C
// into dir, and reads the manifest back.
func writeOutput(t *testing.T, dir string, shards ...[]encode.ShardRow) encode.Manifest {
	t.Helper()
	return encodetest.Output{Genres: []string{"A", "B", "C"}, Height: h, Width: w}.Write(t, dir, shards...)
}

// TestScoreMalformedRows checks encode.ForEachRow's one policy as evaluate
// sees it: a row that disagrees with the manifest, or a truncated shard, is
// an error naming the shard file (and the row), never a silent skip or a panic.
func TestScoreMalformedRows(t *testing.T) {
	good := func() []encode.ShardRow {
		return []encode.ShardRow{row(1, encode.SplitTest, 1, 0, 0), row(2, encode.SplitTest, 0, 1, 0)}
	}
	truncate := func(t *testing.T, path string) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw[:len(raw)/2], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		rows     func(rows []encode.ShardRow)    // changes rows before writing
		file     func(t *testing.T, path string) // changes the shard file after
		wantText []string
	}{
		{"short image", func(r []encode.ShardRow) { r[1].Pixels = r[1].Pixels[:3] }, nil, []string{"shard-00000.parquet", "row 1", "imdb 2"}},
		{"wrong size", func(r []encode.ShardRow) { r[1].Height = h + 1 }, nil, []string{"shard-00000.parquet", "row 1"}},
		{"short label", func(r []encode.ShardRow) { r[0].Label = r[0].Label[:2] }, nil, []string{"shard-00000.parquet", "row 0", "label"}},
		{"truncated shard", nil, truncate, []string{"shard-00000.parquet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rows := good()
			if tc.rows != nil {
				tc.rows(rows)
			}
			man := writeOutput(t, dir, rows)
			if tc.file != nil {
				tc.file(t, filepath.Join(dir, man.Shards[0].File))
			}
			_, err := scoring.Score(context.Background(), dir, man, &fake{h: h, w: w}, scoring.Options{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}
