package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/stages"
)

// A working folder looks like this:
//
//	<workdir>/.lock                       one run at a time (flock), holder's pid and start
//	<workdir>/posters/                    the poster store, shared by every config
//	<workdir>/stages/<stage>/<fp>/        a completed stage output; _stage.json inside, written last
//	<workdir>/stages/<stage>/.staging-*   in progress or left by a crash: never read, removed by the next run
//	<workdir>/state/<config>.json         the fingerprints each config last ran with (for "params changed")
//	<workdir>/runs/<run-id>/              resolved config, run.json, log.jsonl, report/, model -> …
//	<workdir>/runs/latest                 symlink to the newest run
type layout struct{ root string }

func (l layout) posters() string              { return filepath.Join(l.root, "posters") }
func (l layout) stageDir(stage string) string { return filepath.Join(l.root, "stages", stage) }
func (l layout) output(stage, fp string) string {
	return filepath.Join(l.stageDir(stage), fp)
}
func (l layout) staging(stage, fp string) string {
	return filepath.Join(l.stageDir(stage), ".staging-"+fp)
}
func (l layout) interrupted(stage, fp string) string {
	return filepath.Join(l.stageDir(stage), ".interrupted-"+fp)
}
func (l layout) runs() string               { return filepath.Join(l.root, "runs") }
func (l layout) run(id string) string       { return filepath.Join(l.runs(), id) }
func (l layout) state(config string) string { return filepath.Join(l.root, "state", config+".json") }
func (l layout) lock() string               { return filepath.Join(l.root, ".lock") }

// StageManifestFile marks a stage output as complete; it is written last.
const StageManifestFile = "_stage.json"

// StageManifest is what the pipeline records about one completed stage output.
type StageManifest struct {
	Stage       string `json:"stage"`
	Version     string `json:"version"`
	Fingerprint string `json:"fingerprint"`
	// OutputID is unique per production of this output: downstream
	// fingerprints include it, so a forced rerun of a stage invalidates
	// everything after it even when its own fingerprint is unchanged.
	OutputID   string            `json:"output_id"`
	ConfigHash string            `json:"config_hash"`
	Inputs     map[string]string `json:"inputs"` // upstream stage → its OutputID
	Config     any               `json:"config"`
	Started    time.Time         `json:"started"`
	Finished   time.Time         `json:"finished"`
	Seconds    float64           `json:"seconds"`
	Run        string            `json:"run"`
	Summary    map[string]any    `json:"summary"`
	Headline   []stages.Metric   `json:"headline,omitempty"`
}

// ReadStageManifest reads the manifest of the completed stage output in dir
// (for readers outside the pipeline, e.g. serve's model card).
func ReadStageManifest(dir string) (StageManifest, error) { return readStageManifest(dir) }

func readStageManifest(dir string) (StageManifest, error) {
	var m StageManifest
	b, err := regular.ReadFile(filepath.Join(dir, StageManifestFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(dir, StageManifestFile), err)
	}
	return m, nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteJSON(path, v)
}

func readJSON(path string, v any) error {
	b, err := regular.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// configState is state/<config>.json: what each stage of a config last ran with.
type configState struct {
	Stages map[string]stageState `json:"stages"`
}

type stageState struct {
	Fingerprint string `json:"fingerprint"`
	ConfigHash  string `json:"config_hash"`
	OutputID    string `json:"output_id"`
	// Params are the section's values (dotted keys) the output was made
	// with, so that "params changed" can name what changed.
	Params map[string]string `json:"params,omitempty"`
}
