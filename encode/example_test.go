package encode_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/stages"
)

func ExampleStage_Run() {
	dir, _ := os.MkdirTemp("", "encode-example")
	defer os.RemoveAll(dir)
	cenv := cleantest.Build(&testing.T{}, dir, []cleantest.Movie{
		{ID: 7, Title: "A (2001)", Score: "7", Genres: "Drama|Romance", Poster: cleantest.JPEG(182, 268, 1)},
		{ID: 8, Title: "B (2002)", Score: "6", Genres: "Horror|Action", Poster: cleantest.JPEG(182, 268, 2)},
		{ID: 9, Title: "C (2003)", Score: "6", Genres: "Comedy", Poster: cleantest.JPEG(182, 268, 3)},
	})
	if _, err := (&clean.Stage{Cfg: cleanconfig.Default()}).Run(context.Background(), cenv); err != nil {
		fmt.Println(err)
		return
	}
	cfg := encodeconfig.Default()
	cfg.Genres = []string{"Horror", "Romance", "Action", "Documentary"}
	cfg.Split.Method = "paper"
	out := filepath.Join(dir, "encode")
	os.Mkdir(out, 0o755)
	env := stages.Env{OutDir: out, Inputs: map[string]string{stages.Clean: cenv.OutDir}, PosterStore: cenv.PosterStore}
	if _, err := (&encode.Stage{Cfg: cfg}).Run(context.Background(), env); err != nil {
		fmt.Println(err)
		return
	}
	m, _ := encode.ReadManifest(out)
	fmt.Println(m.Rows, "rows of", m.Width, "×", m.Height, m.Splits)
	encode.ForEachRow(context.Background(), out, m, "", func(r encode.ShardRow) error {
		fmt.Println(r.ImdbID, r.Split, r.Label, len(r.Pixels))
		return nil
	})
	// Output:
	// 2 rows of 73 × 107 map[test:1 train:1]
	// 7 test [0 1 0 0] 23433
	// 8 train [1 0 1 0] 23433
}
