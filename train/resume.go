package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
)

// tryResume restores the previous attempt's last checkpoint when asked to,
// bringing its best model and history along. It reports false (start over)
// when there is nothing to resume from.
func (t *trainer) tryResume() (bool, error) {
	if !t.env.Resume {
		return false, nil
	}
	if t.env.Prev == "" {
		t.log.Warn("resume requested but there is no previous output; starting over")
		return false, nil
	}
	prevCk := filepath.Join(t.env.Prev, CheckpointDir)
	st, err := readLatest(prevCk)
	if errors.Is(err, os.ErrNotExist) {
		t.log.Warn("resume requested but the previous output has no checkpoint; starting over", "prev", t.env.Prev)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("train: resume: %w", err)
	}
	if err := regular.CheckTree(prevCk); err != nil { // TensorFlow reads it, beyond any context
		return false, fmt.Errorf("train: resume: %w", err)
	}
	if err := t.runWithPrefix(t.net.restoreAll, filepath.Join(prevCk, st.Prefix)); err != nil {
		return false, fmt.Errorf("train: resume: restore %s: %w", st.Prefix, err)
	}
	t.state = st
	if err := t.adoptPrevious(st.Epoch); err != nil {
		return false, fmt.Errorf("train: resume: %w", err)
	}
	// Our own output must be resumable too, even if no epoch completes.
	if err := t.checkpoint(); err != nil {
		return false, err
	}
	if err := t.writeHistory(); err != nil {
		return false, err
	}
	t.log.Info("resumed", "from", prevCk, "epoch", st.Epoch, "step", st.Step, "best_epoch", st.BestEpoch)
	return true, nil
}

// adoptPrevious copies the previous attempt's model folder and its history
// up to epoch into this output.
func (t *trainer) adoptPrevious(epoch int) error {
	if err := copyDir(filepath.Join(t.env.Prev, ModelDir), filepath.Join(t.env.OutDir, ModelDir)); err != nil {
		return err
	}
	hist, err := ReadHistory(t.env.Prev)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, h := range hist {
		if h.Epoch <= epoch {
			t.history = append(t.history, h)
		}
	}
	return nil
}

// copyDir copies the regular files of src into dst (missing src is fine).
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := atomicfile.CopyFile(filepath.Join(dst, e.Name()), filepath.Join(src, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
