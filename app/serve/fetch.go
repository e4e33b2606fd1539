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

	"code.dny.dev/ssrf"
)

// maxRedirects bounds how many redirects a poster URL may take.
const maxRedirects = 3

// errForbiddenAddr is a URL (or a redirect) that resolves to an address the
// server must not reach on a caller's behalf: any range of the IANA IPv4
// and IPv6 special-purpose registries (loopback, private, shared/CGNAT,
// link-local and cloud metadata, documentation, benchmarking, multicast,
// reserved…), IPv6 outside global unicast, and the IPv4-mapped and NAT64
// forms of all of these.
var errForbiddenAddr = errors.New("address not allowed")

// The address check is code.dny.dev/ssrf, generated from the IANA
// registries (a hand-written table here once missed 100.64.0.0/10). It runs
// as the dialer's Control hook, on the address really connected to, so it
// covers every redirect and DNS answer. Any port is allowed: the guard is
// about where, and posters are served on other ports than 80 and 443.
var (
	publicOnly = ssrf.New(ssrf.WithAnyPort())
	// --allow-private-urls (tests, a mirror on this machine) opens loopback
	// and the private-use ranges on top, nothing else: link-local (cloud
	// metadata at 169.254.169.254) and the rest stay closed.
	withPrivate = ssrf.New(ssrf.WithAnyPort(),
		ssrf.WithAllowedV4Prefixes(
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("172.16.0.0/12"),
			netip.MustParsePrefix("192.168.0.0/16"),
		),
		ssrf.WithAllowedV6Prefixes(
			netip.MustParsePrefix("::1/128"),
			netip.MustParsePrefix("fc00::/7"),
		))
)

// addrGuard is the dialer's Control hook: nil for an address ?url= may
// reach, else an error wrapping errForbiddenAddr.
func addrGuard(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	g := publicOnly
	if allowPrivate {
		g = withPrivate
	}
	return func(network, address string, c syscall.RawConn) error {
		if ap, err := netip.ParseAddrPort(address); err == nil && ap.Addr().Is4In6() {
			// An IPv4-mapped address is its IPv4 address: judge it as one,
			// so the opt-in for 127.0.0.1 holds for ::ffff:127.0.0.1 too.
			address = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
			network = "tcp4"
		}
		if err := g.Safe(network, address, c); err != nil {
			return fmt.Errorf("%w: %w", errForbiddenAddr, err)
		}
		return nil
	}
}

// fetcher downloads posters named by ?url=. Its guards hold for every hop:
// http and https only (a redirect to file:, ftp: or gopher: is refused), at
// most maxRedirects redirects, a deadline for the whole fetch, a byte cap,
// and no connection to a special-purpose address (addrGuard; loopback and
// private ones too with allowPrivate). The address is checked at dial time,
// after DNS, so a name that resolves (or re-resolves) to 127.0.0.1 is
// refused as well.
type fetcher struct {
	client   *http.Client
	maxBytes int64
	timeout  time.Duration
}

func newFetcher(maxBytes int64, timeout time.Duration, allowPrivate bool) *fetcher {
	dialer := &net.Dialer{Timeout: timeout, Control: addrGuard(allowPrivate)}
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
	if len(b) == 0 {
		return nil, errf(http.StatusUnprocessableEntity, "empty_body", "url answered %s with an empty body", resp.Status)
	}
	return b, nil
}

func fetchError(ctx context.Context, err error) *apiError {
	switch {
	case errors.Is(err, errForbiddenAddr):
		return errf(http.StatusForbidden, "url_forbidden", "url leads to a special-purpose address (loopback, private, shared, link-local, reserved…), which this server does not fetch from")
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
