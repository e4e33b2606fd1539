package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/postergenre/postergenre/app/serve"
	"github.com/postergenre/postergenre/train"
	"github.com/spf13/cobra"
)

const serveSynopsis = `serve --model DIR [--addr 127.0.0.1:8080] [--report DIR]

Serves the model: a web page at / (drop a poster, see the genre bars and the
model card), a JSON API (POST /api/predict with an image, multipart field
"image" or the raw body; GET /api/predict?url=…; GET /api/model), /healthz
and Prometheus metrics at /metrics. SIGINT or SIGTERM shuts it down
gracefully.`

// newServeCmd wires cmdServe, which parses its own flags, as predict does.
func newServeCmd(st *State, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                "serve --model DIR [--addr 127.0.0.1:8080] [--report DIR]",
		Short:              "web page and JSON API for a trained model (see README: Serving)",
		DisableFlagParsing: true, // cmdServe parses its own flags
		Annotations:        map[string]string{annotStop: stopBySignal, "exits": "  0 shut down cleanly · 1 serving failed · 2 usage error or the model does not load"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := cmdServe(st.Ctx, withoutGlobals(args), st.Stdout, st.Stderr, g.logger(st)); code != ExitOK {
				return exitWith(code, nil)
			}
			return nil
		},
	}
}

// cmdServe is `pipeline serve`: it parses its flags, loads the model once
// and serves until ctx is cancelled. Self-contained (no State) so that any
// command framework can call it.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, logger *slog.Logger) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pipeline %s\n\nFlags:\n", serveSynopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExit codes: 0 shut down cleanly · 1 serving failed · 2 usage error or the model does not load\n")
	}
	var (
		modelDir, addr string
		opts           serve.Options
		maxUploadMiB   int64
	)
	fs.StringVar(&modelDir, "model", "", "model folder: a train output's model/ (e.g. work/runs/latest/model)")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (host:port; :0 picks a free port)")
	fs.StringVar(&opts.ReportDir, "report", "", "evaluate output with the model's test metrics (default: found beside the model: <run>/report, or the working folder's evaluate output for this model)")
	fs.Int64Var(&maxUploadMiB, "max-upload-mb", 10, "largest poster accepted, uploaded or fetched, in MiB")
	fs.Int64Var(&opts.MaxPixels, "max-pixels", 25_000_000, "largest width×height a poster may declare (checked before decoding)")
	fs.IntVar(&opts.Concurrency, "concurrency", 0, "predictions in flight (0 = GOMAXPROCS); more wait up to --queue-wait, then get 503")
	fs.DurationVar(&opts.QueueWait, "queue-wait", 0, "how long a request waits for a free slot (0 = 2s)")
	fs.DurationVar(&opts.FetchTimeout, "fetch-timeout", 0, "deadline for fetching a ?url= poster, redirects included (0 = 10s)")
	fs.DurationVar(&opts.RequestTimeout, "request-timeout", 0, "deadline for a whole request, upload included (0 = 30s)")
	fs.BoolVar(&opts.AllowPrivateURLs, "allow-private-urls", false, "let ?url= fetch from loopback and private addresses (e.g. a local poster mirror)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if modelDir == "" || fs.NArg() > 0 {
		fs.Usage()
		return ExitUsage
	}
	if maxUploadMiB < 1 {
		fmt.Fprintf(stderr, "serve: --max-upload-mb must be >= 1, got %d\n", maxUploadMiB)
		return ExitUsage
	}
	opts.MaxUploadBytes = maxUploadMiB << 20

	model, err := train.LoadModel(modelDir)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return ExitUsage
	}
	defer model.Close()
	srv, err := serve.New(model, modelDir, opts, logger)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return ExitUsage
	}
	err = srv.ListenAndServe(ctx, addr, func(a net.Addr) {
		fmt.Fprintf(stdout, "serving model %s on http://%s/ (Ctrl-C to stop)\n", srv.Card().ID, a)
	})
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}
