package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/postergenre/postergenre/app/demodata"
	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/httpserve"
	"github.com/postergenre/postergenre/scrape"
)

// startDemo generates the demo data (once per size and seed) under the
// working folder, serves it on a loopback port and points the config's
// scrape stage at it. The scrape stage then fetches over real HTTP, exactly
// as from the CDN.
func startDemo(ctx context.Context, cfg *configs.Loaded, workdir string, log *slog.Logger) (stop func(), err error) {
	d := cfg.Demo
	dir := demoDir(cfg, workdir)
	if _, err := os.Stat(filepath.Join(dir, "MovieGenre.csv")); err != nil {
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		ds, err := demodata.Generate(tmp, d.Posters, d.Seed)
		if err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return nil, err
		}
		log.Info("demo data generated", "dir", dir, "rows", ds.Rows, "posters", d.Posters)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	// The server outlives ctx until stop: the run's last stage may still be
	// reading from it when ctx ends.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := httpserve.Serve(sctx, srv, ln, 2*time.Second, nil); err != nil {
			log.Error("demo server", "err", err)
		}
	}()
	base := "http://" + ln.Addr().String() + "/"
	log.Info("demo server listening", "url", base)
	cfg.Scrape.CSV = base + "MovieGenre.csv"
	cfg.Scrape.URLRewrite = append(cfg.Scrape.URLRewrite,
		scrape.Rewrite{Pattern: `^https?://` + regexp.QuoteMeta(demodata.Host) + `/`, Replace: base},
		// The fallback to the title page stays offline too: the loopback
		// server has no title pages, so it answers 404 at once.
		scrape.Rewrite{Pattern: `^https?://www\.imdb\.com/`, Replace: base},
	)
	return func() {
		cancel()
		<-served
	}, nil
}

// demoDir is where the demo data of a config's size and seed lives.
func demoDir(cfg *configs.Loaded, workdir string) string {
	return filepath.Join(workdir, "demo-data", fmt.Sprintf("n%d-seed%d", cfg.Demo.Posters, cfg.Demo.Seed))
}
