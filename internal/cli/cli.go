// Package cli implements the pipeline command: parsing, logging set-up and
// exit codes. All process state (args, env, streams) comes in through State
// so tests run commands without touching globals.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/term"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/internal/buildinfo"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// Exit codes, documented in the README and in --help.
const (
	ExitOK     = 0 // success
	ExitFailed = 1 // a stage failed (or, for predict, an input failed)
	ExitUsage  = 2 // usage or config error
	ExitLocked = 3 // another run holds the working folder's lock
)

// State is the process seen by a command.
type State struct {
	Ctx    context.Context
	Args   []string // without the program name
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether stderr is a terminal (logs as text and
	// progress bars there; JSON and no bars otherwise, e.g. under cron).
	IsTerminal bool
}

// NewState builds the real process state.
func NewState(ctx context.Context) *State {
	return &State{
		Ctx:        ctx,
		Args:       os.Args[1:],
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		IsTerminal: term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("TERM") != "dumb",
	}
}

const usage = `pipeline — predict movie genres from posters: scrape → clean → encode → train → evaluate

Usage:
  pipeline run CONFIG [--workdir DIR] [--only STAGE] [--from STAGE] [--force] [--dry-run] [--resume] [--set k=v]...
  pipeline status CONFIG [--workdir DIR] [--set k=v]...   which stages are up to date (runs nothing)
  pipeline validate CONFIG [--set k=v]...                 check a config; print every problem
  pipeline history [--workdir DIR]                        past runs with their key metrics
  pipeline predict --model DIR [--top 3] [--format text|json|csv] INPUT...
  pipeline serve --model DIR [--addr 127.0.0.1:8080] [--report DIR]    web page + JSON API for a model
  pipeline mirror --csv FILE --posters DIR [--addr 127.0.0.1:8089]   serve posters locally (offline runs)
  pipeline version                                        versions and the devices TensorFlow sees

Stages: scrape, clean, encode, train, evaluate.
Global flags: --quiet (warnings and errors only), --log-format text|json (default: text on a terminal, json otherwise).

Exit codes: 0 ok · 1 a stage failed (predict: an input failed) · 2 usage or config error · 3 another run holds the lock.
`

// Run executes one command line and returns the exit code.
func Run(st *State) int {
	args := st.Args
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(st.Stdout, usage)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(st, rest, false)
	case "status":
		return cmdRun(st, rest, true)
	case "validate":
		return cmdValidate(st, rest)
	case "history":
		return cmdHistory(st, rest)
	case "version", "--version":
		return cmdVersion(st, rest)
	case "predict":
		return cmdPredict(st, rest)
	case "mirror":
		return cmdMirror(st, rest)
	case "serve":
		logger, _ := (&logFlags{}).logger(st)
		return cmdServe(st.Ctx, rest, st.Stdout, st.Stderr, logger)
	}
	fmt.Fprintf(st.Stderr, "pipeline: unknown command %q\n\n%s", cmd, usage)
	return ExitUsage
}

// multi is a repeatable string flag (--set).
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// logFlags are the logging flags every command shares.
type logFlags struct {
	quiet  bool
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&l.quiet, "quiet", false, "log warnings and errors only")
	fs.StringVar(&l.format, "log-format", "", "text or json (default: text on a terminal, json otherwise)")
}

func (l *logFlags) logger(st *State) (*slog.Logger, error) {
	level := slog.LevelInfo
	if l.quiet {
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	format := l.format
	if format == "" {
		format = "json"
		if st.IsTerminal {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(st.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(st.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(st *State, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(st.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(st.Stderr, "Usage: pipeline %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(st.Stderr, "\nExit codes: 0 ok · 1 failed · 2 usage or config error · 3 locked\n")
	}
	return fs
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}

func loadConfig(st *State, file string, sets []string) (*configs.Loaded, int) {
	cfg, err := configs.Load(file, sets)
	if err != nil {
		fmt.Fprintf(st.Stderr, "%s\n", err)
		var ce *configs.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(st.Stderr, "%s: %d problem(s)\n", file, len(ce.Problems))
		}
		return nil, ExitUsage
	}
	return cfg, ExitOK
}

// parseConfigArgs parses a command line of one CONFIG plus flags, then
// loads the config with the --set overrides. A nil config means stop with
// the code returned (the problem, or the --help text, has been printed).
func parseConfigArgs(st *State, fs *flag.FlagSet, args []string, sets *multi) (*configs.Loaded, int) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, flagExit(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return nil, ExitUsage
	}
	return loadConfig(st, pos[0], *sets)
}

func cmdValidate(st *State, args []string) int {
	fs := newFlagSet(st, "validate", "validate CONFIG [--set k=v]...")
	var sets multi
	fs.Var(&sets, "set", "override a field: path=value (repeatable), e.g. train.epochs=5")
	cfg, code := parseConfigArgs(st, fs, args, &sets)
	if cfg == nil {
		return code
	}
	cells := len(cfg.Cells())
	fmt.Fprintf(st.Stdout, "%s: ok (config %q, %d run(s))\n", cfg.File, cfg.Name, cells)
	return ExitOK
}

func defaultWorkdir(st *State) string {
	if w := st.Getenv("POSTERGENRE_WORKDIR"); w != "" {
		return w
	}
	return "work"
}

func cmdRun(st *State, args []string, statusOnly bool) int {
	opts, cfg, quiet, code := parseRunArgs(st, args, statusOnly)
	if cfg == nil {
		return code
	}
	if cfg.Demo != nil {
		stop, err := startDemo(st.Ctx, cfg, opts.Workdir, opts.Logger)
		if err != nil {
			fmt.Fprintf(st.Stderr, "pipeline: demo: %v\n", err)
			return ExitFailed
		}
		defer stop()
	}
	if st.IsTerminal && !quiet {
		opts.Progress = st.Stderr
	}
	r, err := pipeline.NewRunner(opts)
	if err != nil {
		fmt.Fprintf(st.Stderr, "pipeline: %v\n", err)
		return ExitUsage
	}
	if statusOnly {
		steps, err := r.Plan(st.Ctx, cfg)
		if err != nil {
			fmt.Fprintf(st.Stderr, "pipeline: %v\n", err)
			return ExitFailed
		}
		pipeline.PrintPlan(st.Stdout, steps)
		return ExitOK
	}
	rec, err := r.Run(st.Ctx, cfg)
	if rec != nil && rec.ID != "" {
		printSummary(st, rec, opts.Workdir)
	}
	if err == nil {
		return ExitOK
	}
	// The one place a failed run's error reaches people, whatever the
	// log level: the logs are records, this is the message.
	fmt.Fprintf(st.Stderr, "pipeline: %v\n", err)
	var lockErr *pipeline.LockError
	if errors.As(err, &lockErr) {
		return ExitLocked
	}
	return ExitFailed
}

// parseRunArgs parses the command line of run and status into runner
// options (with the logger and the stages wired) and loads the config. A
// nil config means stop with the code returned (the problem, or the --help
// text, has been printed).
func parseRunArgs(st *State, args []string, statusOnly bool) (pipeline.Options, *configs.Loaded, bool, int) {
	name := "run"
	synopsis := "run CONFIG [--workdir DIR] [--only STAGE] [--from STAGE] [--force] [--dry-run] [--resume] [--set k=v]..."
	if statusOnly {
		name, synopsis = "status", "status CONFIG [--workdir DIR] [--set k=v]..."
	}
	fs := newFlagSet(st, name, synopsis)
	var (
		sets multi
		lf   logFlags
		opts pipeline.Options
	)
	fs.StringVar(&opts.Workdir, "workdir", defaultWorkdir(st), "working folder: poster store, stage outputs, runs (env POSTERGENRE_WORKDIR)")
	fs.Var(&sets, "set", "override a field: path=value (repeatable), e.g. train.epochs=5")
	if !statusOnly {
		fs.StringVar(&opts.Only, "only", "", "run only this stage (its inputs must exist)")
		fs.StringVar(&opts.From, "from", "", "rerun this stage and everything after it")
		fs.BoolVar(&opts.Force, "force", false, "rerun stages even when up to date")
		fs.BoolVar(&opts.DryRun, "dry-run", false, "print the plan; run nothing")
		fs.BoolVar(&opts.Resume, "resume", false, "continue an interrupted train stage from its last checkpoint")
	}
	lf.register(fs)
	cfg, code := parseConfigArgs(st, fs, args, &sets)
	if cfg == nil {
		return opts, nil, false, code
	}
	log, err := lf.logger(st)
	if err != nil {
		fmt.Fprintln(st.Stderr, err)
		return opts, nil, false, ExitUsage
	}
	opts.Logger = log
	opts.Out = st.Stdout
	opts.ExtraLog = pipeline.JSONLogFile
	opts.Build = buildStages
	return opts, cfg, lf.quiet, ExitOK
}

// printSummary tells people where the results are (logs carry the rest).
func printSummary(st *State, rec *pipeline.RunRecord, workdir string) {
	runDir := filepath.Join(workdir, "runs", rec.ID)
	fmt.Fprintf(st.Stdout, "run %s: %s in %.1fs\n", rec.ID, rec.Status, rec.Seconds)
	for _, s := range rec.Steps {
		cell := ""
		if s.Cell != "" {
			cell = "[" + s.Cell + "] "
		}
		line := fmt.Sprintf("  %-24s %-12s", cell+s.Stage, s.Status)
		if s.Seconds > 0 {
			line += fmt.Sprintf(" %7.1fs", s.Seconds)
		}
		if s.Error != "" {
			line += "  " + s.Error
		}
		fmt.Fprintln(st.Stdout, line)
	}
	if rec.Grid != "" {
		fmt.Fprintf(st.Stdout, "\n%s\n", rec.Grid)
	} else {
		if acc := pipeline.Accounting(rec.Steps); acc != "" {
			fmt.Fprintf(st.Stdout, "\nwhere the rows went:\n%s", acc)
		}
		if h := pipeline.Headline(rec.Steps); len(h) > 0 {
			fmt.Fprintf(st.Stdout, "\ntest %s\n", headlineText(h))
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "report", "report.md")); err == nil {
		fmt.Fprintf(st.Stdout, "report: %s\n", filepath.Join(runDir, "report", "report.md"))
	}
	fmt.Fprintf(st.Stdout, "run folder: %s\n", runDir)
}

// headlineText reads "Paper accuracy … 0.512 (baseline 0.301), Top-3 hit …".
func headlineText(h []stages.Metric) string {
	parts := make([]string, len(h))
	for i, m := range h {
		parts[i] = fmt.Sprintf("%s %.3f", m.Label, m.Value)
		if m.Baseline != nil {
			parts[i] += fmt.Sprintf(" (baseline %.3f)", *m.Baseline)
		}
	}
	return strings.Join(parts, ", ")
}

func cmdHistory(st *State, args []string) int {
	fs := newFlagSet(st, "history", "history [--workdir DIR]")
	var workdir string
	fs.StringVar(&workdir, "workdir", defaultWorkdir(st), "working folder")
	if _, err := parse(fs, args); err != nil {
		return flagExit(err)
	}
	runs, err := pipeline.History(workdir)
	if err != nil {
		fmt.Fprintln(st.Stderr, err)
		return ExitFailed
	}
	pipeline.PrintHistory(st.Stdout, runs)
	return ExitOK
}

func cmdVersion(st *State, args []string) int {
	fmt.Fprintf(st.Stdout, "pipeline %s (commit %s)\n", buildinfo.Version, buildinfo.Commit)
	fmt.Fprintf(st.Stdout, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return versionTF(st)
}
