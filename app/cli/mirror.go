package cli

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/internal/httpserve"
	"github.com/postergenre/postergenre/scrape/mirror"
)

// newMirrorCmd serves a CSV's poster links and IMDb title pages from a
// local folder of posters, so real-data runs work offline (see README).
func newMirrorCmd(st *State) *cobra.Command {
	var (
		opts mirror.Options
		addr string
	)
	cmd := &cobra.Command{
		Use:         "mirror --csv FILE --posters DIR [--addr 127.0.0.1:8089]",
		Short:       "serve posters from a local folder (offline runs; see README)",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annotStop: stopBySignal, "exits": exitsMirror},
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := mirror.New(opts)
			if err != nil {
				return exitWith(ExitUsage, err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return exitWith(ExitFailed, err)
			}
			fmt.Fprintf(st.Stdout, "mirror: serving %d posters on http://%s/\n", m.Posters(), ln.Addr())
			// No grace: the mirror only serves test and bench runs, whose
			// requests need not finish once the command is stopped.
			srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
			if err := httpserve.Serve(st.Ctx, srv, ln, 0, nil); err != nil {
				return exitWith(ExitFailed, err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.CSV, "csv", "", "MovieGenre-format CSV whose Poster links to answer (required)")
	fl.StringVar(&opts.PostersDir, "posters", "", "folder of <imdbId>.jpg (required)")
	fl.StringVar(&addr, "addr", "127.0.0.1:8089", "listen address")
	fl.DurationVar(&opts.Latency, "latency", 0, "added latency per request")
	fl.Float64Var(&opts.FailRate, "fail-rate", 0, "share of requests answering a transient 503")
	fl.Float64Var(&opts.StallRate, "stall-rate", 0, "share of requests that stall")
	fl.Uint64Var(&opts.Seed, "seed", 1, "fault seed")
	cmd.MarkFlagRequired("csv")
	cmd.MarkFlagRequired("posters")
	return cmd
}
