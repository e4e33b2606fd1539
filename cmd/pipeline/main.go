// Command pipeline turns the IMDB MovieGenre posters into a trained CNN that
// predicts genres, and reports how good it is. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/postergenre/postergenre/internal/cli"
)

// TensorFlow prints its C++ info lines while the library loads, before main
// runs; only the environment can silence them: TF_CPP_MIN_LOG_LEVEL=2 (the
// Makefile and the README's cron line set it).
func main() {
	// SIGINT/SIGTERM cancel the context: stages stop, outputs stay consistent.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(cli.NewState(ctx))
	stop()
	os.Exit(code)
}
