package httpserve_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/postergenre/postergenre/internal/httpserve"
)

// blocking answers /slow once release is closed, and says on entered that a
// request is in its handler.
func blocking(entered chan<- struct{}, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
}

func TestServe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		grace   time.Duration
		release bool  // the slow request may finish once shutdown has begun
		wantErr error // from Serve
		wantOK  bool  // the slow request got its answer
	}{
		{"in-flight request finishes within the grace", time.Minute, true, nil, true},
		{"stalled request cut after the grace", 20 * time.Millisecond, false, httpserve.ErrGraceExceeded, false},
		{"no grace: cut at once", 0, false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			entered, release := make(chan struct{}, 1), make(chan struct{})
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()
			shutdown := make(chan struct{})
			srv := &http.Server{Handler: blocking(entered, release), ReadHeaderTimeout: 10 * time.Second}
			srv.RegisterOnShutdown(func() { close(shutdown) })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- httpserve.Serve(ctx, srv, ln, tc.grace, nil) }()

			base := "http://" + ln.Addr().String()
			if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /: %v", err)
			} else {
				resp.Body.Close()
			}
			got := make(chan bool, 1)
			go func() {
				resp, err := http.Get(base + "/slow")
				if err == nil {
					resp.Body.Close()
				}
				got <- err == nil && resp.StatusCode == 200
			}()
			<-entered
			cancel()
			if tc.release {
				<-shutdown
				close(release)
			}
			err = <-served
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Serve: %v, want %v", err, tc.wantErr)
			}
			if !tc.release {
				close(release)
			}
			if ok := <-got; ok != tc.wantOK {
				t.Errorf("slow request answered: %v, want %v", ok, tc.wantOK)
			}
		})
	}
}

func TestServeReturnsTheServingError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = httpserve.Serve(context.Background(), &http.Server{ReadHeaderTimeout: time.Second}, ln, time.Second, nil)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed listener: %v", err)
	}
}
