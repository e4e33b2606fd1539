package encode_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/stages"
)

func TestTargetSize(t *testing.T) {
	for _, tc := range []struct {
		im   encode.Image
		w, h int
	}{
		{encode.Image{ShrinkPercent: 30}, 55, 80},   // 54.6, 80.4
		{encode.Image{ShrinkPercent: 40}, 73, 107},  // 72.8, 107.2
		{encode.Image{ShrinkPercent: 50}, 91, 134},  // 91, 134
		{encode.Image{ShrinkPercent: 60}, 109, 161}, // 109.2, 160.8
		{encode.Image{ShrinkPercent: 70}, 127, 188}, // 127.4, 187.6
		{encode.Image{ShrinkPercent: 100}, 182, 268},
		{encode.Image{ShrinkPercent: 0.1}, 1, 1},
		{encode.Image{ShrinkPercent: 40, Width: 64, Height: 96}, 64, 96},
	} {
		if w, h := encode.TargetSize(tc.im); w != tc.w || h != tc.h {
			t.Errorf("TargetSize(%+v) = %d×%d, want %d×%d", tc.im, w, h, tc.w, tc.h)
		}
	}
}

func TestPaperSplits(t *testing.T) {
	// Hand-numbered: within each year, ascending id order, test rows counted.
	//  2000: 3(1) 5(2) 8(3) 9(4) 10(5) 12(6→val) 14(7 test) 21(8 test) 28(9 test)
	//  2001: 1(1) 2(2) 4(3) 6(4) 11(5) 42(6, but test)
	//  1999: 13(1) 15(2) 16(3) 17(4) 18(5) 19(6→val) 20(7)
	type k = encode.SplitKey
	keys := []k{
		{14, 2000}, {3, 2000}, {42, 2001}, {5, 2000}, {19, 1999}, {21, 2000}, {8, 2000}, {1, 2001}, {9, 2000},
		{10, 2000}, {2, 2001}, {28, 2000}, {12, 2000}, {4, 2001}, {6, 2001}, {11, 2001},
		{13, 1999}, {15, 1999}, {16, 1999}, {17, 1999}, {18, 1999}, {20, 1999},
	}
	want := map[int64]string{12: "validation", 19: "validation", 14: "test", 21: "test", 28: "test", 42: "test"}
	check := func(keys []k) {
		got := encode.PaperSplits(keys)
		for i, kk := range keys {
			w := want[kk.ImdbID]
			if w == "" {
				w = "train"
			}
			if got[i] != w {
				t.Errorf("id %d (%d): %s, want %s", kk.ImdbID, kk.Year, got[i], w)
			}
		}
	}
	check(keys)
	// Independent of row order.
	r := rand.New(rand.NewSource(1))
	shuffled := slices.Clone(keys)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	check(shuffled)
}

// Ids of real catalogues are clustered (consecutive, or one residue apart):
// every small window of them must still split near the fractions.
func TestHashSplitFractionsOnClusteredIDs(t *testing.T) {
	s := encode.Split{Method: "hash", Train: 0.7, Validation: 0.15, Test: 0.15}
	for _, tc := range []struct{ start, stride int64 }{{1000003, 7}, {1, 1}, {400000, 10}, {2000000, 1}} {
		counts := map[string]int{}
		for i := int64(0); i < 200; i++ {
			counts[encode.HashSplit(tc.start+i*tc.stride, s)]++
		}
		if counts["validation"] < 15 || counts["test"] < 15 || counts["train"] < 115 {
			t.Errorf("ids %d+%d·i: 200 ids split %v, want about 140/30/30", tc.start, tc.stride, counts)
		}
	}
}

// TestEraSplit: the test years are the test split, whatever the id; the
// earlier years fall into train and validation only, in about the ratio
// asked, each id where the hash puts it.
func TestEraSplit(t *testing.T) {
	s := encode.Split{Method: "era", Train: 0.8, Validation: 0.1, Test: 0.1, TestFrom: 2013}
	counts := map[int32]map[string]int{}
	for id := int64(1); id <= 4000; id++ {
		year := int32(1997 + id%21) // 1997..2017
		sp := encode.EraSplit(encode.SplitKey{ImdbID: id, Year: year}, s)
		if counts[year] == nil {
			counts[year] = map[string]int{}
		}
		counts[year][sp]++
		if again := encode.EraSplit(encode.SplitKey{ImdbID: id, Year: year}, s); again != sp {
			t.Fatalf("id %d: %s, then %s", id, sp, again)
		}
	}
	for year, c := range counts {
		switch {
		case year >= 2013 && (c["test"] == 0 || c["train"]+c["validation"] > 0):
			t.Errorf("%d (a test year): %v, want all test", year, c)
		case year < 2013 && c["test"] > 0:
			t.Errorf("%d (before test_from): %v, want no test", year, c)
		}
	}
	var tr, va int
	for year, c := range counts {
		if year < 2013 {
			tr, va = tr+c["train"], va+c["validation"]
		}
	}
	// 8:1 asked: validation is 1/9 of the earlier years (±2 points).
	if share := float64(va) / float64(tr+va); share < 0.09 || share > 0.13 {
		t.Errorf("validation %d of %d earlier rows (%.3f), want about 1/9", va, tr+va, share)
	}
}

func TestHashSplitStable(t *testing.T) {
	s := encode.Split{Method: "hash", Train: 0.8, Validation: 0.1, Test: 0.1, Salt: "x"}
	first := map[int64]string{}
	counts := map[string]int{}
	for id := int64(1); id <= 20000; id++ {
		first[id] = encode.HashSplit(id, s)
		counts[first[id]]++
	}
	// A hash of the id alone: a bigger set, in another order, moves nothing.
	for id := int64(40000); id >= 1; id-- {
		if sp := encode.HashSplit(id, s); id <= 20000 && sp != first[id] {
			t.Fatalf("id %d moved from %s to %s", id, first[id], sp)
		}
	}
	if counts["train"] < 15600 || counts["train"] > 16400 || counts["validation"] < 1800 || counts["test"] < 1800 {
		t.Errorf("fractions off: %v", counts)
	}
	s.Salt = "y"
	moved := 0
	for id := int64(1); id <= 1000; id++ {
		if encode.HashSplit(id, s) != first[id] {
			moved++
		}
	}
	if moved == 0 {
		t.Error("salt changes nothing")
	}
}

func TestLabel(t *testing.T) {
	genres := []string{"Horror", "Romance", "Action", "Documentary"}
	for _, tc := range []struct {
		row  []string
		mode string
		want []float32
		ok   bool
	}{
		{[]string{"Action", "Romance", "Drama"}, "multi", []float32{0, 1, 1, 0}, true},
		{[]string{"Action", "Romance", "Drama"}, "first", []float32{0, 0, 1, 0}, true},
		{[]string{"Drama", "Romance", "Horror"}, "first", []float32{0, 1, 0, 0}, true},
		{[]string{"Drama", "Comedy"}, "multi", []float32{0, 0, 0, 0}, false},
		{[]string{"Documentary"}, "multi", []float32{0, 0, 0, 1}, true},
	} {
		got, ok := encode.Label(tc.row, genres, tc.mode)
		if !slices.Equal(got, tc.want) || ok != tc.ok {
			t.Errorf("Label(%q, %s) = %v, %v; want %v, %v", tc.row, tc.mode, got, ok, tc.want, tc.ok)
		}
	}
}

func TestVocabulary(t *testing.T) {
	v, c := encode.Vocabulary([][]string{{"Drama", "Comedy"}, {"Drama"}, {"Action", "Comedy"}, {"Horror"}})
	if !slices.Equal(v, []string{"Comedy", "Drama", "Action", "Horror"}) || c["Drama"] != 2 {
		t.Errorf("got %v %v", v, c)
	}
}

// uniform builds images of every colour model a decoder returns, filled
// with one colour, and checks PrepareImage gives that colour in RGB HWC.
func TestPrepareImageColourModels(t *testing.T) {
	r := image.Rect(0, 0, 182, 268)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	y, cb, cr := color.RGBToYCbCr(200, 100, 50)
	for i := range ycc.Y {
		ycc.Y[i] = y
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = cb, cr
	}
	gray := image.NewGray(r)
	for i := range gray.Pix {
		gray.Pix[i] = 90
	}
	cmyk := image.NewCMYK(r) // what image/jpeg returns for an Adobe CMYK JPEG
	for i := 0; i < len(cmyk.Pix); i += 4 {
		cmyk.Pix[i], cmyk.Pix[i+1], cmyk.Pix[i+2], cmyk.Pix[i+3] = 0, 155, 205, 55 // → 200,100,50
	}
	pal := image.NewPaletted(r, color.Palette{color.Black, color.RGBA{10, 20, 30, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = 1
	}
	nrgba := image.NewNRGBA(r)
	for i := 0; i < len(nrgba.Pix); i += 4 {
		nrgba.Pix[i], nrgba.Pix[i+1], nrgba.Pix[i+2], nrgba.Pix[i+3] = 255, 255, 255, 0 // transparent → black
	}
	for _, tc := range []struct {
		name    string
		img     image.Image
		r, g, b int
	}{
		{"ycbcr420", ycc, 200, 100, 50},
		{"gray", gray, 90, 90, 90},
		{"cmyk", cmyk, 200, 78, 39}, // (255-c)(255-k)/255 per channel
		{"paletted", pal, 10, 20, 30},
		{"transparent", nrgba, 0, 0, 0},
	} {
		for _, filter := range []string{"catmullrom", "bilinear", "nearest", "box"} {
			px := encode.PrepareImage(tc.img, 73, 107, "stretch", filter)
			if len(px) != 73*107*3 {
				t.Fatalf("%s: %d bytes", tc.name, len(px))
			}
			for i := 0; i < len(px); i += 3 {
				if abs(int(px[i])-tc.r) > 2 || abs(int(px[i+1])-tc.g) > 2 || abs(int(px[i+2])-tc.b) > 2 {
					t.Errorf("%s/%s: pixel %d = %v, want ≈ %d,%d,%d", tc.name, filter, i/3, px[i:i+3], tc.r, tc.g, tc.b)
					break
				}
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestPrepareImageFit(t *testing.T) {
	// A wide white poster (400×100) into 73×107.
	img := image.NewRGBA(image.Rect(0, 0, 400, 100))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	at := func(px []byte, x, y int) byte { return px[(y*73+x)*3] }
	stretch := encode.PrepareImage(img, 73, 107, "stretch", "catmullrom")
	crop := encode.PrepareImage(img, 73, 107, "crop", "catmullrom")
	pad := encode.PrepareImage(img, 73, 107, "pad", "catmullrom")
	if at(stretch, 0, 0) != 255 || at(crop, 0, 0) != 255 || at(crop, 36, 53) != 255 {
		t.Error("stretch/crop should fill the target")
	}
	if at(pad, 36, 0) != 0 || at(pad, 36, 106) != 0 || at(pad, 36, 53) != 255 {
		t.Errorf("pad: top %d bottom %d centre %d", at(pad, 36, 0), at(pad, 36, 106), at(pad, 36, 53))
	}
}

// movies is a fixture of n rows over a few genres and years, plus bad images.
func movies(n int) []cleantest.Movie {
	genres := []string{"Horror|Drama", "Romance", "Action|Romance", "Documentary", "Comedy|Drama", "Drama|Horror|Action"}
	var ms []cleantest.Movie
	for i := 0; i < n; i++ {
		id := int64(1000 + i*3)
		w, h := 182, 268
		if i%5 == 4 {
			w, h = 120, 90 // other sizes
		}
		ms = append(ms, cleantest.Movie{
			ID: id, Title: fmt.Sprintf("Film %d (%d)", i, 1995+i%25), Score: "6.5",
			Genres: genres[i%len(genres)], Poster: cleantest.JPEG(w, h, i),
		})
	}
	return ms
}

// run runs clean (images not verified, so bad ones reach encode) then encode.
func run(t *testing.T, ms []cleantest.Movie, cfg encode.Config) (stages.Env, stages.Result) {
	t.Helper()
	ccfg := cleanconfig.Default()
	ccfg.VerifyImages = false
	env := cleantest.Clean(t, t.TempDir(), ms, ccfg)
	res, err := (&encode.Stage{Cfg: cfg}).Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	return env, res
}

func paperConfig() encode.Config {
	cfg := encodeconfig.Default()
	cfg.Genres = []string{"Horror", "Romance", "Action", "Documentary"}
	cfg.YearMin, cfg.YearMax = 1997, 2017
	cfg.Split.Method = "paper"
	cfg.ShardRows, cfg.RowGroupRows = 7, 3
	return cfg
}

func TestRunDeterministicAcrossWorkers(t *testing.T) {
	ms := movies(40)
	var sums [][]string
	for _, workers := range []int{1, 4} {
		cfg := paperConfig()
		cfg.Workers = workers
		env, _ := run(t, ms, cfg)
		m, err := encode.ReadManifest(env.OutDir)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, sh := range m.Shards {
			b, _ := os.ReadFile(filepath.Join(env.OutDir, sh.File))
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != sh.SHA256 {
				t.Errorf("%s: manifest sha256 does not match the file", sh.File)
			}
			s = append(s, sh.SHA256)
		}
		sums = append(sums, s)
	}
	if !slices.Equal(sums[0], sums[1]) || len(sums[0]) < 2 {
		t.Errorf("shards differ between 1 and 4 workers:\n%v\n%v", sums[0], sums[1])
	}
}

func TestRunRowsAndRejects(t *testing.T) {
	ms := movies(30)
	good := cleantest.JPEG(182, 268, 77)
	bad := []cleantest.Movie{
		{ID: 9001, Title: "Trunc (2000)", Genres: "Horror", Score: "5", Poster: good[:bytes.Index(good, []byte{0xFF, 0xDA})+50]},
		{ID: 9002, Title: "Huge (2000)", Genres: "Horror", Score: "5", Poster: cleantest.HugeHeaderJPEG(20000, 20000)},
		{ID: 9003, Title: "Gray (2000)", Genres: "Horror", Score: "5", Poster: cleantest.GrayJPEG(182, 268)},
		{ID: 9004, Title: "Tiny (2000)", Genres: "Horror", Score: "5", Poster: cleantest.JPEG(1, 1, 0)},
	}
	ms = append(ms, bad...)
	cfg := paperConfig()
	env, res := run(t, ms, cfg)
	m, err := encode.ReadManifest(env.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := parquet.ReadFile[encode.Reject](filepath.Join(env.OutDir, encode.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[int64]string{}
	for _, r := range rejects {
		reasons[r.ImdbID] = r.Reason
	}
	// clean (no image verification) drops the huge header; encode drops the truncated one.
	if reasons[9001] != encode.ReasonCorruptImage {
		t.Errorf("truncated: %q", reasons[9001])
	}
	if m.Rows+m.Rejected != 33 {
		t.Errorf("rows %d + rejected %d != 33 clean rows (summary %v)", m.Rows, m.Rejected, res.Summary)
	}
	var ids []int64
	var prev int64 = -1
	err = encode.ForEachRow(context.Background(), env.OutDir, m, "", func(r encode.ShardRow) error {
		if int(r.Height) != 107 || int(r.Width) != 73 || len(r.Pixels) != 73*107*3 || len(r.Label) != 4 {
			t.Errorf("row %d: %d×%d, %d bytes, label %v", r.ImdbID, r.Width, r.Height, len(r.Pixels), r.Label)
		}
		if r.ImdbID <= prev && r.ImdbID < 9000 {
			t.Errorf("order: %d after %d", r.ImdbID, prev)
		}
		prev = r.ImdbID
		ids = append(ids, r.ImdbID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != m.Rows || !slices.Contains(ids, 9003) || !slices.Contains(ids, 9004) {
		t.Errorf("read %d rows (manifest %d): %v", len(ids), m.Rows, ids)
	}
	n := 0
	for _, sp := range []string{"train", "validation", "test"} {
		k := 0
		encode.ForEachRow(context.Background(), env.OutDir, m, sp, func(r encode.ShardRow) error {
			if r.Split != sp {
				t.Errorf("split filter")
			}
			k++
			return nil
		})
		if k != m.Splits[sp] {
			t.Errorf("%s: %d rows, manifest %d", sp, k, m.Splits[sp])
		}
		n += k
	}
	if n != m.Rows {
		t.Errorf("splits sum %d != %d", n, m.Rows)
	}
	// Key-value metadata.
	f, _ := os.Open(filepath.Join(env.OutDir, m.Shards[0].File))
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := pf.Lookup(encode.MetaGenres); v != `["Horror","Romance","Action","Documentary"]` {
		t.Errorf("genres metadata %q", v)
	}
	if v, _ := pf.Lookup(encode.MetaHeight); v != "107" {
		t.Errorf("height metadata %q", v)
	}
}

func TestRunLabelFirstAndHash(t *testing.T) {
	cfg := encodeconfig.Default()
	cfg.LabelMode = encodeconfig.LabelFirst
	cfg.Genres = []string{"Romance", "Horror"}
	env, res := run(t, movies(24), cfg)
	m, _ := encode.ReadManifest(env.OutDir)
	if res.Summary["rejects"].(map[string]int)[encode.ReasonNoSelectedGenre] == 0 {
		t.Errorf("no row dropped for lacking a selected genre: %v", res.Summary)
	}
	encode.ForEachRow(context.Background(), env.OutDir, m, "", func(r encode.ShardRow) error {
		sum := float32(0)
		for _, v := range r.Label {
			sum += v
		}
		if sum != 1 {
			t.Errorf("id %d: label %v is not one-hot", r.ImdbID, r.Label)
		}
		if r.Split != encode.HashSplit(r.ImdbID, cfg.Split) {
			t.Errorf("id %d: split %s", r.ImdbID, r.Split)
		}
		return nil
	})
	if len(m.Vocabulary) != 6 || m.Vocabulary[0] != "Drama" {
		t.Errorf("vocabulary %v", m.Vocabulary)
	}
}

func TestPyarrowReadsShards(t *testing.T) {
	py := os.Getenv("PYTHON")
	if py == "" {
		t.Skip("PYTHON unset (make test sets it to .venv/bin/python with pyarrow)")
	}
	env, _ := run(t, movies(20), paperConfig())
	m, _ := encode.ReadManifest(env.OutDir)
	args := []string{"testdata/read_shards.py"}
	for _, sh := range m.Shards {
		args = append(args, filepath.Join(env.OutDir, sh.File))
	}
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	type row struct {
		ImdbID       int64     `json:"imdb_id"`
		Label        []float32 `json:"label"`
		Split        string    `json:"split"`
		Genres       []string  `json:"genres"`
		PixelsSHA256 string    `json:"pixels_sha256"`
		PixelsLen    int       `json:"pixels_len"`
	}
	var got struct {
		Rows  []row
		Meta  []map[string]string
		Types map[string]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var want []row
	encode.ForEachRow(context.Background(), env.OutDir, m, "", func(r encode.ShardRow) error {
		s := sha256.Sum256(r.Pixels)
		want = append(want, row{r.ImdbID, r.Label, r.Split, r.Genres, hex.EncodeToString(s[:]), len(r.Pixels)})
		return nil
	})
	if len(got.Rows) != len(want) || len(want) == 0 {
		t.Fatalf("pyarrow read %d rows, Go %d", len(got.Rows), len(want))
	}
	for i := range want {
		g, w := got.Rows[i], want[i]
		if g.ImdbID != w.ImdbID || !slices.Equal(g.Label, w.Label) || g.Split != w.Split || !slices.Equal(g.Genres, w.Genres) || g.PixelsSHA256 != w.PixelsSHA256 {
			t.Errorf("row %d: pyarrow %+v, Go %+v", i, g, w)
		}
	}
	if !strings.HasPrefix(got.Types["label"], "list<element: float") || !strings.HasPrefix(got.Types["genres"], "list<element: string") {
		t.Errorf("types %v", got.Types)
	}
	if got.Meta[0]["width"] != "73" || got.Meta[0]["genres"] == "" {
		t.Errorf("metadata %v", got.Meta[0])
	}
}
