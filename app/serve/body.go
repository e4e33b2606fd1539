package serve

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// errSlowBody is an upload that arrived slower than the minimum rate.
var errSlowBody = errors.New("the upload is too slow")

// rateBody reads a request body under a moving read deadline: by grace +
// n/rate after the start, the client must have sent more than n bytes, and
// the whole body must arrive within the request budget. A client sending
// 10 bytes/s is cut soon after grace; a fast one is never slowed down.
type rateBody struct {
	r     io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	limit time.Time // the request budget
	n     int64
	slow  bool // cut for being slow: the connection is to be closed
}

func newRateBody(r io.ReadCloser, rc *http.ResponseController, rate int64, grace, budget time.Duration) *rateBody {
	now := time.Now()
	return &rateBody{r: r, rc: rc, start: now, grace: grace, rate: rate, limit: now.Add(budget)}
}

func (b *rateBody) Read(p []byte) (int, error) {
	due := b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)))
	if due.After(b.limit) {
		due = b.limit
	}
	// A connection that cannot take deadlines (HTTP/2 through some proxies,
	// a test recorder) is bounded by the server's ReadTimeout instead.
	if err := b.rc.SetReadDeadline(due); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.slow = true
		return n, fmt.Errorf("%w: %d bytes in %s (the minimum is %d bytes/s after %s)",
			errSlowBody, b.n, time.Since(b.start).Round(time.Millisecond), b.rate, b.grace)
	}
	return n, err
}

func (b *rateBody) Close() error { return b.r.Close() }

// done lifts the deadline once the body is read (a keep-alive connection
// reads the next request). A body cut for being slow keeps it: the server
// would otherwise wait for the rest of the trickle before answering, and
// the answer closes the connection (see handlePredict).
func (b *rateBody) done() {
	if !b.slow {
		b.rc.SetReadDeadline(time.Time{})
	}
}

// refusalLogEvery spaces the log lines about refused (503) requests.
const refusalLogEvery = 10 * time.Second

// refusals counts 503 answers so that an overload logs one line per
// refusalLogEvery with a count, not one line per request.
type refusals struct {
	mu     sync.Mutex
	n      int
	since  time.Time // first refusal counted in n
	logged time.Time // last line written
}

// add counts one refusal at now; ok says to log a line now, with the count
// since the last line.
func (c *refusals) add(now time.Time) (n int, since time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.since = now
	}
	c.n++
	if !c.logged.IsZero() && now.Sub(c.logged) < refusalLogEvery {
		return 0, time.Time{}, false
	}
	n, since = c.n, c.since
	c.n, c.logged = 0, now
	return n, since, true
}
