package clean_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/clean/cleantest"
)

func ExampleStage_Run() {
	dir, _ := os.MkdirTemp("", "clean-example")
	defer os.RemoveAll(dir)
	env := cleantest.Build(&testing.T{}, dir, []cleantest.Movie{
		{ID: 1, Title: "Kept (2001)", Score: "7", Genres: "Drama|Romance", Poster: cleantest.JPEG(18, 27, 1)},
		{ID: 2, Title: "No poster (2002)", Score: "6", Genres: "Horror"},
		{ID: 1, Title: "Kept (2001)", Score: "7", Genres: "Drama|Romance", Poster: cleantest.JPEG(18, 27, 1)},
	})
	res, err := (&clean.Stage{Cfg: cleanconfig.Default()}).Run(context.Background(), env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("kept:", res.Summary["kept"], "rejects:", res.Summary["rejects"])
	// Output: kept: 1 rejects: map[duplicate_id:1 no_poster:1]
}
