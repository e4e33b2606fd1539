// Command pipeline turns the IMDB MovieGenre posters into a trained CNN that
// predicts genres, and reports how good it is. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/postergenre/postergenre/app/cli"
	// TensorFlow's own INFO/WARNING lines (some written while the library
	// loads, before main) are kept off stderr from a start-up hook; errors
	// still show. TF_CPP_MIN_LOG_LEVEL, if exported, wins. See the package.
	"github.com/postergenre/postergenre/internal/tflog"
)

func main() {
	// SIGINT/SIGTERM cancel the context: stages stop, outputs stay consistent.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(cli.NewState(ctx))
	stop()
	tflog.Flush()
	os.Exit(code)
}
