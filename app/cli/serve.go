package cli

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/app/serve"
	"github.com/postergenre/postergenre/train"
)

const exitsServe = "  0 shut down cleanly · 1 serving failed · 2 usage error or the model does not load"

// serveFlags are serve's flags.
type serveFlags struct {
	model, addr  string
	opts         serve.Options
	maxUploadMiB int64
}

func newServeCmd(st *State, g *globals) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --model MODEL [--addr 127.0.0.1:8080] [--report DIR]",
		Short: "web page and JSON API for a trained model (see README: Serving)",
		Long: `Serves the model: a web page at / (drop a poster, see the genre bars and the
model card), a JSON API (POST /api/predict with an image, multipart field
"image" or the raw body; GET /api/predict?url=…; GET /api/model), /healthz
and Prometheus metrics at /metrics. SIGINT or SIGTERM shuts it down
gracefully.

MODEL is a model folder, or a run, grid cell or tag of the working folder
(e.g. latest, champion, RUN/CELL): its model.`,
		Example: "  pipeline serve --model latest\n  pipeline serve --model champion --addr 127.0.0.1:9000",
		Args:    cobra.NoArgs,
		// A signal is how serve is meant to stop: exit 0, not 130.
		Annotations: map[string]string{annotStop: stopBySignal, "exits": exitsServe},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdServe(st, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model folder (e.g. work/runs/latest/model), or a run, RUN/CELL or tag of the working folder (required)")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address (host:port; :0 picks a free port)")
	fl.StringVar(&f.opts.ReportDir, "report", "", "evaluate output with the model's test metrics (default: found beside the model: <run>/report, or the working folder's evaluate output for this model)")
	fl.Int64Var(&f.maxUploadMiB, "max-upload-mb", 10, "largest poster accepted, uploaded or fetched, in MiB")
	fl.Int64Var(&f.opts.MaxPixels, "max-pixels", 25_000_000, "largest width×height a poster may declare (checked before decoding)")
	fl.IntVar(&f.opts.Concurrency, "concurrency", 0, "predictions in flight (0 = GOMAXPROCS); more wait up to --queue-wait, then get 503")
	fl.DurationVar(&f.opts.QueueWait, "queue-wait", 0, "how long a request waits for a free slot (0 = 2s)")
	fl.DurationVar(&f.opts.FetchTimeout, "fetch-timeout", 0, "deadline for fetching a ?url= poster, redirects included (0 = 10s)")
	fl.DurationVar(&f.opts.RequestTimeout, "request-timeout", 0, "deadline for a whole request, upload included (0 = 30s)")
	fl.BoolVar(&f.opts.AllowPrivateURLs, "allow-private-urls", false, "let ?url= fetch from loopback and private addresses (e.g. a local poster mirror)")
	cmd.MarkFlagRequired("model")
	return cmd
}

// cmdServe loads the model once and serves until the context ends.
func cmdServe(st *State, g *globals, f serveFlags) error {
	if f.maxUploadMiB < 1 {
		return usageErrorf("serve: --max-upload-mb must be >= 1, got %d", f.maxUploadMiB)
	}
	f.opts.MaxUploadBytes = f.maxUploadMiB << 20
	m, err := resolveModel(g.workdir, f.model)
	if err != nil {
		return exitWith(ExitUsage, fmt.Errorf("serve: %w", err))
	}
	f.opts.Alias = m.alias
	model, err := train.LoadModel(m.dir)
	if err != nil {
		return exitWith(ExitUsage, fmt.Errorf("serve: %w", err))
	}
	defer model.Close()
	srv, err := serve.New(model, m.dir, f.opts, g.logger(st))
	if err != nil {
		return exitWith(ExitUsage, fmt.Errorf("serve: %w", err))
	}
	err = srv.ListenAndServe(st.Ctx, f.addr, func(a net.Addr) {
		fmt.Fprintf(st.Stdout, "serving model %s on http://%s/ (Ctrl-C to stop)\n", srv.Card().ID, a)
	})
	if err != nil {
		return exitWith(ExitFailed, fmt.Errorf("serve: %w", err))
	}
	return nil
}
