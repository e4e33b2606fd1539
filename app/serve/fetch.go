package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// maxRedirects bounds how many redirects a poster URL may take.
const maxRedirects = 3

// errForbiddenAddr is a URL (or a redirect) that resolves to an address the
// server must not reach on a caller's behalf: loopback, private, link-local
// (cloud metadata), unspecified or multicast.
var errForbiddenAddr = errors.New("address not allowed")

// fetcher downloads posters named by ?url=. Its guards hold for every hop:
// http and https only (a redirect to file:, ftp: or gopher: is refused), at
// most maxRedirects redirects, a deadline for the whole fetch, a byte cap,
// and — unless allowPrivate — no connection to a non-public address. The
// address is checked at dial time, after DNS, so a name that resolves (or
// re-resolves) to 127.0.0.1 is refused as well.
type fetcher struct {
	client   *http.Client
	maxBytes int64
	timeout  time.Duration
}

func newFetcher(maxBytes int64, timeout time.Duration, allowPrivate bool) *fetcher {
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", errForbiddenAddr, address)
			}
			a := ap.Addr().Unmap()
			if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
				a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() {
				return fmt.Errorf("%w: %s", errForbiddenAddr, a)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would bypass the address check
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
	}
	return &fetcher{
		maxBytes: maxBytes,
		timeout:  timeout,
		client: &http.Client{
			Transport: tr,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) > maxRedirects {
					return fmt.Errorf("more than %d redirects", maxRedirects)
				}
				if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
					return fmt.Errorf("redirect to a %s: URL", req.URL.Scheme)
				}
				return nil
			},
		},
	}
}

// checkURL accepts an absolute http(s) URL with a host.
func checkURL(raw string) (*url.URL, *apiError) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "bad_url", "url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errf(http.StatusBadRequest, "bad_url_scheme", "url must be http or https, got %q", u.Scheme+":")
	}
	if u.Host == "" {
		return nil, errf(http.StatusBadRequest, "bad_url", "url has no host")
	}
	if u.User != nil {
		return nil, errf(http.StatusBadRequest, "bad_url", "url must not carry credentials")
	}
	return u, nil
}

// fetch downloads u's body, at most maxBytes.
func (f *fetcher) fetch(ctx context.Context, u *url.URL) ([]byte, *apiError) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "bad_url", "url: %v", err)
	}
	req.Header.Set("Accept", "image/jpeg, image/png, image/gif")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fetchError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errf(http.StatusUnprocessableEntity, "fetch_status", "url answered %s", resp.Status)
	}
	if resp.ContentLength > f.maxBytes {
		return nil, errf(http.StatusRequestEntityTooLarge, "too_large", "url's image is %d bytes, more than the cap of %d", resp.ContentLength, f.maxBytes)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, fetchError(ctx, err)
	}
	if int64(len(b)) > f.maxBytes {
		return nil, errf(http.StatusRequestEntityTooLarge, "too_large", "url's image is more than the cap of %d bytes", f.maxBytes)
	}
	return b, nil
}

func fetchError(ctx context.Context, err error) *apiError {
	switch {
	case errors.Is(err, errForbiddenAddr):
		return errf(http.StatusForbidden, "url_forbidden", "url leads to a loopback, private or link-local address, which this server does not fetch from")
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		// 422, not 504: the URL is the caller's input, and it did not work.
		return errf(http.StatusUnprocessableEntity, "fetch_timeout", "url did not answer within the fetch timeout")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return errf(http.StatusUnprocessableEntity, "fetch_failed", "url: %v", err)
}
