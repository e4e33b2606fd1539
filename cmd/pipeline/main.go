// Command pipeline turns the IMDB MovieGenre posters into a trained CNN that
// predicts genres, and reports how good it is. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
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
	stopProfile := startCPUProfile(os.Getenv("POSTERGENRE_CPUPROFILE"))
	code := cli.Run(cli.NewState(ctx))
	stopProfile()
	stop()
	tflog.Flush()
	os.Exit(code)
}

// startCPUProfile writes a CPU profile of the whole command to path, for
// finding where a command's time goes (`go tool pprof bin/pipeline path`);
// an environment variable rather than a flag so that every subcommand, and a
// cell started by Slurm, can be profiled without changing its command line.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		os.Stderr.WriteString("pipeline: POSTERGENRE_CPUPROFILE: " + err.Error() + "\n")
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
