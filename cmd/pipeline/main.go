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

func main() {
	// SIGINT/SIGTERM cancel the context: stages stop, outputs stay consistent.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(cli.NewState(ctx))
	stop()
	os.Exit(code)
}
