// Package cli implements the pipeline command on github.com/spf13/cobra:
// commands and flags, logging set-up, output for people (a terminal) or
// for machines (cron: one JSON object per line) and exit codes. All process
// state (args, env, streams) comes in through State so tests run commands
// without touching globals.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/buildinfo"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// Exit codes, documented in the README and in each command's --help.
const (
	ExitOK          = 0   // success
	ExitFailed      = 1   // a stage failed (predict: an input failed; others: could not read what they show)
	ExitUsage       = 2   // usage or config error (unknown command, flag, stage, key, run or folder)
	ExitLocked      = 3   // another run holds the working folder's lock
	ExitInterrupted = 130 // interrupted (SIGINT/SIGTERM), also when the work finished before exit; outputs stay consistent
)

// State is the process seen by a command.
type State struct {
	Ctx  context.Context
	Args []string // without the program name
	// Program is how the binary was invoked (os.Args[0]), for command
	// lines printed to paste; "" prints "pipeline".
	Program string
	Stdout  io.Writer
	Stderr  io.Writer
	Getenv  func(string) string
	// IsTerminal reports whether stderr is a terminal: text logs and
	// progress bars there; JSON logs and progress log lines otherwise.
	IsTerminal bool
	// StdoutIsTerminal reports whether stdout is a terminal: the run
	// summary is text there and one JSON record otherwise (cron).
	StdoutIsTerminal bool
	// TermWidth is stdout's terminal width in columns (0: not a terminal).
	TermWidth func() int
}

// NewState builds the real process state.
func NewState(ctx context.Context) *State {
	dumb := os.Getenv("TERM") == "dumb"
	return &State{
		Ctx:              ctx,
		Args:             os.Args[1:],
		Program:          os.Args[0],
		Stdout:           os.Stdout,
		Stderr:           os.Stderr,
		Getenv:           os.Getenv,
		IsTerminal:       term.IsTerminal(int(os.Stderr.Fd())) && !dumb,
		StdoutIsTerminal: term.IsTerminal(int(os.Stdout.Fd())) && !dumb,
		TermWidth: func() int {
			w, _, err := term.GetSize(int(os.Stdout.Fd()))
			if err != nil {
				return 0
			}
			return w
		},
	}
}

// exitError carries a command's exit code with its message ("" message:
// already reported).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func exitWith(code int, err error) error { return &exitError{code: code, err: err} }
func usageErrorf(format string, args ...any) error {
	return exitWith(ExitUsage, fmt.Errorf(format, args...))
}

// globals are the flags every command accepts, before or after its name.
type globals struct {
	quiet     bool
	workdir   string
	logFormat string
}

// format resolves --log-format: text on a terminal, json otherwise.
func (g *globals) format(st *State) string {
	if g.logFormat != "" {
		return g.logFormat
	}
	if st.IsTerminal {
		return "text"
	}
	return "json"
}

func (g *globals) logger(st *State) *slog.Logger {
	return newLogger(st.Stderr, g.format(st), g.quiet)
}

// exit codes per command, shown in its help (and in the README).
const (
	exitsRun      = "  0 ok · 1 a stage failed (the cause is printed) · 2 usage or config error · 3 another run of the same config (grid cell) holds its lock · 130 interrupted"
	exitsStatus   = "  0 ok · 1 could not plan (e.g. the CSV is unreadable) · 2 usage or config error"
	exitsValidate = "  0 valid · 2 usage error or an invalid config (every problem printed)"
	exitsHistory  = "  0 ok · 1 a run record could not be read (the other runs are still listed; its row says unreadable) · 2 usage error or no such working folder"
	exitsDiff     = "  0 ok · 1 a run could not be read (run.json, or a predictions.parquet there but unreadable) · 2 usage error or no such run"
	exitsPredict  = "  0 ok · 1 an input failed (the others are still written) · 2 usage error or unreadable model"
	exitsMirror   = "  0 stopped by a signal · 1 could not listen · 2 usage error"
	exitsVersion  = "  0 ok · 1 TensorFlow could not list its devices"
	exitsCollect  = "  0 every cell ok · 1 a cell failed or has no record (each named) · 2 usage or config error"
)

// A command whose normal end is a signal (serve, mirror) says so in its
// annotations; for every other command a signal received before exit means
// exit 130, even when the work finished first.
const (
	annotStop    = "stop"
	stopBySignal = "signal"
)

// Run executes one command line and returns the exit code.
func Run(st *State) int {
	g := &globals{}
	root := newRoot(st, g)
	root.SetArgs(st.Args)
	root.SetOut(st.Stdout)
	root.SetErr(st.Stderr)
	cmd, err := root.ExecuteContextC(st.Ctx)
	if err == nil && st.Ctx.Err() != nil && cmd.Annotations[annotStop] != stopBySignal {
		// The signal came as the command finished: its work is complete, but
		// whoever sent the signal learns it was received (exit 130, always).
		err = exitWith(ExitInterrupted, errors.New("interrupted: a signal arrived as the command finished; what it wrote is complete"))
	}
	if err == nil {
		return ExitOK
	}
	code := ExitUsage // cobra's own errors: unknown command or flag, wrong arguments
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if st.Ctx.Err() != nil && code == ExitFailed {
		code = ExitInterrupted
	}
	if msg := err.Error(); msg != "" {
		if code != ExitUsage {
			// A run's error can quote its input; a usage error lists
			// every config problem and is kept whole.
			msg = pipeline.CapText(msg)
		}
		if g.format(st) == "json" {
			record(st.Stderr, slog.LevelError, "pipeline failed", map[string]any{"err": msg, "exit_code": code})
		} else {
			fmt.Fprintf(st.Stderr, "pipeline: %s\n", msg)
			if code == ExitUsage && ee == nil {
				fmt.Fprintln(st.Stderr, "Run 'pipeline --help' for usage.")
			}
		}
	}
	return code
}

func newRoot(st *State, g *globals) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "pipeline",
		Short: "predict movie genres from posters: scrape → clean → encode → train → evaluate",
		Long: `pipeline — predict movie genres from posters: scrape → clean → encode → train → evaluate.

Stages: ` + strings.Join(stages.Order, ", ") + `. Every stage output is cached by its
fingerprint (code version, config section, inputs); run reruns only what changed.`,
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		// No Args: cobra's legacy check says "unknown command" with its
		// "Did you mean this?" suggestions.
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return cmdVersion(st)
			}
			cmd.Help()
			return exitWith(ExitUsage, nil)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.Flags().BoolVar(&showVersion, "version", false, "print versions (same as: pipeline version)")
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "log warnings and errors only")
	pf.StringVar(&g.workdir, "workdir", defaultWorkdir(st), "working folder: poster store, stage outputs, runs (env POSTERGENRE_WORKDIR)")
	pf.StringVar(&g.logFormat, "log-format", "", "text or json (default: text on a terminal, json otherwise)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if f := g.logFormat; f != "" && f != "text" && f != "json" {
			return usageErrorf("--log-format must be text or json, got %q", f)
		}
		routeStdlibLog(g.logger(st))
		return nil
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return exitWith(ExitUsage, fmt.Errorf("%s: %w", cmd.CommandPath(), err))
	})
	// Exit codes close every command's help.
	root.SetUsageTemplate(root.UsageTemplate() + `{{if .Annotations.exits}}
Exit codes:
{{.Annotations.exits}}
{{end}}`)
	root.Annotations = map[string]string{"exits": "  " + "0 ok · 1 failed · 2 usage or config error · 3 locked · 130 interrupted (see each command)"}

	root.AddCommand(
		newRunCmd(st, g),
		newCollectCmd(st, g),
		newStatusCmd(st, g),
		newValidateCmd(st, g),
		newHistoryCmd(st, g),
		newDiffCmd(st, g),
		newGCCmd(st, g),
		newTagCmd(st, g),
		newExpCmd(st, g),
		newCompareCmd(st, g),
		newPredictCmd(st, g),
		newMirrorCmd(st),
		newVersionCmd(st),
		newServeCmd(st, g),
		newCalibrateCmd(st, g),
	)
	return root
}

// width is the columns a table may use: --width when given, else
// $COLUMNS, else the terminal's width; 0 (no limit) when stdout is not a
// terminal (a pipe or a file gets whole lines).
func (st *State) width(flag int) int {
	if flag > 0 {
		return flag
	}
	if c, err := strconv.Atoi(st.Getenv("COLUMNS")); err == nil && c > 0 {
		return c
	}
	if st.TermWidth != nil {
		return st.TermWidth()
	}
	return 0
}

func addWidthFlag(cmd *cobra.Command, w *int) {
	cmd.Flags().IntVar(w, "width", 0, "fit the table in this many columns (default: $COLUMNS or the terminal's; no limit in a pipe)")
}

func defaultWorkdir(st *State) string {
	if w := st.Getenv("POSTERGENRE_WORKDIR"); w != "" {
		return w
	}
	return "work"
}

// loadConfig loads a config with its --set overrides; every problem is
// printed, and the error is a usage error (exit 2).
func loadConfig(file string, sets []string) (*configs.Loaded, error) {
	if err := checkSetKeys(sets); err != nil {
		return nil, err
	}
	cfg, err := configs.Load(file, sets)
	if err != nil {
		var ce *configs.Error
		if errors.As(err, &ce) {
			return nil, usageErrorf("%w\n%s: %d problem(s)", err, file, len(ce.Problems))
		}
		return nil, exitWith(ExitUsage, err)
	}
	return cfg, nil
}

func newValidateCmd(st *State, g *globals) *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:         "validate CONFIG [--set key=value]...",
		Short:       "check a config; print every problem",
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{"exits": exitsValidate},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(args[0], sets)
			if err != nil {
				return err
			}
			fmt.Fprintf(st.Stdout, "%s: ok (config %q, %d run(s))\n", cfg.File, cfg.Name, len(cfg.Cells()))
			return nil
		},
	}
	addSetFlag(cmd, &sets)
	return cmd
}

func addSetFlag(cmd *cobra.Command, sets *[]string) {
	cmd.Flags().StringArrayVar(sets, "set", nil, "override a config value: key=value (repeatable), e.g. --set train.epochs=5")
}

func newVersionCmd(st *State) *cobra.Command {
	return &cobra.Command{
		Use:         "version",
		Short:       "versions and the devices TensorFlow sees",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"exits": exitsVersion},
		RunE:        func(cmd *cobra.Command, args []string) error { return cmdVersion(st) },
	}
}

func cmdVersion(st *State) error {
	fmt.Fprintf(st.Stdout, "pipeline %s (commit %s)\n", buildinfo.Version, buildinfo.Commit)
	fmt.Fprintf(st.Stdout, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if code := versionTF(st); code != ExitOK {
		return exitWith(code, nil)
	}
	return nil
}
