// Package cleantest builds small scrape outputs and poster stores for tests
// of the clean stage and the stages after it.
package cleantest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/internal/moviegenre"
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

// JPEG encodes a w×h image with a colour pattern derived from seed.
func JPEG(w, h int, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x*7 + seed*31), uint8(y*5 + seed*17), uint8((x + y + seed) * 3), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// GrayJPEG encodes a w×h grayscale JPEG (one component).
func GrayJPEG(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// HugeHeaderJPEG is a small valid JPEG whose frame header claims w×h.
func HugeHeaderJPEG(w, h int) []byte {
	b := JPEG(8, 8, 1)
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		panic("no SOF0")
	}
	binary.BigEndian.PutUint16(b[i+5:], uint16(h))
	binary.BigEndian.PutUint16(b[i+7:], uint16(w))
	return b
}

// PNGHeader is a PNG signature and an IHDR chunk declaring w×h, and no
// pixel data: a decompression bomb's header.
func PNGHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

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
