package serve_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"net/http/httptest"

	"github.com/postergenre/postergenre/app/serve"
	"github.com/postergenre/postergenre/internal/browsertest"
)

// TestBrowser drives a real headless Chromium: it loads the page, uploads
// a generated poster through the file input (as a person choosing a file
// would), waits for the genre bars and reads them from the DOM; they must
// be the API's answer for that poster, and the heatmap of the top genre
// must be shown over the poster; a click on another genre shows its map.
// Then it uploads a flat colour, which must bring the "does not look like a movie
// poster" message. With SERVE_SCREENSHOT=path it also saves a screenshot of
// the page with the prediction and its heatmap, and of the non-poster
// beside it (path with "-nonposter" before the extension).
func TestBrowser(t *testing.T) {
	bin := browsertest.Find(t)
	srv, model := newServer(t, serve.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	data, img := poster(t, 1, 11)
	file := filepath.Join(t.TempDir(), "poster.jpg")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := model.PredictImage(img)
	if err != nil {
		t.Fatal(err)
	}

	// Chromium's profile lives outside t.TempDir: the browser may still be
	// writing into it for a moment after the test's contexts are cancelled,
	// which would fail TempDir's cleanup. Removed best-effort at the end.
	profile, err := os.MkdirTemp("", "serve-browser-profile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	// chromedp v0.11's protocol tables predate some enum values newer
	// Chromium sends in network events (e.g. IPAddressSpace "Loopback"); it
	// reports them as errors but goes on. Keep them out of the test log
	// unless they are something else.
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "could not unmarshal event") {
			t.Logf("chromedp: %s", msg)
		}
	}))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var genres, probs []string
	var status, cardID, metricsRows string
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`#drop`, chromedp.ByQuery),
		// The model card loads by itself.
		chromedp.WaitVisible(`#metrics tbody tr`, chromedp.ByQuery),
		chromedp.SetUploadFiles(`#file`, []string{file}, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-state="done"] #genres li`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll("#genres li")].map(li => li.dataset.genre)`, &genres),
		chromedp.Evaluate(`[...document.querySelectorAll("#genres li")].map(li => li.dataset.probability)`, &probs),
		chromedp.Text(`#status`, &status, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#card dd").textContent`, &cardID),
		chromedp.Evaluate(`String(document.querySelectorAll("#metrics tbody tr").length)`, &metricsRows),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	card := srv.Card()
	if len(genres) != len(card.Genres) || len(probs) != len(genres) {
		t.Fatalf("page shows genres %v with %v", genres, probs)
	}
	for i, g := range genres {
		j := -1
		for k, name := range card.Genres {
			if name == g {
				j = k
			}
		}
		p, err := strconv.ParseFloat(probs[i], 64)
		if j < 0 || err != nil || p < float64(want[j])-1e-4 || p > float64(want[j])+1e-4 {
			t.Errorf("page: %s %s; the model says %v for %v", g, probs[i], want, card.Genres)
		}
	}
	if !strings.HasPrefix(status, "Predicted:") || cardID != card.ID || metricsRows != strconv.Itoa(len(card.Metrics)) {
		t.Errorf("page status %q, card id %q (want %s), %s metric rows (want %d)", status, cardID, card.ID, metricsRows, len(card.Metrics))
	}

	checkHeatmap(t, ctx, genres)
	screenshot(t, ctx, "")

	noise := filepath.Join(t.TempDir(), "flat.png")
	if err := os.WriteFile(noise, nonPoster(t, "flat"), 0o644); err != nil {
		t.Fatal(err)
	}
	var note string
	err = chromedp.Run(ctx,
		chromedp.SetUploadFiles(`#file`, []string{noise}, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-state="done"] #poster-note:not(.info)`, chromedp.ByQuery),
		chromedp.Text(`#poster-note`, &note, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("browser, non-poster: %v", err)
	}
	if note != serve.NotAPoster {
		t.Errorf("non-poster: page says %q, want %q", note, serve.NotAPoster)
	}
	screenshot(t, ctx, "-nonposter")
}

// checkHeatmap checks the top genre's heatmap is shown over the poster,
// then clicks the last genre and waits for its map.
func checkHeatmap(t *testing.T, ctx context.Context, genres []string) {
	t.Helper()
	var src, shown, noteHidden string
	err := chromedp.Run(ctx,
		chromedp.WaitVisible(`#heatmap`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#heatmap").src.slice(0, 22)`, &src),
		chromedp.Evaluate(`document.querySelector("#heatmap").dataset.genre`, &shown),
		chromedp.Evaluate(`String(document.querySelector("#poster-note").hidden)`, &noteHidden),
	)
	if err != nil {
		t.Fatalf("browser, heatmap: %v", err)
	}
	if src != "data:image/png;base64," || shown != genres[0] {
		t.Errorf("heatmap: src %q… for %q, want a PNG data URI for the top genre %q", src, shown, genres[0])
	}
	if noteHidden != "true" {
		t.Errorf("a demo poster got a poster note")
	}
	other := genres[len(genres)-1]
	err = chromedp.Run(ctx,
		chromedp.Click(fmt.Sprintf(`#genres li[data-genre=%q]`, other), chromedp.ByQuery),
		chromedp.WaitVisible(fmt.Sprintf(`body[data-state="done"] #heatmap[data-genre=%q]`, other), chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("browser, heatmap of %s after a click: %v", other, err)
	}
}

// TestPageOnAPhone loads the page at 390 px (a phone) with a prediction
// shown: nothing passes the right edge (the cards used to be cut there)
// and no text is under 10 px. SERVE_SCREENSHOTS=DIR keeps serve-390.png.
func TestPageOnAPhone(t *testing.T) {
	srv, _ := newServer(t, serve.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	data, _ := poster(t, 2, 5)
	file := filepath.Join(t.TempDir(), "poster.jpg")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.Open(t, 390, 900)
	browsertest.Measure(t, ctx, 390, ts.URL+"/", "")
	err := chromedp.Run(ctx,
		chromedp.WaitVisible(`#metrics tbody tr`, chromedp.ByQuery),
		chromedp.SetUploadFiles(`#file`, []string{file}, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-state="done"] #genres li`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	shot := ""
	if d := os.Getenv("SERVE_SCREENSHOTS"); d != "" {
		shot = filepath.Join(d, "serve-390.png")
	}
	l := browsertest.MeasureNow(t, ctx, shot)
	if l.ScrollWidth > 390 || len(l.Overflowing) > 0 || l.MinFont < 10 {
		t.Errorf("at 390 px: scrollWidth %d, overflowing %v, smallest text %.1f px", l.ScrollWidth, l.Overflowing, l.MinFont)
	}
}

// screenshot saves the page to $SERVE_SCREENSHOT (suffix before the
// extension) when set.
func screenshot(t *testing.T, ctx context.Context, suffix string) {
	path := os.Getenv("SERVE_SCREENSHOT")
	if path == "" {
		return
	}
	path = strings.TrimSuffix(path, filepath.Ext(path)) + suffix + filepath.Ext(path)
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
