package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/postergenre/postergenre/scrape/mirror"
)

// cmdMirror serves a CSV's poster links and IMDb title pages from a local
// folder of posters, so real-data runs work offline (see README).
func cmdMirror(st *State, args []string) int {
	fs := newFlagSet(st, "mirror", "mirror --csv FILE --posters DIR [--addr 127.0.0.1:8089] [--latency 0s] [--fail-rate 0] [--stall-rate 0]")
	var (
		opts mirror.Options
		addr string
		seed uint64
	)
	fs.StringVar(&opts.CSV, "csv", "", "MovieGenre-format CSV whose Poster links to answer")
	fs.StringVar(&opts.PostersDir, "posters", "", "folder of <imdbId>.jpg")
	fs.StringVar(&addr, "addr", "127.0.0.1:8089", "listen address")
	fs.DurationVar(&opts.Latency, "latency", 0, "added latency per request")
	fs.Float64Var(&opts.FailRate, "fail-rate", 0, "share of requests answering a transient 503")
	fs.Float64Var(&opts.StallRate, "stall-rate", 0, "share of requests that stall")
	fs.Uint64Var(&seed, "seed", 1, "fault seed")
	if _, err := parse(fs, args); err != nil {
		return flagExit(err)
	}
	if opts.CSV == "" || opts.PostersDir == "" {
		fs.Usage()
		return ExitUsage
	}
	opts.Seed = seed
	m, err := mirror.New(opts)
	if err != nil {
		fmt.Fprintln(st.Stderr, err)
		return ExitUsage
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(st.Stderr, err)
		return ExitFailed
	}
	fmt.Fprintf(st.Stdout, "mirror: serving %d posters on http://%s/\n", m.Posters(), ln.Addr())
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-st.Ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(st.Stderr, err)
		return ExitFailed
	}
	return ExitOK
}
