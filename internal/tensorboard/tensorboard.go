// Package tensorboard writes TensorBoard event files through TensorFlow's
// own summary ops (SummaryWriter, CreateSummaryFileWriter,
// WriteScalarSummary, FlushSummaryWriter, CloseSummaryWriter) in a small
// graph and session of its own, so `tensorboard --logdir work/runs` shows
// training curves while a run trains and overlays runs.
package tensorboard

import (
	"fmt"
	"os"
	"sort"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Writer appends scalars to one event file in a folder.
type Writer struct {
	sess    *tf.Session
	step    tf.Output
	tag     tf.Output
	value   tf.Output
	write   *tf.Operation
	flush   *tf.Operation
	close   *tf.Operation
	dirName string
}

// NewWriter creates dir and an event file in it
// (events.out.tfevents.<time>.<host>.<pid>…, named by TensorFlow).
func NewWriter(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	s := op.NewScope()
	res := s.AddOperation(tf.OpSpec{Type: "SummaryWriter", Name: "writer",
		Attrs: map[string]any{"shared_name": "", "container": ""}}).Output(0)
	logdir := op.Const(s.SubScope("logdir"), dir)
	create := s.AddOperation(tf.OpSpec{Type: "CreateSummaryFileWriter", Name: "create",
		Input: []tf.Input{res, logdir, op.Const(s.SubScope("queue"), int32(10)),
			op.Const(s.SubScope("flush_millis"), int32(2000)), op.Const(s.SubScope("suffix"), ".postergenre")}})
	w := &Writer{dirName: dir}
	w.step = op.Placeholder(s.SubScope("step"), tf.Int64)
	w.tag = op.Placeholder(s.SubScope("tag"), tf.String)
	w.value = op.Placeholder(s.SubScope("value"), tf.Float)
	w.write = op.WriteScalarSummary(s.SubScope("write"), res, w.step, w.tag, w.value)
	w.flush = s.AddOperation(tf.OpSpec{Type: "FlushSummaryWriter", Name: "flush", Input: []tf.Input{res}})
	w.close = s.AddOperation(tf.OpSpec{Type: "CloseSummaryWriter", Name: "close", Input: []tf.Input{res}})
	g, err := s.Finalize()
	if err != nil {
		return nil, fmt.Errorf("tensorboard: graph: %w", err)
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: session: %w", err)
	}
	w.sess = sess
	if _, err := sess.Run(nil, nil, []*tf.Operation{create}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("tensorboard: create writer in %s: %w", dir, err)
	}
	return w, nil
}

// Scalars writes one value per tag at step (tags sorted, e.g. "loss/train",
// "accuracy/val") and flushes, so a running TensorBoard sees the epoch.
func (w *Writer) Scalars(step int64, values map[string]float64) error {
	tags := make([]string, 0, len(values))
	for k := range values {
		tags = append(tags, k)
	}
	sort.Strings(tags)
	st, err := tf.NewTensor(step)
	if err != nil {
		return err
	}
	for _, tag := range tags {
		tt, err := tf.NewTensor(tag)
		if err != nil {
			return err
		}
		vt, err := tf.NewTensor(float32(values[tag]))
		if err != nil {
			return err
		}
		if _, err := w.sess.Run(map[tf.Output]*tf.Tensor{w.step: st, w.tag: tt, w.value: vt}, nil, []*tf.Operation{w.write}); err != nil {
			return fmt.Errorf("tensorboard: %s step %d: %w", tag, step, err)
		}
	}
	if _, err := w.sess.Run(nil, nil, []*tf.Operation{w.flush}); err != nil {
		return fmt.Errorf("tensorboard: flush %s: %w", w.dirName, err)
	}
	return nil
}

// Close flushes and closes the event file and the session.
func (w *Writer) Close() error {
	_, err := w.sess.Run(nil, nil, []*tf.Operation{w.close})
	if cerr := w.sess.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tensorboard: close %s: %w", w.dirName, err)
	}
	return nil
}
