package serve_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/demodata"
	"github.com/postergenre/postergenre/app/serve"
)

// nonPoster is a synthetic non-poster (demodata.NonPoster) as PNG.
func nonPoster(t testing.TB, kind string) []byte {
	t.Helper()
	img, err := demodata.NonPoster(kind, rand.New(rand.NewSource(5)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestExplainAPI: ?explain=top and ?explain=GENRE return that genre's
// heatmap (a PNG data URI and the grid, matching Model.Analyze's), the
// poster fields are set, an unknown genre is a 400 naming the genres, and
// the probabilities do not change with an explanation.
func TestExplainAPI(t *testing.T) {
	srv, model := newServer(t, serve.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	data, img := poster(t, 0, 3)
	plain, err := model.Analyze(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	genres := model.Meta().Genres
	for _, tc := range []struct {
		explain, want string
		status        int
	}{
		{"", "", 200},
		{"top", "", 200}, // the top genre, filled in below
		{genres[len(genres)-1], genres[len(genres)-1], 200},
		{"Western", "", 400},
	} {
		t.Run("explain="+tc.explain, func(t *testing.T) {
			resp, err := http.Post(ts.URL+"/api/predict?explain="+tc.explain, "image/jpeg", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				e := decodeJSON[map[string]string](t, resp.Body)
				if e["reason"] != "unknown_genre" || !strings.Contains(e["error"], genres[0]) {
					t.Errorf("error %v: want reason unknown_genre naming the genres", e)
				}
				return
			}
			p := decodeJSON[serve.Prediction](t, resp.Body)
			for _, g := range p.Genres {
				if i := model.GenreIndex(g.Genre); g.Probability != plain.Probs[i] {
					t.Errorf("%s: %g, without explanation %g", g.Genre, g.Probability, plain.Probs[i])
				}
			}
			if p.PosterScore == nil || p.LooksLikePoster == nil || *p.PosterScore < 0 || *p.PosterScore > 1 {
				t.Errorf("poster_score %v, looks_like_poster %v: want both set, score in [0,1]", p.PosterScore, p.LooksLikePoster)
			}
			want := tc.want
			if tc.explain == "top" {
				want = p.Top
			}
			if want == "" {
				if p.Heatmap != nil {
					t.Errorf("a heatmap without ?explain")
				}
				return
			}
			checkExplanation(t, p.Heatmap, want)
			a, err := model.Analyze(img, []int{model.GenreIndex(want)})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range a.Heatmaps[0].Values {
				if p.Heatmap.Grid.Values[i] != v {
					t.Fatalf("grid cell %d: %g, Analyze %g", i, p.Heatmap.Grid.Values[i], v)
				}
			}
		})
	}
}

func checkExplanation(t *testing.T, h *serve.Explanation, genre string) {
	t.Helper()
	if h == nil || h.Genre != genre {
		t.Fatalf("heatmap %+v, want one for %s", h, genre)
	}
	raw, ok := strings.CutPrefix(h.PNG, "data:image/png;base64,")
	if !ok {
		t.Fatalf("png %.40q: want a PNG data URI", h.PNG)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	g := h.Grid
	if err != nil || cfg.Width < g.InputWidth || cfg.Height < g.InputHeight || cfg.Width > 300 || cfg.Height > 300 {
		t.Errorf("overlay %dx%d (%v): want the input size %dx%d or an enlargement up to 300 px", cfg.Width, cfg.Height, err, g.InputWidth, g.InputHeight)
	}
	if g.Rows < 1 || g.Cols < 1 || len(g.Values) != g.Rows*g.Cols || g.Stride <= 0 {
		t.Errorf("grid %d×%d with %d values, stride %g", g.Rows, g.Cols, len(g.Values), g.Stride)
	}
}

// TestNotAPoster: a flat colour gets looks_like_poster false and the
// message the page shows. (The fixture's model is too small to judge every
// kind of non-poster: the demo test in app/cli measures that.)
func TestNotAPoster(t *testing.T) {
	srv, _ := newServer(t, serve.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, kind := range []string{"flat"} {
		t.Run(kind, func(t *testing.T) {
			resp, err := http.Post(ts.URL+"/api/predict", "image/png", bytes.NewReader(nonPoster(t, kind)))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			p := decodeJSON[serve.Prediction](t, resp.Body)
			if p.LooksLikePoster == nil || *p.LooksLikePoster || p.PosterNote != serve.NotAPoster {
				t.Errorf("looks_like_poster %v (score %v), note %q: want false and %q", deref(p.LooksLikePoster), deref(p.PosterScore), p.PosterNote, serve.NotAPoster)
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
