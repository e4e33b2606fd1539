package encode_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
)

// TestMaxPixelsFromInputs checks that scrape's max_pixels, recorded beside
// its ledger, is what clean applies and forwards, and that encode applies
// the limit recorded in its clean input: no stage hard-codes its own.
func TestMaxPixelsFromInputs(t *testing.T) {
	dir := t.TempDir()
	env := cleantest.Build(t, dir, []cleantest.Movie{
		{ID: 1, Title: "Small (2001)", Score: "5", Genres: "Drama", Poster: cleantest.JPEG(30, 44, 1)},  // 1,320 px
		{ID: 2, Title: "Large (2002)", Score: "5", Genres: "Drama", Poster: cleantest.JPEG(120, 90, 2)}, // 10,800 px
	})
	if err := scrape.WriteLimits(env.Inputs[stages.Scrape], scrape.Limits{MaxPixels: 5000, CSV: moviegenre.DefaultLimits()}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&clean.Stage{Cfg: cleanconfig.Default()}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	rejects, err := parquet.ReadFile[clean.Reject](filepath.Join(env.OutDir, clean.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rejects) != 1 || rejects[0].ImdbID != 2 || rejects[0].Reason != clean.ReasonTooManyPixels {
		t.Fatalf("clean rejects %+v, want imdbId 2 too_many_pixels", rejects)
	}
	if lim, err := scrape.ReadLimits(env.OutDir); err != nil || lim.MaxPixels != 5000 {
		t.Fatalf("clean forwarded %+v, %v", lim, err)
	}

	// Encode reads the limit from its clean input: a lower one there refuses
	// the poster clean kept.
	if err := scrape.WriteLimits(env.OutDir, scrape.Limits{MaxPixels: 1000, CSV: moviegenre.DefaultLimits()}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "encode")
	os.MkdirAll(out, 0o755)
	eenv := stages.Env{OutDir: out, Inputs: map[string]string{stages.Clean: env.OutDir}, PosterStore: env.PosterStore}
	res, err := (&encode.Stage{Cfg: encodeconfig.Default()}).Run(context.Background(), eenv)
	if err != nil {
		t.Fatal(err)
	}
	erej, err := parquet.ReadFile[encode.Reject](filepath.Join(out, encode.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(erej) != 1 || erej[0].Reason != encode.ReasonTooManyPixels || !strings.Contains(erej[0].Detail, "max_pixels 1000") {
		t.Fatalf("encode rejects %+v (summary %v), want one too_many_pixels under max_pixels 1000", erej, res.Summary)
	}
}
