package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/metrics"
)

// LatestFile in CheckpointDir names the last complete checkpoint; it is
// written after the checkpoint files, so its presence means they are whole.
const LatestFile = "latest.json"

// ckptState is latest.json: where training stands after a completed epoch.
type ckptState struct {
	Epoch     int         `json:"epoch"`  // last completed epoch
	Prefix    string      `json:"prefix"` // checkpoint prefix inside CheckpointDir
	Step      int64       `json:"step"`
	BestEpoch int         `json:"best_epoch"`
	BestValue metrics.Num `json:"best_value"` // NaN (no defined value yet) is stored as null
	BadEpochs int         `json:"bad_epochs"` // epochs since the best, for early stopping
	Mean      [3]float32  `json:"mean"`
	Std       [3]float32  `json:"std"`
}

// readLatest reads dir/latest.json.
func readLatest(dir string) (ckptState, error) {
	var st ckptState
	return st, readJSON(filepath.Join(dir, LatestFile), &st)
}

// checkpoint saves every variable (Adam slots and step included) under a new
// prefix, then latest.json, then removes the older checkpoint.
func (t *trainer) checkpoint() error {
	dir := filepath.Join(t.env.OutDir, CheckpointDir)
	old := ""
	if st, err := readLatest(dir); err == nil {
		old = st.Prefix
	}
	t.state.Prefix = fmt.Sprintf("epoch-%04d", t.state.Epoch)
	if err := t.runWithPrefix(t.net.saveAll, filepath.Join(dir, t.state.Prefix)); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	raw, err := json.MarshalIndent(t.state, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, LatestFile), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if old != "" && old != t.state.Prefix {
		removePrefix(dir, old)
	}
	return nil
}

// saveBest writes the current weights to ModelDir with model.json (written
// last), then removes the previous best. threshold is the epoch's tuned
// validation threshold.
func (t *trainer) saveBest(epoch int, threshold float64) error {
	dir := filepath.Join(t.env.OutDir, ModelDir)
	prefix := fmt.Sprintf("ckpt-epoch-%04d", epoch)
	if err := t.runWithPrefix(t.net.saveModel, filepath.Join(dir, prefix)); err != nil {
		return fmt.Errorf("train: save model: %w", err)
	}
	old := t.meta.CheckpointPrefix
	if old == "" {
		if prev, err := readMeta(dir); err == nil {
			old = prev.CheckpointPrefix
		}
	}
	m := t.meta
	m.BestEpoch = epoch
	m.CheckpointPrefix = prefix
	m.Threshold = threshold
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, MetaFile), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	t.meta = m
	if old != "" && old != prefix {
		removePrefix(dir, old)
	}
	return nil
}

// runWithPrefix runs a save or restore target with the checkpoint prefix fed.
func (t *trainer) runWithPrefix(target *tf.Operation, prefix string) error {
	p, err := tf.NewTensor(prefix)
	if err != nil {
		return err
	}
	_, err = t.sess.Run(map[tf.Output]*tf.Tensor{t.net.prefix: p}, nil, []*tf.Operation{target})
	return err
}

// removePrefix deletes a checkpoint's files (prefix.index, prefix.data-*).
func removePrefix(dir, prefix string) {
	files, _ := filepath.Glob(filepath.Join(dir, prefix+".*"))
	for _, f := range files {
		os.Remove(f)
	}
}
