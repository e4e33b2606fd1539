// Package scoring streams the encode stage's Parquet shards through a
// predictor: validation and test rows are scored batch by batch, train rows
// only counted (prior and co-occurrence). It does not link TensorFlow; the
// evaluate stage passes the trained model as the Predictor.
package scoring

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate/report"
)

// Predictor scores n images (uint8 RGB, HWC, concatenated): one probability
// per genre, in the manifest's genre order. *train.Model implements it.
type Predictor interface {
	Predict(pixels []byte, n int) ([][]float32, error)
}

// Options tunes Score.
type Options struct {
	BatchSize int   // images per Predict call; 0 = 64
	Examples  int   // test rows kept (with pixels) for the example page
	Seed      int64 // chooses the examples
}

// Row identifies one scored poster.
type Row struct {
	ImdbID int64
	Title  string
	Year   int
}

// Scores are one split's truth and predictions, in shard order.
type Scores struct {
	Rows []Row
	Y    [][]bool
	S    [][]float64
}

// Result is everything read and predicted.
type Result struct {
	Val, Test Scores
	// TrainRows and TrainPrevalence come from the train split's labels.
	TrainRows       int
	TrainPrevalence []float64
	// Cooccurrence counts rows of the train and test splits labelled with both genres.
	Cooccurrence     [][]int
	CooccurrenceRows int
	Examples         []report.Example
	// Skipped counts rows left out, by reason.
	Skipped map[string]int
}

type pending struct {
	sc     *Scores
	pixels []byte
	n      int
}

type scorer struct {
	man      encode.Manifest
	p        Predictor
	batch    int
	imgBytes int
	res      *Result
	val      pending
	test     pending
	testSeen int
	pick     map[int]bool // test ordinals to keep as examples
	ex       map[int]int  // test ordinal → index in res.Examples
}

// Score reads every shard of the encode output dir (described by man) and
// scores the validation and test rows with p.
func Score(ctx context.Context, dir string, man encode.Manifest, p Predictor, opt Options) (*Result, error) {
	g := len(man.Genres)
	s := &scorer{
		man: man, p: p, batch: opt.BatchSize,
		imgBytes: man.Height * man.Width * 3,
		res: &Result{
			TrainPrevalence: make([]float64, g),
			Cooccurrence:    make([][]int, g),
			Skipped:         map[string]int{},
		},
		ex: map[int]int{},
	}
	if s.batch <= 0 {
		s.batch = 64
	}
	if s.imgBytes <= 0 {
		return nil, fmt.Errorf("manifest: image size %d×%d", man.Width, man.Height)
	}
	for i := range s.res.Cooccurrence {
		s.res.Cooccurrence[i] = make([]int, g)
	}
	s.val.sc, s.test.sc = &s.res.Val, &s.res.Test
	s.pick = pickExamples(man.Splits[encode.SplitTest], opt.Examples, opt.Seed)

	if err := encode.ForEachRow(ctx, dir, man, "", s.row); err != nil {
		return nil, err
	}
	for _, pd := range []*pending{&s.val, &s.test} {
		if err := s.flush(pd); err != nil {
			return nil, err
		}
	}
	for i := range s.res.Examples {
		s.res.Examples[i].Scores = s.res.Test.S[s.ex[i]]
	}
	if s.res.TrainRows > 0 {
		for j := range s.res.TrainPrevalence {
			s.res.TrainPrevalence[j] /= float64(s.res.TrainRows)
		}
	}
	return s.res, nil
}

// pickExamples chooses k of n test ordinals with a seeded generator.
func pickExamples(n, k int, seed int64) map[int]bool {
	out := map[int]bool{}
	if n <= 0 || k <= 0 {
		return out
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	for _, i := range rng.Perm(n)[:min(k, n)] {
		out[i] = true
	}
	return out
}

// row counts or queues one row. encode.ForEachRow has checked its label
// and image size against the manifest.
func (s *scorer) row(row encode.ShardRow) error {
	g := len(s.man.Genres)
	y := make([]bool, g)
	for j, v := range row.Label {
		y[j] = v > 0.5
	}
	switch row.Split {
	case encode.SplitTrain:
		s.res.TrainRows++
		for j, b := range y {
			if b {
				s.res.TrainPrevalence[j]++
			}
		}
		s.cooccur(y)
		return nil
	case encode.SplitValidation:
		return s.add(&s.val, row, y, false)
	case encode.SplitTest:
		return s.add(&s.test, row, y, true)
	default:
		s.res.Skipped["unknown_split"]++
		return nil
	}
}

func (s *scorer) cooccur(y []bool) {
	s.res.CooccurrenceRows++
	for a, ya := range y {
		if !ya {
			continue
		}
		for b, yb := range y {
			if yb {
				s.res.Cooccurrence[a][b]++
			}
		}
	}
}

func (s *scorer) add(pd *pending, row encode.ShardRow, y []bool, test bool) error {
	pd.sc.Rows = append(pd.sc.Rows, Row{ImdbID: row.ImdbID, Title: row.Title, Year: int(row.Year)})
	pd.sc.Y = append(pd.sc.Y, y)
	pd.pixels = append(pd.pixels, row.Pixels...)
	pd.n++
	if test {
		s.cooccur(y)
		if s.pick[s.testSeen] {
			s.ex[len(s.res.Examples)] = len(pd.sc.Y) - 1
			s.res.Examples = append(s.res.Examples, report.Example{
				ImdbID: row.ImdbID, Title: row.Title, Year: int(row.Year),
				Genres: slices.Clone(row.Genres), Label: y,
				Pixels: slices.Clone(row.Pixels), Height: s.man.Height, Width: s.man.Width,
			})
		}
		s.testSeen++
	}
	if pd.n >= s.batch {
		return s.flush(pd)
	}
	return nil
}

func (s *scorer) flush(pd *pending) error {
	if pd.n == 0 {
		return nil
	}
	out, err := s.p.Predict(pd.pixels, pd.n)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if len(out) != pd.n {
		return fmt.Errorf("predict: %d rows for %d images", len(out), pd.n)
	}
	g := len(s.man.Genres)
	for _, o := range out {
		if len(o) != g {
			return fmt.Errorf("predict: %d scores, want %d genres", len(o), g)
		}
		sc := make([]float64, g)
		for j, v := range o {
			sc[j] = float64(v)
		}
		pd.sc.S = append(pd.sc.S, sc)
	}
	pd.pixels, pd.n = pd.pixels[:0], 0
	return nil
}
