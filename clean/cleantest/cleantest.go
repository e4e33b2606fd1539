// Package cleantest builds small scrape outputs and poster stores for tests
// of the clean stage and the stages after it.
package cleantest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/poster/postertest"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
)

// Movie is one CSV row of a fixture.
type Movie struct {
	ID     int64
	Title  string // UTF-8 here; written as ISO-8859-1 (moviegenre.Writer)
	Score  string
	Genres string
	URL    string // poster link; "" = default https link, "-" = empty field
	Poster []byte // nil = no poster (ledger: failed http_404)
	Raw    string // when set, written instead of the fields (UTF-8, without line end)
}

// Poster images, from postertest (kept here for the tests that build a
// scrape output with them).
var (
	JPEG           = postertest.JPEG
	GrayJPEG       = postertest.GrayJPEG
	HugeHeaderJPEG = postertest.HugeHeaderJPEG
	PNGHeader      = postertest.PNGHeader
)

// Build writes dir/scrape/{movies.csv,ledger.parquet} and dir/store/<id>.jpg
// for movies (one physical CRLF line each, header = line 1) and returns an
// Env for the clean stage with OutDir dir/clean (created).
func Build(t testing.TB, dir string, movies []Movie) stages.Env {
	t.Helper()
	scr, store, out := filepath.Join(dir, "scrape"), filepath.Join(dir, "store"), filepath.Join(dir, "clean")
	for _, d := range []string{scr, store, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var csv bytes.Buffer
	w, err := moviegenre.NewWriter(&csv)
	if err != nil {
		t.Fatal(err)
	}
	var ledger []scrape.LedgerRow
	for i, m := range movies {
		line := int64(i + 2)
		if m.Raw != "" {
			if err := w.WriteRaw(m.Raw); err != nil {
				t.Fatal(err)
			}
			ledger = append(ledger, scrape.LedgerRow{Line: line, ImdbID: m.ID, Outcome: scrape.OutcomeSkipped, Reason: "malformed_row"})
			continue
		}
		url := m.URL
		switch url {
		case "":
			url = fmt.Sprintf("https://images.example/%d.jpg", m.ID)
		case "-":
			url = ""
		}
		fields := []string{fmt.Sprint(m.ID), fmt.Sprintf("http://www.imdb.com/title/tt%d", m.ID), m.Title, m.Score, m.Genres, url}
		if err := w.Write(fields); err != nil {
			t.Fatal(err)
		}
		l := scrape.LedgerRow{Line: line, ImdbID: m.ID, URL: url}
		if m.Poster != nil {
			name := fmt.Sprintf("%d.jpg", m.ID)
			if err := os.WriteFile(filepath.Join(store, name), m.Poster, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(m.Poster)
			l.Outcome, l.Source, l.Path, l.SHA256 = scrape.OutcomePresent, "store", name, hex.EncodeToString(sum[:])
		} else {
			l.Outcome, l.Reason = scrape.OutcomeFailed, "http_404"
		}
		ledger = append(ledger, l)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scr, scrape.CSVFile), csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(filepath.Join(scr, scrape.LedgerFile), ledger); err != nil {
		t.Fatal(err)
	}
	return stages.Env{
		OutDir:      out,
		Inputs:      map[string]string{stages.Scrape: scr},
		PosterStore: store,
		Workdir:     dir,
	}
}

// Clean builds movies' scrape output under dir (Build), runs the clean
// stage on it with cfg, and returns an Env for the encode stage: OutDir
// dir/encode (created), the clean output as its input, the poster store.
func Clean(t testing.TB, dir string, movies []Movie, cfg cleanconfig.Config) stages.Env {
	t.Helper()
	cenv := Build(t, dir, movies)
	if _, err := (&clean.Stage{Cfg: cfg}).Run(context.Background(), cenv); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "encode")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return stages.Env{OutDir: out, Inputs: map[string]string{stages.Clean: cenv.OutDir}, PosterStore: cenv.PosterStore}
}
