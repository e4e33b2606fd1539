package clean_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/clean/cleantest"
)

func TestParseYear(t *testing.T) {
	for _, tc := range []struct {
		title, name string
		year        int
		ok          bool
	}{
		{"Toy Story (1995)", "Toy Story", 1995, true},
		{"Toy Story (1995) ", "Toy Story", 1995, true},
		{"M (1931)", "M", 1931, true},
		{"(2001)", "", 2001, true},
		{"Untitled", "Untitled", 0, false},
		{"Movie (19x5)", "Movie (19x5)", 0, false},
		{"Movie (1995) extra", "Movie (1995) extra", 0, false},
		{"Movie 1995)", "Movie 1995)", 0, false},
		{"", "", 0, false},
	} {
		name, year, ok := clean.ParseYear(tc.title)
		if name != tc.name || year != tc.year || ok != tc.ok {
			t.Errorf("ParseYear(%q) = %q, %d, %v; want %q, %d, %v", tc.title, name, year, ok, tc.name, tc.year, tc.ok)
		}
	}
}

func TestSplitGenres(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Animation|Adventure|Comedy", []string{"Animation", "Adventure", "Comedy"}},
		{"Drama", []string{"Drama"}},
		{"", nil},
		{"Drama||Comedy|", []string{"Drama", "Comedy"}},
		{" Drama | Sci-Fi ", []string{"Drama", "Sci-Fi"}},
	} {
		if got := clean.SplitGenres(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitGenres(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPaperFilterReason(t *testing.T) {
	two := []string{"Drama", "Romance"}
	for _, tc := range []struct {
		url, name string
		year      int
		hasYear   bool
		genres    []string
		want      string
	}{
		{"https://x/a.jpg", "Film", 2000, true, two, ""},
		{"http://x/a.jpg", "Film", 2000, true, two, clean.ReasonPaperNotHTTPS},
		{"", "Film", 2000, true, two, clean.ReasonPaperNotHTTPS},
		{"https://x/a.jpg", "Film", 1899, true, two, clean.ReasonPaperYear},
		{"https://x/a.jpg", "Film", 1900, true, two, ""},
		{"https://x/a.jpg", "Film", 2018, true, two, ""},
		{"https://x/a.jpg", "Film", 2019, true, two, clean.ReasonPaperYear},
		{"https://x/a.jpg", "Film", 0, false, two, clean.ReasonPaperYear},
		{"https://x/a.jpg", "M (1931)", 1931, true, two, ""},
		{"https://x/a.jpg", "M", 0, false, two, clean.ReasonPaperYear},
		{"https://x/a.jpg", "Up (2009)", 2009, true, two, ""},
		{"https://x/a.jpg", "Film", 2000, true, []string{"Drama"}, clean.ReasonPaperSingleGenre},
	} {
		if got := clean.PaperFilterReason(tc.url, tc.name, tc.year, tc.hasYear, tc.genres); got != tc.want {
			t.Errorf("PaperFilterReason(%q, %q, %d, %v, %q) = %q, want %q", tc.url, tc.name, tc.year, tc.hasYear, tc.genres, got, tc.want)
		}
	}
}

func pngBytes() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 10, 12))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func onePixel() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// fixture covers every reason; want maps CSV line → reason ("" = kept).
func fixture() ([]cleantest.Movie, map[int64]string) {
	good := cleantest.JPEG(30, 44, 1)
	shared := cleantest.JPEG(30, 44, 9)
	truncated := cleantest.JPEG(30, 44, 2)
	truncated = truncated[:bytes.Index(truncated, []byte{0xFF, 0xDA})+40] // cut inside the scan
	movies := []cleantest.Movie{
		{ID: 1, Title: "Good (2001)", Score: "7.1", Genres: "Drama|Romance", Poster: good},                           // 2
		{ID: 2, Title: "Amélie (2001)", Score: "8.3", Genres: "Comedy|Romance", Poster: shared},                      // 3
		{ID: 3, Title: "No Genre (2002)", Score: "5", Genres: "", Poster: good},                                      // 4
		{ID: 4, Title: "No Link (2002)", Score: "5", Genres: "Drama", URL: "-", Poster: good},                        // 5
		{ID: 5, Title: "Missing (2003)", Score: "5", Genres: "Drama"},                                                // 6
		{ID: 6, Title: "Corrupt (2003)", Score: "5", Genres: "Drama", Poster: []byte("not an image")},                // 7
		{ID: 7, Title: "Truncated (2003)", Score: "5", Genres: "Drama", Poster: truncated},                           // 8
		{ID: 8, Title: "Zero (2003)", Score: "5", Genres: "Drama", Poster: []byte{}},                                 // 9
		{ID: 9, Title: "PNG (2003)", Score: "5", Genres: "Horror", Poster: pngBytes()},                               // 10
		{ID: 10, Title: "Tiny (2003)", Score: "5", Genres: "Horror", Poster: onePixel()},                             // 11
		{ID: 11, Title: "Huge (2003)", Score: "5", Genres: "Horror", Poster: cleantest.HugeHeaderJPEG(20000, 20000)}, // 12
		{ID: 12, Title: "Gray (2004)", Score: "5", Genres: "Action", Poster: cleantest.GrayJPEG(20, 30)},             // 13
		{ID: 1, Title: "Good (2001)", Score: "7.1", Genres: "Drama|Romance", Poster: good},                           // 14 exact copy
		{ID: 2, Title: "Amélie (2001)", Score: "9.9", Genres: "Comedy|Romance", Poster: shared},                      // 15 conflict
		{ID: 13, Title: "Bad Score (2004)", Score: "abc", Genres: "Action", Poster: good},                            // 16
		{ID: 14, Raw: "14,http://x,Too,Many,Fields,here,extra"},                                                      // 17
		{ID: 15, Title: "Shares, a poster (2005)", Score: "6", Genres: "Action|Drama", Poster: shared},               // 18
		{ID: 16, Title: "No Year", Score: "6", Genres: "Action|Drama", Poster: good},                                 // 19
	}
	want := map[int64]string{
		2: "", 3: "", 4: "empty_Genre", 5: "empty_Poster", 6: clean.ReasonNoPoster, 7: clean.ReasonCorruptImage,
		8: clean.ReasonCorruptImage, 9: clean.ReasonCorruptImage, 10: "", 11: "", 12: clean.ReasonTooManyPixels,
		13: "", 14: clean.ReasonDuplicateID, 15: clean.ReasonDuplicateIDConflict, 16: clean.ReasonBadScore,
		17: clean.ReasonMalformedRow, 18: "", 19: "",
	}
	return movies, want
}

func TestRunAccountsForEveryRow(t *testing.T) {
	movies, want := fixture()
	env := cleantest.Build(t, t.TempDir(), movies)
	st := &clean.Stage{Cfg: cleanconfig.Default()}
	res, err := st.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.ReadFile[clean.Row](filepath.Join(env.OutDir, clean.RowsFile))
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := parquet.ReadFile[clean.Reject](filepath.Join(env.OutDir, clean.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)+len(rejects) != len(movies) {
		t.Fatalf("%d kept + %d rejected != %d rows", len(rows), len(rejects), len(movies))
	}
	got := map[int64]string{}
	for _, r := range rows {
		got[r.Line] = ""
	}
	for _, r := range rejects {
		got[r.Line] = r.Reason
	}
	for line, reason := range want {
		if g, ok := got[line]; !ok || g != reason {
			t.Errorf("line %d: got %q (present %v), want %q", line, g, ok, reason)
		}
	}
	if res.Summary["kept"] != len(rows) || res.Summary["csv_rows"] != len(movies) {
		t.Errorf("summary %v", res.Summary)
	}
	byLine := map[int64]clean.Row{}
	for _, r := range rows {
		byLine[r.Line] = r
	}
	if r := byLine[3]; r.Title != "Amélie (2001)" || r.Year != 2001 || r.Score != 8.3 || !slices.Equal(r.Genres, []string{"Comedy", "Romance"}) || r.PosterWidth != 30 || r.PosterHeight != 44 || len(r.PosterSHA256) != 64 {
		t.Errorf("row 3 = %+v", r)
	}
	if r := byLine[10]; r.PosterFormat != "png" {
		t.Errorf("PNG named .jpg: format %q", r.PosterFormat)
	}
	if r := byLine[19]; r.Year != 0 {
		t.Errorf("no-year row: year %d", r.Year)
	}
	var shared []clean.SharedPoster
	b, _ := os.ReadFile(filepath.Join(env.OutDir, clean.SharedPostersFile))
	if err := json.Unmarshal(b, &shared); err != nil {
		t.Fatal(err)
	}
	if len(shared) != 2 || !slices.Equal(shared[0].IDs, []int64{1, 16}) || !slices.Equal(shared[1].IDs, []int64{2, 15}) {
		t.Errorf("shared posters = %+v", shared)
	}
}

// TestRunRejectsChangedPoster: a poster overwritten in the store after the
// scrape (another movie's poster, still a valid image) is not the poster
// scraped for its row; clean must not train on it.
func TestRunRejectsChangedPoster(t *testing.T) {
	movies, want := fixture()
	env := cleantest.Build(t, t.TempDir(), movies)
	// Line 2 (id 1) now holds id 9's poster; line 3 (id 2) is gone.
	if err := os.WriteFile(filepath.Join(env.PosterStore, "1.jpg"), movies[8].Poster, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(env.PosterStore, "2.jpg")); err != nil {
		t.Fatal(err)
	}
	want[2], want[3] = clean.ReasonPosterChanged, clean.ReasonNoPoster
	if _, err := (&clean.Stage{Cfg: cleanconfig.Default()}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	rejects, err := parquet.ReadFile[clean.Reject](filepath.Join(env.OutDir, clean.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]clean.Reject{}
	for _, r := range rejects {
		got[r.Line] = r
	}
	for line, reason := range want {
		if reason != "" && got[line].Reason != reason {
			t.Errorf("line %d: %q (%s), want %q", line, got[line].Reason, got[line].Detail, reason)
		}
	}
	if d := got[2].Detail; !strings.Contains(d, "1.jpg") {
		t.Errorf("poster_changed detail %q does not name the file", d)
	}
}

func TestRunConfigVariants(t *testing.T) {
	movies, _ := fixture()
	for _, tc := range []struct {
		name    string
		cfg     func(*clean.Config)
		reasons map[string]int // reasons that must be present with these counts
		kept    int
	}{
		{"no dedupe", func(c *clean.Config) { c.Dedupe = false }, map[string]int{clean.ReasonDuplicateID: 0}, 9},
		{"year range", func(c *clean.Config) { c.YearMin, c.YearMax = 2002, 2004 }, map[string]int{clean.ReasonNoYear: 1, clean.ReasonYearOutOfRange: 5}, 3},
		{"paper filter", func(c *clean.Config) { c.PaperFilter, c.Dedupe = true, false }, map[string]int{clean.ReasonPaperSingleGenre: 8, clean.ReasonPaperYear: 1}, 5},
		{"no verify", func(c *clean.Config) { c.VerifyImages = false }, map[string]int{clean.ReasonCorruptImage: 2}, 8},
		{"only id required", func(c *clean.Config) { c.RequiredFields = []string{"imdbId"} }, map[string]int{"empty_Genre": 0}, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := cleantest.Build(t, t.TempDir(), movies)
			cfg := cleanconfig.Default()
			tc.cfg(&cfg)
			res, err := (&clean.Stage{Cfg: cfg}).Run(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Summary["rejects"].(map[string]int)
			for r, n := range tc.reasons {
				if got[r] != n {
					t.Errorf("%s: %d, want %d (all %v)", r, got[r], n, got)
				}
			}
			if res.Summary["kept"] != tc.kept {
				t.Errorf("kept %v, want %d (rejects %v)", res.Summary["kept"], tc.kept, got)
			}
			if res.Summary["kept"].(int)+res.Summary["rejected"].(int) != len(movies) {
				t.Errorf("not every row accounted for: %v", res.Summary)
			}
		})
	}
}

func TestRowsReadInPyarrow(t *testing.T) {
	py := os.Getenv("PYTHON")
	if py == "" {
		t.Skip("PYTHON unset (make test sets it to .venv/bin/python with pyarrow)")
	}
	movies, _ := fixture()
	env := cleantest.Build(t, t.TempDir(), movies)
	if _, err := (&clean.Stage{Cfg: cleanconfig.Default()}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	script := `import sys, json, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({"n": t.num_rows, "titles": t.column("title").to_pylist(), "genres": t.column("genres").to_pylist(), "type": str(t.schema.field("genres").type)}))`
	out, err := exec.Command(py, "-c", script, filepath.Join(env.OutDir, clean.RowsFile)).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got struct {
		N      int
		Titles []string
		Genres [][]string
		Type   string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rows, _ := parquet.ReadFile[clean.Row](filepath.Join(env.OutDir, clean.RowsFile))
	if got.N != len(rows) || !strings.HasPrefix(got.Type, "list<") {
		t.Fatalf("pyarrow: %+v", got)
	}
	for i, r := range rows {
		if got.Titles[i] != r.Title || !slices.Equal(got.Genres[i], r.Genres) {
			t.Errorf("row %d: pyarrow %q %q, Go %q %q", i, got.Titles[i], got.Genres[i], r.Title, r.Genres)
		}
	}
}

// TestHeaderOnlyScrapeOutputFails: clean given a scrape output whose CSV
// has no rows says so, naming the file.
func TestHeaderOnlyScrapeOutputFails(t *testing.T) {
	env := cleantest.Build(t, t.TempDir(), nil)
	_, err := (&clean.Stage{Cfg: cleanconfig.Default()}).Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "movies.csv: no data rows") {
		t.Errorf("error %v, want one naming movies.csv: no data rows", err)
	}
}
