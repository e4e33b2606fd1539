package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/app/serve"
	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/stages"
)

func multipartBody(t testing.TB, field string, data []byte) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile(field, "poster.jpg")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	return &b, w.FormDataContentType()
}

func decodeJSON[T any](t testing.TB, r io.Reader) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(r).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPredict: the three ways to send a poster give the same answer, and
// that answer is the model's own probabilities for the poster
// (Model.PredictImage, the path predict and evaluate share), sorted, with
// the threshold applied and the model named.
func TestPredict(t *testing.T) {
	srv, model := newServer(t, serve.Options{AllowPrivateURLs: true})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	data, img := poster(t, 2, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(data)
	}))
	defer origin.Close()

	want, err := model.PredictImage(img)
	if err != nil {
		t.Fatal(err)
	}
	card := srv.Card()
	cases := []struct {
		name string
		req  func() (*http.Response, error)
	}{
		{"multipart", func() (*http.Response, error) {
			body, ct := multipartBody(t, "image", data)
			return http.Post(ts.URL+"/api/predict", ct, body)
		}},
		{"raw body", func() (*http.Response, error) {
			return http.Post(ts.URL+"/api/predict", "application/octet-stream", bytes.NewReader(data))
		}},
		{"url", func() (*http.Response, error) {
			return http.Get(ts.URL + "/api/predict?url=" + url.QueryEscape(origin.URL+"/p.jpg"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := c.req()
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			p := decodeJSON[serve.Prediction](t, resp.Body)
			if len(p.Genres) != len(card.Genres) {
				t.Fatalf("%d genres, want %d", len(p.Genres), len(card.Genres))
			}
			sum := 0.0
			var predicted []string
			for i, g := range p.Genres {
				j := slices.Index(card.Genres, g.Genre)
				if j < 0 {
					t.Fatalf("unknown genre %q", g.Genre)
				}
				if d := math.Abs(float64(g.Probability - want[j])); d > 1e-6 {
					t.Errorf("%s: %g, the model says %g", g.Genre, g.Probability, want[j])
				}
				if i > 0 && g.Probability > p.Genres[i-1].Probability {
					t.Errorf("genres not sorted: %v", p.Genres)
				}
				if g.Predicted != (float64(g.Probability) >= p.Threshold) {
					t.Errorf("%s: predicted=%v at %g with threshold %g", g.Genre, g.Predicted, g.Probability, p.Threshold)
				}
				if g.Predicted {
					predicted = append(predicted, g.Genre)
				}
				sum += float64(g.Probability)
			}
			if card.Loss == "softmax_ce" && math.Abs(sum-1) > 1e-4 {
				t.Errorf("softmax probabilities sum to %g", sum)
			}
			if !slices.Equal(p.Predicted, predicted) && !(len(predicted) == 0 && len(p.Predicted) == 0) {
				t.Errorf("predicted %v, want %v", p.Predicted, predicted)
			}
			if p.Top != p.Genres[0].Genre || p.Threshold != card.Threshold {
				t.Errorf("top %q threshold %g", p.Top, p.Threshold)
			}
			if p.Model.ID != card.ID || p.Model.Config != "demo" || p.Model.Trained == "" {
				t.Errorf("model %+v", p.Model)
			}
			if p.Image.Format != "jpeg" || p.Image.Width != 182 || p.Image.Height != 268 || p.Image.Bytes != len(data) {
				t.Errorf("image %+v", p.Image)
			}
		})
	}
}

// TestModelCard: the card found beside <run>/model carries the run's
// config, the training date and evaluate's test metrics with intervals and
// baselines — the same numbers as the evaluate stage manifest.
func TestModelCard(t *testing.T) {
	srv, _ := newServer(t, serve.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/model")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	c := decodeJSON[serve.Card](t, resp.Body)
	if c.ID == "" || c.Config != "demo" || c.Trained == "" || c.Run == "" || len(c.Genres) != 4 {
		t.Errorf("card %+v", c)
	}
	if c.Data.TrainRows == 0 || c.Data.TestRows == 0 || c.Data.ValidationRows == 0 || !strings.HasPrefix(c.Data.Baseline, "prior") {
		t.Errorf("card data %+v", c.Data)
	}
	var man struct {
		Headline []stages.Metric `json:"headline"`
	}
	b, err := os.ReadFile(filepath.Join(runDir, "report", "_stage.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	if len(man.Headline) == 0 || len(c.Metrics) != len(man.Headline) {
		t.Fatalf("card metrics %v, evaluate headline %v", c.Metrics, man.Headline)
	}
	for i, m := range c.Metrics {
		if m.Key != man.Headline[i].Key || m.Value != man.Headline[i].Value || m.Lo == nil || m.Hi == nil || m.Baseline == nil {
			t.Errorf("metric %d: %+v, evaluate %+v", i, m, man.Headline[i])
		}
	}
}

// TestModelCardElsewhere: a model copied out of the working folder still
// serves, with the same id (the id hashes the files, not the path) and
// notes saying what is unknown; --report pointing at an evaluate output of
// another model is refused.
func TestModelCardElsewhere(t *testing.T) {
	m, dir := loadModel(t)
	orig, err := serve.New(m, dir, serve.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "model")
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	s, err := serve.New(m, cp, serve.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Card()
	if c.ID != orig.Card().ID || len(c.Metrics) != 0 || len(c.Notes) != 2 {
		t.Errorf("copied model: id %s (original %s), %d metrics, notes %q", c.ID, orig.Card().ID, len(c.Metrics), c.Notes)
	}
	// With --report, the copy gets the metrics back.
	s, err = serve.New(m, cp, serve.Options{ReportDir: filepath.Join(runDir, "report")}, nil)
	if err != nil || len(s.Card().Metrics) == 0 {
		t.Errorf("copy with --report: %v, %d metrics", err, len(s.Card().Metrics))
	}
	// A report folder that is no evaluate output is refused.
	if _, err := serve.New(m, dir, serve.Options{ReportDir: filepath.Join(runDir, "train")}, nil); err == nil || !strings.Contains(err.Error(), "not an evaluate") {
		t.Errorf("train output as --report: %v", err)
	}
}

// pngBomb is a valid PNG header (signature, IHDR with a correct CRC)
// declaring w×h pixels and no IDAT: decoding it would allocate w*h*4 bytes.
func pngBomb(w, h uint32) []byte {
	return append(cleantest.PNGHeader(w, h), make([]byte, 64)...)
}

// TestHostileInput: every bad request gets its 4xx with a JSON error and
// its reason, counted in /metrics; the server keeps serving.
func TestHostileInput(t *testing.T) {
	const maxUpload = 64 << 10
	srv, _ := newServer(t, serve.Options{MaxUploadBytes: maxUpload, MaxPixels: 4_000_000, FetchTimeout: 300 * time.Millisecond, AllowPrivateURLs: true})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	// The same server without AllowPrivateURLs: ?url= to loopback is refused.
	strict, _ := newServer(t, serve.Options{})
	tsStrict := httptest.NewServer(strict)
	defer tsStrict.Close()

	good, _ := poster(t, 0, 3)
	stall := make(chan struct{})
	defer close(stall)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stall": // headers never come
			select {
			case <-stall:
			case <-r.Context().Done():
			}
		case "/trickle": // headers, then a body that never ends
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(good[:100])
			w.(http.Flusher).Flush()
			select {
			case <-stall:
			case <-r.Context().Done():
			}
		case "/huge":
			w.Write(bytes.Repeat([]byte{0xff}, 2*maxUpload))
		case "/huge-chunked": // no Content-Length: the cap must hold while reading
			for range 4 {
				w.Write(bytes.Repeat([]byte{0xff}, maxUpload/2))
				w.(http.Flusher).Flush()
			}
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/empty":
			w.Header().Set("Content-Type", "image/jpeg")
		case "/text":
			w.Write([]byte("<html>not a poster</html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer origin.Close()
	u := func(path string) string { return "/api/predict?url=" + url.QueryEscape(origin.URL+path) }

	big := append(append([]byte{}, good...), make([]byte, maxUpload)...)
	cases := []struct {
		name        string
		base        string
		method      string
		target      string
		contentType string
		body        []byte
		status      int
		reason      string
	}{
		{"raw body too big", ts.URL, "POST", "/api/predict", "image/jpeg", big, 413, "too_large"},
		{"multipart too big", ts.URL, "POST", "/api/predict", "multipart", big, 413, "too_large"},
		{"not an image", ts.URL, "POST", "/api/predict", "image/jpeg", []byte("GIF? no, plain text pretending to be a poster"), 415, "not_an_image"},
		{"html as multipart", ts.URL, "POST", "/api/predict", "multipart", []byte("<!doctype html><p>hi"), 415, "not_an_image"},
		{"pixel bomb", ts.URL, "POST", "/api/predict", "image/png", pngBomb(100_000, 100_000), 422, "too_many_pixels"},
		{"pixels just over the cap", ts.URL, "POST", "/api/predict", "image/png", pngBomb(2001, 2000), 422, "too_many_pixels"},
		{"zero-size image", ts.URL, "POST", "/api/predict", "image/png", pngBomb(0, 10), 422, "corrupt_image"},
		{"truncated jpeg", ts.URL, "POST", "/api/predict", "image/jpeg", good[:len(good)/2], 422, "corrupt_image"},
		{"empty body", ts.URL, "POST", "/api/predict", "image/jpeg", nil, 400, "no_image"},
		{"multipart without a file", ts.URL, "POST", "/api/predict", "multipart-empty", nil, 400, "no_image"},
		{"GET without url", ts.URL, "GET", "/api/predict", "", nil, 400, "no_image"},
		{"wrong method", ts.URL, "DELETE", "/api/predict", "", nil, 405, "method"},
		{"file url", ts.URL, "GET", "/api/predict?url=" + url.QueryEscape("file:///etc/passwd"), "", nil, 400, "bad_url_scheme"},
		{"ftp url", ts.URL, "GET", "/api/predict?url=" + url.QueryEscape("ftp://example.org/p.jpg"), "", nil, 400, "bad_url_scheme"},
		{"relative url", ts.URL, "GET", "/api/predict?url=" + url.QueryEscape("/etc/passwd"), "", nil, 400, "bad_url_scheme"},
		{"url with credentials", ts.URL, "GET", "/api/predict?url=" + url.QueryEscape("http://u:p@example.org/p.jpg"), "", nil, 400, "bad_url"},
		{"loopback url refused", tsStrict.URL, "GET", u("/p.jpg"), "", nil, 403, "url_forbidden"},
		{"shared address (100.64/10) refused", tsStrict.URL, "GET", "/api/predict?url=" + url.QueryEscape("http://100.64.0.1/x"), "", nil, 403, "url_forbidden"},
		{"IPv4-mapped loopback refused", tsStrict.URL, "GET", "/api/predict?url=" + url.QueryEscape("http://[::ffff:127.0.0.1]/x"), "", nil, 403, "url_forbidden"},
		{"metadata refused even with private URLs allowed", ts.URL, "GET", "/api/predict?url=" + url.QueryEscape("http://169.254.169.254/latest/meta-data/"), "", nil, 403, "url_forbidden"},
		{"file in another multipart field", ts.URL, "POST", "/api/predict", "multipart-other", good, 400, "no_image"},
		{"url empty body", ts.URL, "GET", u("/empty"), "", nil, 422, "empty_body"},
		{"metadata address refused", tsStrict.URL, "GET", "/api/predict?url=" + url.QueryEscape("http://169.254.169.254/latest/meta-data/"), "", nil, 403, "url_forbidden"},
		{"redirect to file:", ts.URL, "GET", u("/to-file"), "", nil, 422, "fetch_failed"},
		{"redirect loop", ts.URL, "GET", u("/loop"), "", nil, 422, "fetch_failed"},
		{"url 404", ts.URL, "GET", u("/missing.jpg"), "", nil, 422, "fetch_status"},
		{"url stalls before headers", ts.URL, "GET", u("/stall"), "", nil, 422, "fetch_timeout"},
		{"url stalls in the body", ts.URL, "GET", u("/trickle"), "", nil, 422, "fetch_timeout"},
		{"url too big (Content-Length)", ts.URL, "GET", u("/huge"), "", nil, 413, "too_large"},
		{"url too big (chunked)", ts.URL, "GET", u("/huge-chunked"), "", nil, 413, "too_large"},
		{"url not an image", ts.URL, "GET", u("/text"), "", nil, 415, "not_an_image"},
		{"unknown page", ts.URL, "GET", "/etc/passwd", "", nil, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(c.body)
			ct := c.contentType
			switch ct {
			case "multipart":
				body, ct = multipartBody(t, "image", c.body)
			case "multipart-other":
				body, ct = multipartBody(t, "file", c.body)
			case "multipart-empty":
				var b bytes.Buffer
				w := multipart.NewWriter(&b)
				w.WriteField("note", "no file here")
				w.Close()
				body, ct = &b, w.FormDataContentType()
			}
			req, err := http.NewRequest(c.method, c.base+c.target, body)
			if err != nil {
				t.Fatal(err)
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var e struct{ Error, Reason string }
			if err := json.Unmarshal(raw, &e); err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d, not a JSON error (%v): %s", resp.StatusCode, err, raw)
			}
			if resp.StatusCode != c.status || e.Reason != c.reason || e.Error == "" {
				t.Errorf("status %d reason %q (%s), want %d %q", resp.StatusCode, e.Reason, e.Error, c.status, c.reason)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: a timeout did not hold", d)
			}
		})
	}

	// Still serving, and every refusal counted by reason.
	resp, err := http.Post(ts.URL+"/api/predict", "image/jpeg", bytes.NewReader(good))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the hostile requests: %v %v", err, resp)
	}
	resp.Body.Close()
	metrics := get(t, ts.URL+"/metrics")
	for _, want := range []string{
		`postergenre_serve_errors_total{reason="too_many_pixels"} 2`,
		`postergenre_serve_errors_total{reason="fetch_timeout"} 2`,
		`postergenre_serve_requests_total{code="413",endpoint="predict"} 4`,
		`postergenre_serve_requests_total{code="200",endpoint="predict"} 1`,
		`postergenre_serve_request_duration_seconds_bucket{endpoint="predict",le="+Inf"}`,
		`postergenre_serve_predict_duration_seconds_count 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func get(t testing.TB, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// waitReading polls /healthz until n requests are reading their input.
func waitReading(t *testing.T, base string, n int) {
	t.Helper()
	for range 200 {
		var h struct{ Reading int }
		json.Unmarshal([]byte(get(t, base+"/healthz")), &h)
		if h.Reading == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never %d requests reading their input", n)
}

// trickle POSTs data on a raw connection at about 10 bytes/s and sends the
// answer's status line and body to out (or the error).
func trickle(addr string, data []byte, stop <-chan struct{}, out chan<- string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		out <- err.Error()
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(data))
	go func() {
		for _, b := range data {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		out <- err.Error()
		return
	}
	b, _ := io.ReadAll(resp.Body)
	out <- resp.Status + " " + string(b)
}

// TestSlowUploadsDoNotStarve: uploads trickling in at 10 bytes/s (more of
// them than prediction slots) hold no prediction slot: other requests are
// answered while they trickle, and each slow one is cut with 408 slow_body
// once the grace has passed.
func TestSlowUploadsDoNotStarve(t *testing.T) {
	srv, _ := newServer(t, serve.Options{Concurrency: 2, QueueWait: 200 * time.Millisecond, UploadGrace: 3 * time.Second, MinUploadRate: 1 << 10})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	data, _ := poster(t, 2, 4)

	const slow = 4
	stop := make(chan struct{})
	defer close(stop)
	results := make(chan string, slow)
	for range slow {
		go trickle(ts.Listener.Addr().String(), data, stop, results)
	}
	waitReading(t, ts.URL, slow)
	for i := range 3 {
		resp, err := http.Post(ts.URL+"/api/predict", "image/jpeg", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("request %d while %d uploads trickle: %d %s", i, slow, resp.StatusCode, b)
		}
	}
	for range slow {
		select {
		case r := <-results:
			if !strings.HasPrefix(r, "408") || !strings.Contains(r, "slow_body") {
				t.Errorf("slow upload answered %q, want 408 slow_body", r)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a slow upload was never cut")
		}
	}
}

// TestSaturation: with the one prediction slot held, the next request
// waits QueueWait and gets 503 with Retry-After, and the log has one line
// for many refusals (a count), not one each; once the slot is free,
// requests succeed again.
func TestSaturation(t *testing.T) {
	var logs bytes.Buffer
	m, dir := loadModel(t)
	srv, err := serve.New(m, dir, serve.Options{Concurrency: 1, QueueWait: 20 * time.Millisecond}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	data, _ := poster(t, 1, 5)

	release := srv.HoldSlots(1)
	const refused = 20
	for range refused {
		resp, err := http.Post(ts.URL+"/api/predict", "image/jpeg", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		e := decodeJSON[struct{ Reason string }](t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || e.Reason != "saturated" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("saturated: status %d reason %q Retry-After %q", resp.StatusCode, e.Reason, resp.Header.Get("Retry-After"))
		}
	}
	if n := strings.Count(logs.String(), `"level":"WARN"`); n != 1 {
		t.Errorf("%d WARN lines for %d refused requests, want 1:\n%s", n, refused, logs.String())
	}
	release()
	resp, err := http.Post(ts.URL+"/api/predict", "image/jpeg", bytes.NewReader(data))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the slot was freed: %v %v", err, resp)
	}
	resp.Body.Close()
}

// TestGracefulShutdown: cancelling the context (what SIGTERM does through
// cmd/pipeline's signal.NotifyContext) lets the request in flight finish,
// then ListenAndServe returns nil and the port is closed.
func TestGracefulShutdown(t *testing.T) {
	srv, _ := newServer(t, serve.Options{AllowPrivateURLs: true})
	data, _ := poster(t, 3, 9)
	started := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond) // still in flight when the shutdown begins
		w.Write(data)
	}))
	defer origin.Close()

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	base := "http://" + (<-addrc).String()

	status := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/api/predict?url=" + url.QueryEscape(origin.URL+"/p.jpg"))
		if err != nil {
			t.Error(err)
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-started
	cancel()
	if s := <-status; s != 200 {
		t.Errorf("request in flight during shutdown: %d", s)
	}
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

// TestPage: the page and its two assets are served with a CSP that allows
// nothing from elsewhere, and they reference no external URL.
func TestPage(t *testing.T) {
	srv, _ := newServer(t, serve.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, p := range []string{"/", "/app.js", "/style.css"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		for _, ext := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), ext) {
				t.Errorf("%s references %q: the page must work offline", p, ext)
			}
		}
	}
}
