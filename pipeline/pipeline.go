// Package pipeline runs the stages of a config in order, skipping the ones
// whose output for the same code, config section and inputs already exists.
// It owns the working folder's layout, the lock, the run folders and the
// run history; the stages themselves only read inputs and write one folder.
package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
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
	Logger *slog.Logger
	// Progress is where stages draw progress bars (nil: not on a terminal).
	Progress io.Writer
	// Out receives the plan (--dry-run, status) and the final summary for people.
	Out io.Writer
	// Build makes the stage objects for a config; nil means Stages.
	Build func(cfg configs.Config) map[string]stages.Stage
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
	StatusForced        = "forced"
	StatusNotSelected   = "not selected"
)

// Step is one stage in a plan or a run.
type Step struct {
	Cell        string         `json:"cell,omitempty"`
	Stage       string         `json:"stage"`
	Status      string         `json:"status"` // plan status, then "ran", "up to date", "failed", "not selected"
	Fingerprint string         `json:"fingerprint,omitempty"`
	Output      string         `json:"output,omitempty"`
	Seconds     float64        `json:"seconds,omitempty"`
	Error       string         `json:"error,omitempty"`
	Summary     map[string]any `json:"summary,omitempty"`
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
		opts.Build = Stages
	}
	abs, err := filepath.Abs(opts.Workdir)
	if err != nil {
		return nil, err
	}
	opts.Workdir = abs
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

// forced reports whether a stage reruns even when up to date.
func (r *Runner) forced(stage string) bool {
	return r.opts.Force || (r.opts.From != "" && stage == r.opts.From)
}

// fingerprint hashes what a stage's output depends on: its code version,
// its config section and the identities of its inputs.
func fingerprint(stage, version, configHash string, inputs map[string]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "stage=%s\nversion=%s\nconfig=%s\n", stage, version, configHash)
	keys := make([]string, 0, len(inputs))
	for k := range inputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "input %s=%s\n", k, inputs[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func newID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stepPlan is the plan for one stage given what exists on disk.
type stepPlan struct {
	Step
	stage      stages.Stage
	configHash string
	inputs     map[string]string // upstream → OutputID, nil when an input is yet to be produced
	prevOutput string            // the existing output for this fingerprint
}

// planStage decides what to do with one stage. outputs maps the upstream
// stages already settled in this plan to their OutputIDs ("" = will change).
func (r *Runner) planStage(ctx context.Context, cfg *configs.Config, st stages.Stage, outputs map[string]string, state configState) (stepPlan, error) {
	name := st.Name()
	p := stepPlan{Step: Step{Stage: name}, stage: st, configHash: cfg.SectionHash(name)}
	if name == stages.Scrape {
		// The scrape stage's input is the CSV itself.
		csvHash, err := csvIdentity(ctx, cfg)
		if err != nil {
			return p, err
		}
		p.configHash = hashStrings(p.configHash, "csv="+csvHash)
	}
	p.inputs = map[string]string{}
	for _, in := range stages.Inputs[name] {
		id, ok := outputs[in]
		if !ok || id == "" {
			p.inputs = nil
			break
		}
		p.inputs[in] = id
	}
	prev, hadPrev := state.Stages[name]
	if p.inputs == nil {
		p.Status = StatusInputChanged
		if !r.selected(name) {
			p.Status = StatusNotSelected
		}
		return p, nil
	}
	p.Fingerprint = fingerprint(name, st.Version(), p.configHash, p.inputs)
	out := r.layout.output(name, p.Fingerprint)
	m, err := readStageManifest(out)
	switch {
	case err == nil:
		p.prevOutput = out
		p.Output = out
		p.Status = StatusUpToDate
		if name == stages.Scrape && retriesDue(m, r.now()) {
			p.Status = StatusRetriesDue
		}
	case !hadPrev:
		p.Status = StatusNeverRun
	case prev.ConfigHash != p.configHash:
		p.Status = StatusParamsChanged
	default:
		p.Status = StatusInputChanged
	}
	if r.selected(name) && r.forced(name) {
		p.Status = StatusForced
	}
	if !r.selected(name) && p.Status != StatusUpToDate {
		p.Status = StatusNotSelected
	}
	return p, nil
}

func hashStrings(ss ...string) string {
	h := sha256.New()
	for _, s := range ss {
		io.WriteString(h, s+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// retriesDue reports whether a scrape output has failures old enough to retry.
func retriesDue(m StageManifest, now time.Time) bool {
	s, _ := m.Summary["next_retry_at"].(string)
	if s == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, s)
	return err == nil && !now.Before(t)
}

// Plan returns what a run of cfg would do, running nothing.
func (r *Runner) Plan(ctx context.Context, cfg *configs.Loaded) ([]Step, error) {
	var steps []Step
	for _, cell := range cfg.Cells() {
		c := cell.Config
		built := r.opts.Build(c)
		outputs := map[string]string{}
		cellState := r.loadState(c.Name)
		for _, name := range stages.Order {
			p, err := r.planStage(ctx, &c, built[name], outputs, cellState)
			if err != nil {
				return nil, err
			}
			p.Cell = cell.Key
			if p.Status == StatusUpToDate {
				m, _ := readStageManifest(p.Output)
				outputs[name] = m.OutputID
			}
			steps = append(steps, p.Step)
		}
	}
	return steps, nil
}

func (r *Runner) loadState(config string) configState {
	var s configState
	_ = readJSON(r.layout.state(config), &s)
	if s.Stages == nil {
		s.Stages = map[string]stageState{}
	}
	return s
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
		fmt.Fprintf(w, "%-22s %-16s %s\n", cell+s.Stage, fp, s.Status)
	}
}

// ensureDirs creates the working folder's skeleton.
func (r *Runner) ensureDirs() error {
	for _, d := range []string{r.layout.root, r.layout.posters(), r.layout.runs(), filepath.Join(r.layout.root, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, s := range stages.Order {
		if err := os.MkdirAll(r.layout.stageDir(s), 0o755); err != nil {
			return err
		}
	}
	return nil
}
