// Package serve is `pipeline serve`: an HTTP server around one trained
// model. It answers a JSON API (POST a poster, or GET ?url=), a web page at
// / (drop a poster, see the genre bars beside the model card), /healthz and
// Prometheus metrics at /metrics.
//
// The model is loaded once (train.LoadModel) and every poster goes through
// Model.PredictImage, the one path from a decoded poster to probabilities
// that predict and evaluate use too. TensorFlow sessions are safe for
// concurrent Run, so predictions are not serialized; instead a semaphore of
// Options.Concurrency slots bounds them (each TF run already uses every
// core, so more in flight only adds memory and queueing). A request waits at
// most Options.QueueWait for a slot, then gets 503 with Retry-After. There
// is no micro-batching: a single poster takes milliseconds, and waiting to
// fill a batch would add latency for the common case of one user.
//
// Hostile input gets a 4xx with a JSON body {"error": …, "reason": …},
// never a crash: bodies are capped (http.MaxBytesReader), the declared
// pixel count is checked before decoding, non-images are refused by
// content, URLs are http(s) only, with a timeout, a byte cap, few redirects
// and no private addresses. Every error reason is counted in
// postergenre_serve_errors_total.
package serve

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/postergenre/postergenre/internal/heatmap"
	"github.com/postergenre/postergenre/internal/httpserve"
	"github.com/postergenre/postergenre/train"
)

// Options bound what one request may cost. Zero fields take the defaults.
type Options struct {
	MaxUploadBytes int64         // an uploaded or fetched poster; default 10 MiB
	MaxPixels      int64         // width×height declared in the header; default 25 M (≤ encode.MaxPixels)
	Concurrency    int           // predictions in flight; default GOMAXPROCS
	QueueWait      time.Duration // how long a request waits for a slot before 503; default 2 s
	FetchTimeout   time.Duration // a ?url= download, all redirects included; default 10 s
	RequestTimeout time.Duration // a whole prediction request; default 30 s
	// Reading bounds the requests reading their input (an upload's body or
	// a ?url= download) at once; default 4×Concurrency, at least 16. The
	// input is read before a prediction slot is taken, so slow clients
	// never hold prediction capacity.
	Reading int
	// MinUploadRate is the slowest average an upload may arrive at, in
	// bytes/s, once UploadGrace has passed; slower bodies are cut with 408.
	// Defaults: 16 KiB/s after 5 s.
	MinUploadRate int64
	UploadGrace   time.Duration
	// AllowPrivateURLs lets ?url= reach loopback and private addresses
	// (tests, a poster mirror on the same machine). Off by default.
	AllowPrivateURLs bool
	// ReportDir is the evaluate output with the model's test metrics; ""
	// looks for it beside the model (see findReport).
	ReportDir string
	// Alias is the tag the model was named by (`pipeline tag`), shown on
	// the model card; "" when it was named otherwise.
	Alias string
}

func (o Options) withDefaults() Options {
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 10 << 20
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = 25_000_000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.QueueWait <= 0 {
		o.QueueWait = 2 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 10 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Reading <= 0 {
		o.Reading = max(16, 4*o.Concurrency)
	}
	if o.MinUploadRate <= 0 {
		o.MinUploadRate = 16 << 10
	}
	if o.UploadGrace <= 0 {
		o.UploadGrace = 5 * time.Second
	}
	return o
}

//go:embed web
var webFS embed.FS

// Server serves one loaded model.
type Server struct {
	model   *train.Model
	meta    train.Meta
	card    *Card
	opts    Options
	log     *slog.Logger
	slots   chan struct{} // predictions in flight
	reading chan struct{} // requests reading their input
	refused refusals      // 503s, logged as a count, not one line each
	fetch   *fetcher
	metrics *metrics
	handler http.Handler
}

// New builds a server around a loaded model; modelDir is the folder it was
// loaded from (for the model card). The caller keeps ownership of model.
func New(model *train.Model, modelDir string, opts Options, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	meta := model.Meta()
	card, err := buildCard(modelDir, opts.ReportDir, meta)
	if err != nil {
		return nil, err
	}
	card.Alias = opts.Alias
	s := &Server{
		model: model, meta: meta, card: card, opts: opts, log: log,
		slots:   make(chan struct{}, opts.Concurrency),
		reading: make(chan struct{}, opts.Reading),
		fetch:   newFetcher(opts.MaxUploadBytes, opts.FetchTimeout, opts.AllowPrivateURLs),
		metrics: newMetrics(),
	}
	// One prediction before the first request: TensorFlow optimizes the
	// graph on its first run (~100 ms), which no user should wait for.
	if _, err := model.PredictImage(image.NewRGBA(image.Rect(0, 0, meta.Width, meta.Height))); err != nil {
		return nil, fmt.Errorf("serve: warm-up prediction: %w", err)
	}
	// Likewise for the two runs a page's poster costs: the analysis (with the
	// poster check) and a heatmap.
	if model.CanExplain() {
		blank := image.NewRGBA(image.Rect(0, 0, meta.Width, meta.Height))
		if _, err := model.Analyze(blank, []int{0}); err != nil {
			return nil, fmt.Errorf("serve: warm-up explanation: %w", err)
		}
		if a, err := model.Analyze(blank, nil); err != nil {
			return nil, fmt.Errorf("serve: warm-up analysis: %w", err)
		} else if _, err := model.Explain(a.Input, []int{0}); err != nil {
			return nil, fmt.Errorf("serve: warm-up explanation: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/api/predict", s.metrics.instrument("predict", http.HandlerFunc(s.handlePredict)))
	mux.Handle("/api/model", s.metrics.instrument("model", http.HandlerFunc(s.handleModel)))
	mux.Handle("/healthz", s.metrics.instrument("healthz", http.HandlerFunc(s.handleHealth)))
	mux.Handle("/metrics", s.metrics.handler())
	mux.Handle("/", s.metrics.instrument("page", http.HandlerFunc(s.handlePage)))
	s.handler = mux
	return s, nil
}

// Card returns the model card.
func (s *Server) Card() *Card { return s.card }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// ListenAndServe serves on addr until ctx is cancelled (SIGINT, SIGTERM),
// then shuts down gracefully: it stops accepting, lets requests in flight
// finish (at most shutdownGrace) and returns. ready, when not nil, receives
// the bound address once the listener is open (":0" picks a port).
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// An upload must arrive within the request budget: a client that
		// trickles its body does not hold a slot for long.
		ReadTimeout:  s.opts.RequestTimeout,
		WriteTimeout: s.opts.RequestTimeout + 5*time.Second,
		IdleTimeout:  60 * time.Second,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if ready != nil {
		ready(ln.Addr())
	}
	s.log.Info("serving", "addr", ln.Addr().String(), "model", s.card.ID, "config", s.card.Config, "concurrency", s.opts.Concurrency)
	return httpserve.Serve(ctx, srv, ln, shutdownGrace, s.log)
}

const shutdownGrace = 15 * time.Second

// apiError is an error answer: HTTP status, a stable reason (also the
// errors_total label) and a message for people.
type apiError struct {
	Status  int    `json:"-"`
	Reason  string `json:"reason"`
	Message string `json:"error"`
}

func errf(status int, reason, format string, args ...any) *apiError {
	return &apiError{Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	s.metrics.errors.WithLabelValues(e.Reason).Inc()
	switch {
	case e.Status == http.StatusServiceUnavailable:
		// Under overload every refused request would be a line: log the
		// first, then a count at most every refusalLogEvery.
		if n, since, ok := s.refused.add(time.Now()); ok {
			s.log.Warn("requests refused: overloaded", "reason", e.Reason, "refused", n, "since", since.UTC().Format(time.RFC3339), "error", e.Message)
		}
	case e.Status >= 500:
		s.log.Warn("request failed", "path", r.URL.Path, "status", e.Status, "reason", e.Reason, "error", e.Message)
	default:
		s.log.Debug("request refused", "path", r.URL.Path, "status", e.Status, "reason", e.Reason, "error", e.Message)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// GenreProb is one genre's probability; Predicted says it is over the threshold.
type GenreProb struct {
	Genre       string  `json:"genre"`
	Probability float32 `json:"probability"`
	Predicted   bool    `json:"predicted"`
}

// Prediction is /api/predict's answer.
type Prediction struct {
	// Genres holds every genre, most probable first.
	Genres []GenreProb `json:"genres"`
	// Predicted lists the genres with probability ≥ Threshold (in Genres'
	// order), the decision evaluate's F1 scores; it may be empty.
	Predicted []string `json:"predicted"`
	// Top is the most probable genre (paper accuracy's answer).
	Top       string    `json:"top"`
	Threshold float64   `json:"threshold"`
	Image     ImageInfo `json:"image"`
	Model     ModelRef  `json:"model"`
	Millis    float64   `json:"ms"` // decode, preprocessing and TensorFlow (and the heatmap)
	// PosterScore in [0,1] is the share of the model's validation posters
	// further from its training posters than this image; LooksLikePoster
	// is false below 0.05 (95% of validation posters pass), and PosterNote
	// then says so in words. Both are null for a model without a detector
	// (PosterNote says that too).
	PosterScore     *float64 `json:"poster_score"`
	LooksLikePoster *bool    `json:"looks_like_poster"`
	PosterNote      string   `json:"poster_note,omitempty"`
	// Heatmap answers ?explain=GENRE (or top).
	Heatmap *Explanation `json:"heatmap,omitempty"`
}

// NotAPoster is PosterNote for an image that fails the poster check.
const NotAPoster = "This does not look like a movie poster; the genres below are unreliable"

// Explanation is one genre's Grad-CAM heatmap: PNG is the poster as the
// model saw it with the map blended over it (a data: URI, about 256 pixels
// on the longer side); Grid is the map itself (rows × cols cells scaled to a
// maximum of 1, and where they lie on the model's input).
type Explanation struct {
	Genre  string      `json:"genre"`
	PNG    string      `json:"png"`
	Grid   heatmap.Map `json:"grid"`
	Millis float64     `json:"ms"` // the heatmap's share of ms
}

// ImageInfo describes the decoded poster.
type ImageInfo struct {
	Format string `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Bytes  int    `json:"bytes"`
	Source string `json:"source"` // "upload" or the URL
}

// ModelRef names the model that answered.
type ModelRef struct {
	ID      string `json:"id"`
	Config  string `json:"config,omitempty"`
	Trained string `json:"trained,omitempty"`
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		s.fail(w, r, errf(http.StatusMethodNotAllowed, "method", "use POST with an image, or GET with ?url="))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()

	// The input is read first, under its own bound and a minimum rate, and
	// only then is a prediction slot taken: a client trickling its upload
	// (or a slow ?url=) never holds prediction capacity.
	if e := s.acquire(ctx, s.reading, "reading", "all %d input readers are busy; retry shortly"); e != nil {
		s.fail(w, r, e)
		return
	}
	explain := r.URL.Query().Get("explain")
	if e := s.checkExplain(explain); e != nil {
		<-s.reading
		s.fail(w, r, e)
		return
	}
	data, source, e := s.input(ctx, w, r)
	<-s.reading
	if e != nil && e.Reason == "slow_body" {
		w.Header().Set("Connection", "close") // the rest of the body is never read
	}
	if e != nil {
		s.fail(w, r, e)
		return
	}
	if e := s.acquire(ctx, s.slots, "saturated", "all %d prediction slots are busy; retry shortly"); e != nil {
		s.fail(w, r, e)
		return
	}
	s.metrics.inflight.Inc()
	defer s.release()
	p, e := s.predict(data, explain)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	p.Image.Source = source
	writeJSON(w, http.StatusOK, p)
}

// acquire takes a place in sem, waiting at most QueueWait; else a 503 with
// reason.
func (s *Server) acquire(ctx context.Context, sem chan struct{}, reason, full string) *apiError {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.opts.QueueWait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return nil
	case <-t.C:
		return errf(http.StatusServiceUnavailable, reason, full, cap(sem))
	case <-ctx.Done():
		return errf(http.StatusServiceUnavailable, reason, "no place before the request ended")
	}
}

func (s *Server) release() {
	s.metrics.inflight.Dec()
	<-s.slots
}

// input reads the poster's bytes: ?url= (GET or POST), a multipart form's
// "image" file (or its first file), or the raw body.
func (s *Server) input(ctx context.Context, w http.ResponseWriter, r *http.Request) ([]byte, string, *apiError) {
	if raw := r.URL.Query().Get("url"); raw != "" {
		u, e := checkURL(raw)
		if e != nil {
			return nil, "", e
		}
		b, e := s.fetch.fetch(ctx, u)
		return b, u.String(), e
	}
	if r.Method == http.MethodGet {
		return nil, "", errf(http.StatusBadRequest, "no_image", "GET needs ?url=; or POST an image (multipart field \"image\", or the raw body)")
	}
	body0 := newRateBody(r.Body, http.NewResponseController(w), s.opts.MinUploadRate, s.opts.UploadGrace, s.opts.RequestTimeout)
	defer body0.done()
	// Multipart framing adds a little to the file itself.
	r.Body = http.MaxBytesReader(w, body0, s.opts.MaxUploadBytes+64<<10)
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var body io.Reader = r.Body
	if ct == "multipart/form-data" && params["boundary"] != "" {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, "", errf(http.StatusBadRequest, "bad_form", "multipart: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil, "", errf(http.StatusBadRequest, "no_image", "the form has no field \"image\"")
				}
				return nil, "", readError(err, s.opts.MaxUploadBytes)
			}
			// Only the documented field: another file field is not the poster.
			if part.FormName() == "image" {
				body = part
				break
			}
		}
	}
	b, err := io.ReadAll(io.LimitReader(body, s.opts.MaxUploadBytes+1))
	if err != nil {
		return nil, "", readError(err, s.opts.MaxUploadBytes)
	}
	if int64(len(b)) > s.opts.MaxUploadBytes {
		return nil, "", errf(http.StatusRequestEntityTooLarge, "too_large", "the image is more than the cap of %d bytes", s.opts.MaxUploadBytes)
	}
	if len(b) == 0 {
		return nil, "", errf(http.StatusBadRequest, "no_image", "empty body: POST an image (multipart field \"image\", or the raw body), or GET ?url=")
	}
	return b, "upload", nil
}

func readError(err error, limit int64) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errf(http.StatusRequestEntityTooLarge, "too_large", "the request is more than the cap of %d bytes", limit)
	}
	if errors.Is(err, errSlowBody) {
		return errf(http.StatusRequestTimeout, "slow_body", "%v", err)
	}
	return errf(http.StatusBadRequest, "bad_body", "reading the request: %v", err)
}

// checkExplain refuses an ?explain= that names no genre of the model.
func (s *Server) checkExplain(explain string) *apiError {
	if explain == "" || explain == "top" || s.model.GenreIndex(explain) >= 0 {
		return nil
	}
	return errf(http.StatusBadRequest, "unknown_genre", "explain=%q: the model's genres are %s (or \"top\")", explain, strings.Join(s.meta.Genres, ", "))
}

// predict decodes and scores one poster; explain ("", "top" or a genre)
// asks for a heatmap too.
func (s *Server) predict(data []byte, explain string) (*Prediction, *apiError) {
	start := time.Now()
	img, info, e := decode(data, s.opts.MaxPixels)
	if e != nil {
		return nil, e
	}
	// A named genre is explained in the same run as the prediction; "top"
	// needs the prediction first.
	var sel []int
	if c := s.model.GenreIndex(explain); c >= 0 {
		sel = []int{c}
	}
	a, err := s.model.Analyze(img, sel)
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "model", "model: %v", err)
	}
	probs := a.Probs
	predicted := time.Now()
	var expl *Explanation
	if explain != "" {
		if expl, e = s.explanation(a); e != nil {
			return nil, e
		}
		expl.Millis = float64(time.Since(predicted).Microseconds()) / 1000
	}
	elapsed := time.Since(start)
	s.metrics.predict.Observe(elapsed.Seconds())

	thr := s.card.Threshold
	p := &Prediction{
		Threshold: thr, Image: info, Predicted: []string{},
		Model:  ModelRef{ID: s.card.ID, Config: s.card.Config, Trained: s.card.Trained},
		Millis: float64(elapsed.Microseconds()) / 1000,
	}
	for i, g := range s.meta.Genres {
		p.Genres = append(p.Genres, GenreProb{Genre: g, Probability: probs[i], Predicted: float64(probs[i]) >= thr})
	}
	sort.SliceStable(p.Genres, func(a, b int) bool { return p.Genres[a].Probability > p.Genres[b].Probability })
	for _, g := range p.Genres {
		if g.Predicted {
			p.Predicted = append(p.Predicted, g.Genre)
		}
	}
	if len(p.Genres) > 0 {
		p.Top = p.Genres[0].Genre
	}
	p.Heatmap = expl
	if c := a.Poster; c != nil {
		p.PosterScore, p.LooksLikePoster = &c.Score, &c.LooksLikePoster
		if !c.LooksLikePoster {
			p.PosterNote = NotAPoster
		}
	} else {
		p.PosterNote = "poster check unavailable: " + train.ErrNoDetector.Error()
	}
	return p, nil
}

// explanation renders the heatmap a holds, or (explain=top) computes the
// top genre's.
func (s *Server) explanation(a *train.Analysis) (*Explanation, *apiError) {
	if len(a.Heatmaps) == 0 {
		best := 0
		for i, v := range a.Probs {
			if v > a.Probs[best] {
				best = i
			}
		}
		maps, err := s.model.Explain(a.Input, []int{best})
		if err != nil {
			return nil, errf(http.StatusInternalServerError, "model", "explain: %v", err)
		}
		a.Heatmaps = maps
	}
	hm := a.Heatmaps[0]
	png, err := heatmap.PNG(hm.Overlay(a.Input, heatmap.Scale(hm.InputWidth, hm.InputHeight)))
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "model", "explain: %v", err)
	}
	return &Explanation{Genre: hm.Genre, PNG: heatmap.DataURI(png), Grid: hm}, nil
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.card)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "ok", "model": s.card.ID,
		"inflight": len(s.slots), "concurrency": s.opts.Concurrency, "reading": len(s.reading),
		"uptime_s": int(time.Since(s.card.loadedAt).Seconds()),
	})
}

// pageFiles are the files of the embedded page: everything else is 404.
var pageFiles = map[string]string{
	"/":           "web/index.html",
	"/index.html": "web/index.html",
	"/app.js":     "web/app.js",
	"/style.css":  "web/style.css",
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	name, ok := pageFiles[r.URL.Path]
	if !ok {
		s.fail(w, r, errf(http.StatusNotFound, "not_found", "no such page: %s", r.URL.Path))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, r, errf(http.StatusMethodNotAllowed, "method", "the page is GET only"))
		return
	}
	b, err := webFS.ReadFile(name)
	if err != nil {
		s.fail(w, r, errf(http.StatusInternalServerError, "page", "%v", err))
		return
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for ext, t := range types {
		if len(name) > len(ext) && name[len(name)-len(ext):] == ext {
			w.Header().Set("Content-Type", t)
		}
	}
	// The page loads nothing from elsewhere; say so to the browser too.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data: http: https:; style-src 'self'; script-src 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}
