package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/stages"
)

// stepPlan is the plan for one stage given what exists on disk.
type stepPlan struct {
	Step
	stage      stages.Stage
	configHash string
	params     map[string]string // the section's values, dotted (for state)
	inputs     map[string]string // upstream → OutputID, nil when an input is yet to be produced
	prevOutput string            // the existing output for this fingerprint
	dir        string            // the output folder (Step.Output is it relative to the working folder)
}

// setOutput sets the output folder, and Step.Output as it is recorded:
// relative to the working folder, so a copied or moved folder's records
// point into itself.
func (p *stepPlan) setOutput(l layout, dir string) {
	p.dir, p.Output = dir, l.rel(dir)
}

// planStage decides what to do with one stage. outputs maps the upstream
// stages already settled in this plan to their OutputIDs ("" = will change).
func (r *Runner) planStage(ctx context.Context, cfg *configs.Config, st stages.Stage, outputs map[string]string, state configState) (stepPlan, error) {
	name := st.Name()
	p := stepPlan{Step: Step{Stage: name}, stage: st}
	var err error
	if p.configHash, err = configHash(ctx, cfg, st); err != nil {
		return p, err
	}
	p.params = sectionParams(cfg, name)
	p.inputs = settledInputs(name, outputs)
	if p.inputs == nil {
		p.Status = StatusInputChanged
		if !r.selected(name) {
			p.Status = StatusNotSelected
		}
		return p, nil
	}
	p.Fingerprint = fingerprint(name, st.Version(), p.configHash, p.inputs)
	if p.Status, err = r.outputStatus(&p, state); err != nil {
		return p, err
	}
	if r.selected(name) && r.forced(name) {
		p.Status = StatusForced
	}
	if !r.selected(name) && p.Status != StatusUpToDate {
		p.Status = StatusNotSelected
	}
	return p, nil
}

// configHash is what of the config a stage's output depends on: its
// section, and the identity of an input from outside the pipeline.
func configHash(ctx context.Context, cfg *configs.Config, st stages.Stage) (string, error) {
	h := cfg.SectionHash(st.Name())
	if in, ok := st.(stages.InputIdentifier); ok {
		id, err := in.InputIdentity(ctx)
		if err != nil {
			return "", err
		}
		h = hashStrings(h, id)
	}
	return h, nil
}

// settledInputs returns the OutputIDs of a stage's inputs, or nil when one
// of them is yet to be produced.
func settledInputs(name string, outputs map[string]string) map[string]string {
	inputs := map[string]string{}
	for _, in := range stages.Inputs[name] {
		id, ok := outputs[in]
		if !ok || id == "" {
			return nil
		}
		inputs[in] = id
	}
	return inputs
}

// outputStatus compares the output for p's fingerprint with what the
// config last ran with; it sets p's output when that output exists.
func (r *Runner) outputStatus(p *stepPlan, state configState) (string, error) {
	out := r.layout.output(p.Stage, p.Fingerprint)
	if m, err := readStageManifest(out); err == nil {
		p.prevOutput = out
		p.setOutput(r.layout, out)
		// A damaged output is rebuilt, never trusted; its folder is
		// replaced when the rebuild commits.
		if err := checkOutput(out, m, r.opts.Verify); err != nil {
			p.Reason = r.layout.rel(err.Error())
			return StatusDamaged, nil
		}
		if d, ok := p.stage.(stages.RetryDuer); ok {
			due, err := d.RetriesDue(out, r.now())
			if err != nil {
				return "", err
			}
			if due {
				return StatusRetriesDue, nil
			}
		}
		return StatusUpToDate, nil
	}
	prev, hadPrev := state.Stages[p.Stage]
	switch {
	case !hadPrev:
		return StatusNeverRun, nil
	case prev.ConfigHash != p.configHash:
		if prev.Params != nil { // recorded since this field exists
			for _, c := range diffFlat(prev.Params, p.params) {
				p.Changed = append(p.Changed, c.Key+": "+orNone(c.A)+" → "+orNone(c.B))
			}
		}
		return StatusParamsChanged, nil
	}
	return StatusInputChanged, nil
}

// sectionParams flattens what a stage's fingerprint hashes of the config
// (its section, or the section's identity) to dotted keys.
func sectionParams(cfg *configs.Config, stage string) map[string]string {
	sec := cfg.Section(stage)
	if id, ok := sec.(stages.ConfigIdentifier); ok {
		sec = id.Identity()
	}
	// YAML, as the config file spells the keys.
	b, err := yaml.Marshal(sec)
	if err != nil {
		return nil
	}
	var v any
	if yaml.Unmarshal(b, &v) != nil {
		return nil
	}
	out := map[string]string{}
	flatten(stage, v, out)
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
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

func hashStrings(ss ...string) string {
	h := sha256.New()
	for _, s := range ss {
		io.WriteString(h, s+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

func newID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
