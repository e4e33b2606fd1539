package evaluate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate/report"
	"github.com/postergenre/postergenre/evaluate/scoring"
	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/scrape"
)

// PredictionsFile holds every scored poster's truth and probabilities.
const PredictionsFile = "predictions.parquet"

// PredictionRow is one line of predictions.parquet: a validation or test
// poster. Label and Probabilities are over the genres stored as a JSON
// array in the file's key-value metadata under encode.MetaGenres (the
// encode manifest's genre order), as in the encode shards; pyarrow reads
// them as list<float>.
type PredictionRow struct {
	ImdbID        int64     `parquet:"imdb_id"`
	Split         string    `parquet:"split"`
	Title         string    `parquet:"title"`
	Year          int32     `parquet:"year"`
	Label         []float32 `parquet:"label,list"`
	Probabilities []float32 `parquet:"probabilities,list"`
}

// PredictionRows flattens the scored validation and test splits, in shard order.
func PredictionRows(sc *scoring.Result) []PredictionRow {
	var out []PredictionRow
	for _, sp := range []struct {
		name string
		s    scoring.Scores
	}{{encode.SplitValidation, sc.Val}, {encode.SplitTest, sc.Test}} {
		for i, r := range sp.s.Rows {
			label, prob := make([]float32, len(sp.s.Y[i])), make([]float32, len(sp.s.S[i]))
			for j, y := range sp.s.Y[i] {
				if y {
					label[j] = 1
				}
			}
			for j, v := range sp.s.S[i] {
				prob[j] = float32(v)
			}
			out = append(out, PredictionRow{ImdbID: r.ImdbID, Split: sp.name, Title: r.Title, Year: int32(r.Year), Label: label, Probabilities: prob})
		}
	}
	return out
}

// WritePredictions writes predictions.parquet into dir.
func WritePredictions(dir string, genres []string, rows []PredictionRow) error {
	path := filepath.Join(dir, PredictionsFile)
	gj, err := json.Marshal(genres)
	if err != nil {
		return err
	}
	if err := parquetio.WriteFile(path, rows, parquet.KeyValueMetadata(encode.MetaGenres, string(gj))); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	return nil
}

// ReadPredictions reads the rows of split (encode.SplitTest, …) from the
// predictions.parquet in dir, an evaluate output, in file order; every row
// when split is "". A missing file is an error matching fs.ErrNotExist.
func ReadPredictions(dir, split string) ([]PredictionRow, error) {
	path := filepath.Join(dir, PredictionsFile)
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	var out []PredictionRow
	err := parquetio.ForEach(path, 4096, func(rows []PredictionRow) error {
		for _, r := range rows {
			if split == "" || r.Split == split {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	return out, nil
}

// ReportRows names the rows of a scored split for the report's poster gallery.
func ReportRows(rs []scoring.Row) []report.Row {
	out := make([]report.Row, len(rs))
	for i, r := range rs {
		out[i] = report.Row{ImdbID: r.ImdbID, Title: r.Title, Year: r.Year}
	}
	return out
}

// PosterReader reads posters from the poster store (<imdbId>.jpg) for
// the report's gallery; nil when there is no store.
func PosterReader(store string) report.PosterFunc {
	if store == "" {
		return nil
	}
	return func(id int64) ([]byte, error) { return regular.ReadFile(filepath.Join(store, scrape.PosterFile(id))) }
}
