package scrape

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocolly/colly/v2"
)

// errInterrupted marks a fetch cut short by the stage's context: it is not a
// failure of the row and is never recorded.
var errInterrupted = errors.New("interrupted")

// Kinds of request: an image (poster or og:image) or an IMDb title page.
const (
	kindImage = "image"
	kindPage  = "page"
)

// Keys in a colly request context.
const (
	ctxCall    = "call"    // *call: where the callbacks put the answer
	ctxAttempt = "attempt" // attempt number of this URL, 1-based
)

// call is one HTTP request in flight. Colly's callbacks fill it from its own
// goroutine and hand it back through done (buffered, written once).
type call struct {
	kind    string
	once    sync.Once
	done    chan *call
	status  int
	header  http.Header
	body    []byte
	url     string // final URL, after redirects
	ogImage string
	abort   string // reason when we aborted after the headers
	err     error
}

func (c *call) finish() { c.once.Do(func() { c.done <- c }) }

// failure is why one URL (or a row) did not give a poster.
type failure struct {
	reason     string
	err        error
	retryable  bool
	retryAfter time.Duration
}

func (f *failure) Error() string { return f.reason + ": " + f.err.Error() }

type rewriteRule struct {
	re   *regexp.Regexp
	repl string
}

// fetcher fetches rows through one async colly collector.
type fetcher struct {
	cfg      Config
	ctx      context.Context
	c        *colly.Collector
	rules    []rewriteRule
	requests atomic.Int64 // HTTP attempts made
}

func compileRewrites(rs []Rewrite) ([]rewriteRule, error) {
	out := make([]rewriteRule, 0, len(rs))
	for i, r := range rs {
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("scrape: url_rewrite[%d]: %w", i, err)
		}
		out = append(out, rewriteRule{re, r.Replace})
	}
	return out, nil
}

func (f *fetcher) rewrite(u string) string {
	for _, r := range f.rules {
		u = r.re.ReplaceAllString(u, r.repl)
	}
	return u
}

// newCollector builds the async collector. Our settings go in as options so
// that COLLY_* environment variables, which NewCollector applies after the
// options, still override them; collySettings reports what is in effect.
func newCollector(ctx context.Context, cfg Config) (*colly.Collector, error) {
	c := colly.NewCollector(
		colly.Async(true),
		colly.StdlibContext(ctx),
		colly.UserAgent(cfg.UserAgent),
		colly.MaxBodySize(int(cfg.MaxBodyBytes+1)), // hitting the cap means too_large
		colly.AllowURLRevisit(),                    // rows may share links; retries revisit
		func(c *colly.Collector) { c.IgnoreRobotsTxt = !cfg.RespectRobots },
	)
	c.WithTransport(&cappedTransport{base: newTransport(cfg), max: cfg.MaxBodyBytes})
	c.SetRequestTimeout(cfg.Timeout)
	err := c.Limit(&colly.LimitRule{
		DomainGlob:  "*",
		Parallelism: cfg.Parallelism,
		Delay:       cfg.Delay,
		RandomDelay: cfg.RandomDelay,
	})
	if err != nil {
		return nil, fmt.Errorf("scrape: colly limit rule: %w", err)
	}
	return c, nil
}

// newTransport is the HTTP transport of every scrape request (posters,
// title pages and the CSV itself).
func newTransport(cfg Config) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * cfg.Parallelism,
		MaxIdleConnsPerHost:   2 * cfg.Parallelism, // the default 2 would churn connections
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// cappedTransport caps every response body at max+1 bytes after any
// decoding, whatever the headers say (one byte over the cap is how a
// reader tells too_large from exactly max).
//
// Colly caps the bytes on the wire and then gunzips without a cap whenever
// Content-Encoding or even Content-Type mentions gzip (http_backend.go,
// v2.3.0): a 1 MiB "application/x-gzip" body became 1 GiB in memory. Here
// the response is marked Uncompressed, so colly never decodes; a
// Content-Encoding: gzip that net/http left encoded (it only decodes what
// it asked for) is decoded here, under the cap. A Content-Type is not an
// encoding: such a body reaches validation as it came, and is not an image.
// The cap holds even when COLLY_MAX_BODY_SIZE lifts colly's own.
type cappedTransport struct {
	base http.RoundTripper
	max  int64
}

func (t *cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body := &cappedBody{raw: res.Body, left: t.max + 1}
	if !res.Uncompressed && strings.Contains(strings.ToLower(res.Header.Get("Content-Encoding")), "gzip") {
		body.gunzip = true
		res.Header.Del("Content-Encoding")
		res.Header.Del("Content-Length")
		res.ContentLength = -1
	}
	res.Body = body
	res.Uncompressed = true
	return res, nil
}

// cappedBody reads at most left bytes of the (decoded) body, then EOF.
type cappedBody struct {
	raw    io.ReadCloser
	gunzip bool
	zr     *gzip.Reader
	left   int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	var r io.Reader = b.raw
	if b.gunzip {
		if b.zr == nil { // lazily: the gzip header is read from the body
			zr, err := gzip.NewReader(b.raw)
			if err != nil {
				return 0, err
			}
			b.zr = zr
		}
		r = b.zr
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error {
	if b.zr != nil {
		b.zr.Close()
	}
	return b.raw.Close()
}

// collySettings is what the collector really does, after COLLY_* overrides.
func collySettings(c *colly.Collector, cfg Config) map[string]any {
	env := map[string]any{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "COLLY_") {
			env[k] = v
		}
	}
	return map[string]any{
		"async":                     c.Async,
		"user_agent":                c.UserAgent,
		"ignore_robots_txt":         c.IgnoreRobotsTxt,
		"max_body_size":             c.MaxBodySize,
		"allow_url_revisit":         c.AllowURLRevisit,
		"cache_dir":                 c.CacheDir,
		"detect_charset":            c.DetectCharset,
		"parse_http_error_response": c.ParseHTTPErrorResponse,
		"max_requests":              c.MaxRequests,
		"allowed_domains":           strings.Join(c.AllowedDomains, ","),
		"disallowed_domains":        strings.Join(c.DisallowedDomains, ","),
		"limit_domain_glob":         "*",
		"limit_parallelism":         cfg.Parallelism,
		"limit_delay":               cfg.Delay.String(),
		"limit_random_delay":        cfg.RandomDelay.String(),
		"request_timeout":           cfg.Timeout.String(),
		"env":                       env,
	}
}

func newFetcher(ctx context.Context, cfg Config) (*fetcher, error) {
	rules, err := compileRewrites(cfg.URLRewrite)
	if err != nil {
		return nil, err
	}
	c, err := newCollector(ctx, cfg)
	if err != nil {
		return nil, err
	}
	f := &fetcher{cfg: cfg, ctx: ctx, c: c, rules: rules}
	c.OnRequest(func(r *colly.Request) { f.requests.Add(1) })
	c.OnResponseHeaders(func(r *colly.Response) {
		cl := callOf(r.Ctx)
		if cl == nil || cl.kind != kindImage || r.StatusCode != http.StatusOK {
			return
		}
		if n, err := strconv.ParseInt(r.Headers.Get("Content-Length"), 10, 64); err == nil && n > cfg.MaxBodyBytes {
			cl.abort = ReasonTooLarge
			cl.err = fmt.Errorf("Content-Length %d exceeds max_body_bytes %d", n, cfg.MaxBodyBytes)
			r.Request.Abort()
		}
	})
	c.OnResponse(func(r *colly.Response) {
		if cl := callOf(r.Ctx); cl != nil {
			cl.status, cl.body, cl.url = r.StatusCode, r.Body, r.Request.URL.String()
			if r.Headers != nil {
				cl.header = *r.Headers
			}
		}
	})
	c.OnHTML(`meta[property="og:image"]`, func(e *colly.HTMLElement) {
		if cl := callOf(e.Request.Ctx); cl != nil && cl.ogImage == "" {
			if v := strings.TrimSpace(e.Attr("content")); v != "" {
				cl.ogImage = e.Request.AbsoluteURL(v)
			}
		}
	})
	// OnScraped runs after OnResponse and OnHTML; OnError replaces all three
	// when the request failed. One of them always runs once the request ends
	// (colly's only other exit, a charset conversion error, cannot happen for
	// an in-memory body).
	c.OnScraped(func(r *colly.Response) {
		if cl := callOf(r.Ctx); cl != nil {
			cl.finish()
		}
	})
	c.OnError(func(r *colly.Response, err error) {
		cl := callOf(r.Ctx)
		if cl == nil {
			return
		}
		if cl.abort == "" {
			cl.err = err
		}
		cl.status = r.StatusCode
		if r.Headers != nil {
			cl.header = *r.Headers
		}
		if r.Request != nil {
			cl.url = r.Request.URL.String()
		}
		cl.finish()
	})
	return f, nil
}

func callOf(ctx *colly.Context) *call {
	if ctx == nil {
		return nil
	}
	cl, _ := ctx.GetAny(ctxCall).(*call)
	return cl
}

// once makes one HTTP request through the collector and waits for it.
func (f *fetcher) once(u, kind string, attempt int) *call {
	cl := &call{kind: kind, done: make(chan *call, 1), url: u}
	cctx := colly.NewContext()
	cctx.Put(ctxCall, cl)
	cctx.Put(ctxAttempt, attempt)
	// In async mode Request returns at once; robots.txt and URL problems
	// come back here, the rest through the callbacks.
	if err := f.c.Request(http.MethodGet, u, nil, cctx, nil); err != nil {
		cl.err = err
		return cl
	}
	select {
	case <-cl.done:
		return cl
	case <-f.ctx.Done():
		return &call{kind: kind, url: u, err: f.ctx.Err()}
	}
}

// classify turns a finished call into nil (a 200 with a body) or a failure.
func (f *fetcher) classify(cl *call) *failure {
	if f.ctx.Err() != nil {
		return &failure{reason: "interrupted", err: errInterrupted}
	}
	if cl.abort != "" {
		return &failure{reason: cl.abort, err: withURL(cl.url, cl.err)}
	}
	if cl.status != 0 && cl.status != http.StatusOK {
		fl := &failure{
			reason:    "http_" + strconv.Itoa(cl.status),
			err:       fmt.Errorf("%s: %d %s", cl.url, cl.status, http.StatusText(cl.status)),
			retryable: cl.status >= 500 || cl.status == http.StatusTooManyRequests,
		}
		if fl.retryable && cl.header != nil {
			fl.retryAfter = parseRetryAfter(cl.header.Get("Retry-After"), time.Now())
		}
		return fl
	}
	if cl.err == nil {
		if cl.status == 0 {
			return &failure{reason: ReasonConnection, err: errors.New("no response"), retryable: true}
		}
		return nil
	}
	err := cl.err
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, colly.ErrRobotsTxtBlocked):
		return &failure{reason: ReasonRobots, err: fmt.Errorf("%s: %w", cl.url, err)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &failure{reason: ReasonTimeout, err: withURL(cl.url, err), retryable: true}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &failure{reason: ReasonTruncated, err: withURL(cl.url, err), retryable: true}
	case errors.As(err, &ue), errors.As(err, &ne):
		return &failure{reason: ReasonConnection, err: err, retryable: true}
	default:
		// URL parse errors, forbidden domains, MAX_REQUESTS...
		return &failure{reason: ReasonBadURL, err: fmt.Errorf("%s: %w", cl.url, err)}
	}
}

// withURL names u in err unless it already does (a *url.Error does), so
// every ledger error says which URL failed, not only "unexpected EOF".
func withURL(u string, err error) error {
	if u == "" || strings.Contains(err.Error(), u) {
		return err
	}
	return fmt.Errorf("%s: %w", u, err)
}

// parseRetryAfter reads a Retry-After value: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait before attempt n+1 after attempt n failed: full jitter
// over an exponential window, or the server's Retry-After. ok is false when
// Retry-After asks for more than backoff_max: the row then fails now and a
// later run tries again.
func (f *fetcher) backoff(n int, retryAfter time.Duration) (time.Duration, bool) {
	if retryAfter > 0 {
		return retryAfter, retryAfter <= f.cfg.BackoffMax
	}
	window := f.cfg.BackoffBase
	for i := 1; i < n && window < f.cfg.BackoffMax; i++ {
		window *= 2
	}
	window = min(window, f.cfg.BackoffMax)
	return rand.N(window + 1), true
}

// get fetches one URL with retries. It returns the successful call, the
// attempts made, and the last failure (nil on success).
func (f *fetcher) get(u, kind string) (*call, int, *failure) {
	for n := 1; ; n++ {
		cl := f.once(u, kind, n)
		fl := f.classify(cl)
		if fl == nil || !fl.retryable || n > f.cfg.Retries {
			return cl, n, fl
		}
		wait, ok := f.backoff(n, fl.retryAfter)
		if !ok {
			fl.err = fmt.Errorf("%w (Retry-After %s exceeds backoff_max)", fl.err, wait)
			return cl, n, fl
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-f.ctx.Done():
			t.Stop()
			return cl, n, &failure{reason: "interrupted", err: errInterrupted}
		}
	}
}

// fetched is a validated poster ready to store.
type fetched struct {
	body   []byte
	sha256 string
	url    string
	source string
}

// getImage fetches and validates one image URL.
func (f *fetcher) getImage(u, source string) (*fetched, int, *failure) {
	cl, n, fl := f.get(u, kindImage)
	if fl != nil {
		return nil, n, fl
	}
	ct := ""
	if cl.header != nil {
		ct = cl.header.Get("Content-Type")
	}
	if reason, err := checkImage(cl.body, ct, f.cfg.MaxBodyBytes, f.cfg.MaxPixels, f.c.MaxBodySize); reason != "" {
		return nil, n, &failure{reason: reason, err: fmt.Errorf("%s: %w", cl.url, err)}
	}
	sum := sha256.Sum256(cl.body)
	return &fetched{body: cl.body, sha256: hex.EncodeToString(sum[:]), url: cl.url, source: source}, n, nil
}

var titleIDRe = regexp.MustCompile(`/title/tt(\d+)`)

// imdbPageURL is the row's title page with the id written as seven digits
// (tt0114709), which is how IMDb spells it; the CSV drops leading zeros.
func imdbPageURL(link string, id int64) string {
	norm := fmt.Sprintf("/title/tt%07d", id)
	if link != "" && titleIDRe.MatchString(link) {
		return titleIDRe.ReplaceAllLiteralString(link, norm)
	}
	return "http://www.imdb.com" + norm
}

// rowFetch is what fetching one row gave.
type rowFetch struct {
	poster   *fetched
	attempts int
	url      string   // last URL tried
	fail     *failure // nil when poster is set
}

// fetchRow tries the row's poster link, then (when enabled) the og:image of
// its IMDb page. link is the poster link after rewrites ("" when empty).
func (f *fetcher) fetchRow(id int64, link, imdbLink string) rowFetch {
	var res rowFetch
	var posterFail *failure
	if link != "" {
		img, n, fl := f.getImage(link, SourcePoster)
		res.attempts, res.url = n, link
		if fl == nil {
			res.poster = img
			return res
		}
		if fl.err == errInterrupted || !f.cfg.FallbackIMDbPage {
			res.fail = fl
			return res
		}
		posterFail = fl
	}
	page := f.rewrite(imdbPageURL(imdbLink, id))
	res.url = page
	cl, n, fl := f.get(page, kindPage)
	res.attempts += n
	if fl == nil && cl.ogImage == "" {
		fl = &failure{reason: ReasonNoOGImage, err: fmt.Errorf("%s: no og:image", page)}
	}
	if fl == nil {
		imgURL := f.rewrite(cl.ogImage)
		res.url = imgURL
		var img *fetched
		img, n, fl = f.getImage(imgURL, SourceIMDbPage)
		res.attempts += n
		if fl == nil {
			res.poster = img
			return res
		}
	}
	switch {
	case fl.err == errInterrupted:
		res.fail = fl
	case posterFail != nil:
		// The poster link is the row's own: its reason leads.
		res.fail = &failure{reason: posterFail.reason, err: fmt.Errorf("%w; imdb page fallback: %v", posterFail.err, fl)}
	default:
		res.fail = &failure{reason: fl.reason, err: fmt.Errorf("no poster link; imdb page fallback: %w", fl.err)}
	}
	return res
}
