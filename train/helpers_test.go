package train

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodetest"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// synthSpec describes a generated encode output: four colour-coded classes.
type synthSpec struct {
	Height, Width int
	PerClass      map[string]int // split -> rows per class
	Shards        int
	Seed          uint64
	Noise         int // ± per channel
}

var synthGenres = []string{"Horror", "Romance", "Action", "Documentary"}

// synthColours are the base colours of the classes.
var synthColours = [4][3]int{{200, 40, 40}, {40, 200, 40}, {40, 40, 200}, {200, 200, 40}}

// writeSynth writes shards and manifest.json into dir and returns the rows'
// pixels and labels per split.
func writeSynth(t testing.TB, dir string, sp synthSpec) map[string][]encode.ShardRow {
	t.Helper()
	rows, err := generateSynth(dir, sp)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// generateSynth is writeSynth returning its error (for examples).
func generateSynth(dir string, sp synthSpec) (map[string][]encode.ShardRow, error) {
	if sp.Shards == 0 {
		sp.Shards = 2
	}
	rng := rand.New(rand.NewPCG(sp.Seed, 7))
	var rows []encode.ShardRow
	id := int64(1)
	for _, split := range []string{encode.SplitTrain, encode.SplitValidation, encode.SplitTest} {
		for c := range 4 {
			for range sp.PerClass[split] {
				pix := make([]byte, sp.Height*sp.Width*3)
				for i := range pix {
					v := synthColours[c][i%3] + rng.IntN(2*sp.Noise+1) - sp.Noise
					pix[i] = byte(min(max(v, 0), 255))
				}
				label := make([]float32, 4)
				label[c] = 1
				// Some rows carry a second, later genre: the first true genre stays the class.
				if c < 3 && rng.IntN(4) == 0 {
					label[c+1] = 1
				}
				var genres []string
				for j, l := range label {
					if l > 0 {
						genres = append(genres, synthGenres[j])
					}
				}
				rows = append(rows, encode.ShardRow{
					ImdbID: id, Title: fmt.Sprintf("movie %d", id), Year: 2000, Genres: genres, Label: label,
					Split: split, Height: int32(sp.Height), Width: int32(sp.Width), Pixels: pix,
				})
				id++
			}
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	per := (len(rows) + sp.Shards - 1) / sp.Shards
	var shards [][]encode.ShardRow
	for s := range sp.Shards {
		shards = append(shards, rows[s*per:min((s+1)*per, len(rows))])
	}
	if _, err := (encodetest.Output{Genres: synthGenres, Height: sp.Height, Width: sp.Width}).WriteFiles(dir, shards...); err != nil {
		return nil, err
	}
	bySplit := map[string][]encode.ShardRow{}
	for _, r := range rows {
		bySplit[r.Split] = append(bySplit[r.Split], r)
	}
	return bySplit, nil
}

// smallConfig is a quick network for 24×16 synthetic posters.
func smallConfig() Config {
	c := trainconfig.Default()
	c.ConvFilters = []int{8, 16}
	c.Dense = []int{16}
	c.Dropout = 0.1
	c.Optimizer.LearningRate = 3e-3
	c.BatchSize = 16
	c.Epochs = 6
	c.ShuffleBuffer = 64
	c.Deterministic = true
	c.Device = "cpu"
	return c
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

func deepEqualValues(a, b any) bool { return reflect.DeepEqual(a, b) }

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
