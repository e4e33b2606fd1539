package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
)

// TestSignalBeforeExitIs130: a signal that arrives while a command
// finishes (its context is cancelled, yet it returned no error) still
// exits 130 with a message, never 0: whoever sent SIGINT learns it was
// received. The commands stopped by a signal as their normal end (serve,
// mirror) are the exception, tested with the binary.
func TestSignalBeforeExitIs130(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"validate", []string{"validate", "../../configs/paper.yaml"}},
		{"history", []string{"history", "--workdir", t.TempDir()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the signal (signal.NotifyContext cancels the context)
			var out, errb bytes.Buffer
			st := &cli.State{Ctx: ctx, Args: append(tt.args, "--log-format", "text"), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
			if code := cli.Run(st); code != cli.ExitInterrupted || !strings.Contains(errb.String(), "interrupted") {
				t.Errorf("exit %d (want %d), stderr %q", code, cli.ExitInterrupted, errb.String())
			}
		})
	}
}
