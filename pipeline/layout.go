package pipeline

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/stages"
)

// A working folder looks like this:
//
//	<workdir>/locks/run-<config>.lock     one run of a config (grid cell) at a time: host, pid, start, lease
//	<workdir>/locks/build-<stage>-<fp>.lock  one builder of a stage output at a time (others wait and reuse it)
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

// rel is path relative to the working folder, with forward slashes, as
// records hold it: no record names an absolute path, so a working folder
// copied, moved or mounted elsewhere reads its own files.
func (l layout) rel(path string) string {
	r, err := filepath.Rel(l.root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}

// abs resolves a path read from a record against the working folder.
func (l layout) abs(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(l.root, filepath.FromSlash(rel))
}

func (l layout) locks() string { return filepath.Join(l.root, "locks") }

// runLock excludes a second run of the same config (grid cell).
func (l layout) runLock(config string) string {
	return filepath.Join(l.locks(), "run-"+config+".lock")
}

// buildLock is held while a stage output is built.
func (l layout) buildLock(stage, fp string) string {
	return filepath.Join(l.locks(), "build-"+stage+"-"+fp+".lock")
}

// namedLock is a lock for one job shared by every config (the demo's data).
func (l layout) namedLock(name string) string { return filepath.Join(l.locks(), name+".lock") }

// StageManifestFile marks a stage output as complete; it is written last.
const StageManifestFile = "_stage.json"

// StageManifest is what the pipeline records about one completed stage output.
type StageManifest struct {
	Stage       string `json:"stage"`
	Version     string `json:"version"`
	Fingerprint string `json:"fingerprint"`
	// OutputID identifies this output's content: downstream fingerprints
	// include it, so a rerun that changed the content reruns what follows
	// and one that wrote the same bytes does not. It digests Files (less
	// the volatile ones), or is the stage's stages.OutputIdentifier.
	// Outputs committed before content ids kept a random one.
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
	// Files is every file of the output but this manifest, as committed:
	// checked (size, mtime; sha256 with --verify) before the output is
	// reused.
	Files []OutputFile `json:"files,omitempty"`
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

// Layout is the working folder's layout for readers outside the pipeline
// (serve's model card, diff, history): one home for where every record
// is, instead of paths built by hand.
type Layout struct {
	// Root is the working folder.
	Root string
}

func (l Layout) in() layout { return layout{root: l.Root} }

// Posters is the poster store.
func (l Layout) Posters() string { return l.in().posters() }

// StageDir holds a stage's outputs (stages/<stage>).
func (l Layout) StageDir(stage string) string { return l.in().stageDir(stage) }

// Output is a stage's output for a fingerprint.
func (l Layout) Output(stage, fp string) string { return l.in().output(stage, fp) }

// Outputs lists a stage's completed outputs (folders with _stage.json);
// staging and set-aside folders are not outputs.
func (l Layout) Outputs(stage string) ([]string, error) {
	entries, err := os.ReadDir(l.StageDir(stage))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.Contains(e.Name(), ".old-") {
			continue
		}
		dir := filepath.Join(l.StageDir(stage), e.Name())
		if _, err := os.Stat(filepath.Join(dir, StageManifestFile)); err == nil {
			out = append(out, dir)
		}
	}
	return out, nil
}

// Runs holds the run folders.
func (l Layout) Runs() string { return l.in().runs() }

// Run is a run's folder.
func (l Layout) Run(id string) string { return l.in().run(id) }

// State is a config's state file.
func (l Layout) State(config string) string { return l.in().state(config) }

// Resolve turns a path read from a record (relative to the working
// folder) into one to open.
func (l Layout) Resolve(rel string) string { return l.in().abs(rel) }

// WorkdirOf finds the working folder a path inside it belongs to (a stage
// output, a run folder or anything under them): the nearest ancestor
// holding both stages/ and runs/. ok is false outside any working folder.
func WorkdirOf(path string) (workdir string, ok bool) {
	dir, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		if b := filepath.Base(dir); b == "stages" || b == "runs" {
			s, serr := os.Stat(filepath.Join(parent, "stages"))
			r, rerr := os.Stat(filepath.Join(parent, "runs"))
			if serr == nil && rerr == nil && s.IsDir() && r.IsDir() {
				return parent, true
			}
		}
		dir = parent
	}
}

// ReadRun reads run id's record (runs/<id>/run.json) in a working folder.
// A run folder without one is an interrupted run (Status
// HistoryInterrupted); a damaged one is an error naming the file.
func ReadRun(workdir, id string) (RunRecord, error) {
	if id == "" || !validRunID(id) {
		return RunRecord{}, fmt.Errorf("run %q: %w", id, fs.ErrNotExist)
	}
	dir := layout{root: workdir}.run(id)
	if _, err := os.Stat(dir); err != nil {
		return RunRecord{}, fmt.Errorf("run %s: %w", id, err)
	}
	return readRun(dir)
}

// ReadRunDir reads the record of the run folder dir (as ResolveRun
// returns it), like ReadRun.
func ReadRunDir(dir string) (RunRecord, error) { return readRun(dir) }
