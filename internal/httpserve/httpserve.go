// Package httpserve is the one lifecycle of the project's HTTP servers
// (`pipeline serve`, the scrape mirror, the demo's poster server): serve
// until the context ends, then shut down, giving requests in flight a grace
// period before the rest are cut.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ErrGraceExceeded is returned (wrapped) when requests were still running
// at the end of the grace period and were cut.
var ErrGraceExceeded = errors.New("requests still running after the grace period were cut")

// Serve answers on ln with srv until ctx ends or serving fails. When ctx
// ends it stops accepting and waits up to grace for requests in flight
// (grace <= 0: none, they are cut at once), then closes what is left. It
// returns nil after a clean shutdown, an error wrapping ErrGraceExceeded
// when requests had to be cut, or the error that stopped serving. log,
// when not nil, records the shutdown. The goroutine serving ln has ended
// when Serve returns.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if log != nil {
		log.Info("shutting down", "grace", grace.String())
	}
	var err error
	if grace <= 0 {
		srv.Close()
	} else {
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close()
			err = fmt.Errorf("shutdown: %w (%s): %w", ErrGraceExceeded, grace, serr)
		}
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
