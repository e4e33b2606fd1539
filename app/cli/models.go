package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// namedModel is the model folder --model named, and the tag it was named
// by ("" otherwise).
type namedModel struct {
	dir, alias string
}

// resolveModel turns --model into a model folder: an existing folder is
// used as it is; otherwise the value names a run, a grid cell (RUN/CELL)
// or a tag of the working folder, like an MLflow alias, whose model is
// used.
func resolveModel(workdir, ref string) (namedModel, error) {
	if fi, err := os.Stat(ref); err == nil && fi.IsDir() {
		return namedModel{dir: ref}, nil
	}
	r, err := pipeline.ResolveRunRef(workdir, ref)
	if err != nil {
		return namedModel{}, fmt.Errorf("--model %s: not a model folder, nor a run or tag of %s: %w", ref, workdir, err)
	}
	m := namedModel{dir: filepath.Join(r.CellDir(), "model")}
	if _, err := os.Stat(m.dir); err != nil {
		out, err := r.StageDir(workdir, stages.Train)
		if err != nil {
			return namedModel{}, fmt.Errorf("--model %s: %w", ref, err)
		}
		m.dir = filepath.Join(out, "model")
	}
	if tags, err := pipeline.ReadTags(workdir); err == nil {
		if _, ok := tags[ref]; ok {
			m.alias = ref
		}
	}
	return m, nil
}
