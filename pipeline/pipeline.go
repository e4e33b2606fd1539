// Package pipeline runs the stages of a config in order, skipping the ones
// whose output for the same code, config section and inputs already exists.
// It owns the working folder's layout, the lock, the run folders and the
// run history; the stages themselves only read inputs and write one folder.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/stages"
)

// Options are the knobs of one `pipeline run`.
type Options struct {
	Workdir string
	// Only runs just this stage (its inputs must exist).
	Only string
	// From forces this stage and runs everything after it.
	From string
	// Force reruns every selected stage even when up to date.
	Force bool
	// DryRun prints the plan and runs nothing.
	DryRun bool
	// Resume lets the train stage continue an interrupted attempt.
	Resume bool
	// Verify checks every file of an output by its sha256 before reusing
	// it, not only its size and mtime.
	Verify bool
	// Cell runs one grid cell only (its upstream stages, train and
	// evaluate), taking only that cell's lock: a key as configs.GridKey
	// ("40/0.0001") or an index 0..N-1 in grid order (a Slurm array task's
	// SLURM_ARRAY_TASK_ID). "" runs every cell.
	Cell string
	// RunID attaches this run to the run folder runs/<RunID> (created by
	// whichever process comes first) instead of making a new one: each
	// process writes its cells' folders and cells/<cell config>.json there,
	// and the process that started them all collects the cells into
	// run.json with CollectRun. Used with Cell by array jobs.
	RunID string
	// Lease is how long a lock stays valid without its heartbeat (0:
	// DefaultLease). See lock.go for the stale-lock rule.
	Lease  time.Duration
	Logger *slog.Logger
	// Progress is handed to stages for their long steps (nil: none).
	Progress stages.Progress
	// Out receives the plan (--dry-run, status) and the final summary for people.
	Out io.Writer
	// Build makes the stage objects of a config, keyed by stages.Order's
	// names. Required: the pipeline knows stages only through the contract
	// in package stages, and one place (the CLI) wires the real ones.
	Build func(cfg configs.Config) map[string]stages.Stage
	// Setup, when set, runs under the working folder's lock before
	// anything is planned, so that two runs never prepare the same inputs
	// at once (the demo generates its data and starts its server). Its
	// cleanup runs when the run ends.
	Setup func(ctx context.Context) (cleanup func(), err error)
	// ExtraLog, when set, receives every log record too (the run's log.jsonl).
	ExtraLog func(runDir string) (slog.Handler, io.Closer, error)
}

// Status of a stage in a plan.
const (
	StatusUpToDate      = "up to date"
	StatusNeverRun      = "never run"
	StatusParamsChanged = "params changed"
	StatusInputChanged  = "input changed"
	StatusRetriesDue    = "retries due"
	// StatusDamaged is an output whose files no longer match its manifest
	// (Step.Reason says which): it is rebuilt.
	StatusDamaged     = "damaged"
	StatusForced      = "forced"
	StatusNotSelected = "not selected"
	// StatusRan and StatusFailed are how a stage that ran in a run ended.
	StatusRan    = "ran"
	StatusFailed = "failed"
)

// Status of a run or a cell (RunRecord.Status).
const (
	RunOK        = "ok"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Step is one stage in a plan or a run.
type Step struct {
	Cell        string  `json:"cell,omitempty"`
	Stage       string  `json:"stage"`
	Status      string  `json:"status"` // plan status, then "ran", "up to date", "failed", "not selected"
	Fingerprint string  `json:"fingerprint,omitempty"`
	Output      string  `json:"output,omitempty"`
	Seconds     float64 `json:"seconds,omitempty"`
	Error       string  `json:"error,omitempty"`
	// Reason details the status (which file of a damaged output).
	Reason  string         `json:"reason,omitempty"`
	Summary map[string]any `json:"summary,omitempty"`
	// Headline is the stage's typed headline metrics (stages.Result.Headline).
	Headline []stages.Metric `json:"headline,omitempty"`
	// RowCountKeys name the Summary entries that count rows (stages.RowAccounter).
	RowCountKeys []string `json:"row_count_keys,omitempty"`
	// Changed names the config values behind "params changed"
	// ("train.epochs: 12 → 3"), when the previous run recorded them.
	Changed []string `json:"changed,omitempty"`
	// Note says more about the status (--dry-run --resume: whether the
	// train stage would resume, and from which epoch).
	Note string `json:"note,omitempty"`
}

// Runner runs configs in one working folder.
type Runner struct {
	opts   Options
	layout layout
	log    *slog.Logger
	now    func() time.Time
}

// NewRunner checks the options and prepares the working folder.
func NewRunner(opts Options) (*Runner, error) {
	if opts.Workdir == "" {
		return nil, errors.New("pipeline: no working folder")
	}
	if opts.Only != "" && opts.From != "" {
		return nil, errors.New("--only and --from cannot be combined")
	}
	for _, s := range []string{opts.Only, opts.From} {
		if s != "" && indexOf(stages.Order, s) < 0 {
			return nil, fmt.Errorf("unknown stage %q (stages: %v)", s, stages.Order)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Build == nil {
		return nil, errors.New("pipeline: Options.Build is required")
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.RunID != "" && !validRunID(opts.RunID) {
		return nil, fmt.Errorf("--run-id %q: letters, digits, '.', '_' and '-' only", opts.RunID)
	}
	abs, err := filepath.Abs(opts.Workdir)
	if err != nil {
		return nil, err
	}
	opts.Workdir = abs
	// A working folder that is a file fails later with "not a directory"
	// on some path inside it; say what is wrong with the flag instead.
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("working folder %s: not a folder", abs)
	}
	return &Runner{opts: opts, layout: layout{root: abs}, log: opts.Logger, now: time.Now}, nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// selected reports whether a stage runs under --only/--from.
func (r *Runner) selected(stage string) bool {
	switch {
	case r.opts.Only != "":
		return stage == r.opts.Only
	case r.opts.From != "":
		return indexOf(stages.Order, stage) >= indexOf(stages.Order, r.opts.From)
	}
	return true
}

// forced reports whether a stage reruns even when up to date. --from
// forces its own stage only: the later ones rerun when its new output
// differs from the one they were made from (outputs are identified by
// content), as after any other change.
func (r *Runner) forced(stage string) bool {
	return r.opts.Force || (r.opts.From != "" && stage == r.opts.From)
}

// Plan returns what a run of cfg would do, running nothing.
func (r *Runner) Plan(ctx context.Context, cfg *configs.Loaded) ([]Step, error) {
	var steps []Step
	cells, err := SelectCells(cfg, r.opts.Cell)
	if err != nil {
		return nil, err
	}
	for _, cell := range cells {
		c := cell.Config
		built, err := r.build(c)
		if err != nil {
			return nil, err
		}
		outputs := map[string]string{}
		cellState, err := r.loadState(c.Name, false)
		if err != nil {
			return nil, err
		}
		for _, name := range stages.Order {
			p, err := r.planStage(ctx, &c, built[name], outputs, cellState)
			if err != nil {
				return nil, err
			}
			p.Cell = cell.Key
			r.resumeNote(&p)
			if p.Status == StatusUpToDate {
				m, err := readStageManifest(p.dir)
				if err == nil {
					m.OutputID, err = currentOutputID(built[name], p.dir, m)
				}
				if err != nil {
					return nil, err
				}
				outputs[name] = m.OutputID
			}
			steps = append(steps, p.Step)
		}
	}
	return steps, nil
}

// build makes a config's stages and checks that every stage is there.
func (r *Runner) build(c configs.Config) (map[string]stages.Stage, error) {
	built := r.opts.Build(c)
	for _, name := range stages.Order {
		st := built[name]
		if st == nil || st.Name() != name {
			return nil, fmt.Errorf("pipeline: Options.Build made no %q stage", name)
		}
	}
	return built, nil
}

// loadState reads state/<config>.json; a config never run has none. The
// state only tells "params changed" from "input changed", so a damaged
// one costs nothing but that: it is ignored (planning), or moved aside
// (a run: repair) and rebuilt from the outputs the run uses; the log says
// which file and where it went.
func (r *Runner) loadState(config string, repair bool) (configState, error) {
	s := configState{Stages: map[string]stageState{}}
	path := r.layout.state(config)
	err := readJSON(path, &s)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
	case errors.As(err, &syntax), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF):
		s = configState{}
		if !repair {
			r.log.Warn("state file unreadable: ignored (a run moves it aside and rebuilds it)", "file", path, "err", err)
			break
		}
		aside := path + ".corrupt-" + r.now().UTC().Format("20060102T150405Z") + "-" + newID()
		if rerr := os.Rename(path, aside); rerr != nil {
			return s, fmt.Errorf("pipeline: state of %s: %s: %w; moving it aside: %w", config, path, err, rerr)
		}
		r.log.Warn("state file unreadable: moved aside, rebuilt from the outputs this run uses", "file", path, "moved_to", aside, "err", err)
	default:
		return s, fmt.Errorf("pipeline: state of %s: %w", config, err)
	}
	if s.Stages == nil {
		s.Stages = map[string]stageState{}
	}
	return s, nil
}

// saveState writes state/<config>.json (under the config's run lock: the
// only writer).
func (r *Runner) saveState(config string, s configState) error {
	if err := writeJSON(r.layout.state(config), s); err != nil {
		return fmt.Errorf("pipeline: state of %s: %w", config, err)
	}
	return nil
}

// PrintPlan writes a plan as an aligned table.
func PrintPlan(w io.Writer, steps []Step) {
	for _, s := range steps {
		cell := ""
		if s.Cell != "" {
			cell = "[" + s.Cell + "] "
		}
		fp := s.Fingerprint
		if fp == "" {
			fp = "-"
		}
		status := s.Status
		if len(s.Changed) > 0 {
			status += ": " + strings.Join(s.Changed, ", ")
		}
		if s.Reason != "" {
			status += " (" + s.Reason + ")"
		}
		if s.Note != "" {
			status += " (" + s.Note + ")"
		}
		fmt.Fprintf(w, "%-22s %-16s %s\n", cell+s.Stage, fp, status)
	}
}

// resumeNote says, under --resume, whether a stage that would run resumes
// and from where, or why it would start over.
func (r *Runner) resumeNote(p *stepPlan) {
	res, ok := p.stage.(stages.Resumer)
	if !r.opts.Resume || !ok || p.Status == StatusUpToDate || p.Status == StatusNotSelected {
		return
	}
	prev := ""
	if p.Fingerprint != "" {
		if _, err := os.Stat(r.layout.interrupted(p.Stage, p.Fingerprint)); err == nil {
			prev = r.layout.interrupted(p.Stage, p.Fingerprint)
		}
	}
	if prev == "" {
		prev = p.prevOutput
	}
	if prev == "" {
		p.Note = "--resume: no interrupted attempt for these inputs and params, would start over"
		return
	}
	at, err := res.ResumePoint(prev)
	if err != nil {
		p.Note = "--resume: would start over: " + err.Error()
		return
	}
	p.Note = "would resume from " + at
}

// ensureDirs creates the working folder's skeleton.
func (r *Runner) ensureDirs() error {
	dirs := []string{r.layout.root, r.layout.posters(), r.layout.runs(), filepath.Join(r.layout.root, "state")}
	for _, s := range stages.Order {
		dirs = append(dirs, r.layout.stageDir(s))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("working folder %s: %w", r.layout.root, err)
		}
	}
	return nil
}
