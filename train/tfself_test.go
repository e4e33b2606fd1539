package train

import (
	"path/filepath"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// TestTensorFlowSelfTest checks the foundations the trainer relies on:
// resource variables, op.Gradients, ResourceApplyAdam with in-graph beta
// powers, and a SaveV2/RestoreV2 round trip into a fresh session.
func TestTensorFlowSelfTest(t *testing.T) {
	build := func() (g *tf.Graph, loss tf.Output, train, init, save, restore *tf.Operation, prefix tf.Output, reads []tf.Output) {
		s := op.NewScope()
		// y = x·w + b with w = [2, -3], b = 0.5 on fixed inputs.
		x := op.Const(uniq(s), [][]float32{{1, 0}, {0, 1}, {1, 1}, {2, -1}, {-1, 3}, {0.5, 0.5}})
		y := op.Const(uniq(s), [][]float32{{2.5}, {-2.5}, {-0.5}, {7.5}, {-10.5}, {0}})
		mk := func(name string, shape []int64, dt tf.DataType) tf.Output {
			return op.VarHandleOp(s.SubScope(name), dt, tf.MakeShape(shape...), op.VarHandleOpSharedName(name))
		}
		w, b := mk("w", []int64{2, 1}, tf.Float), mk("b", []int64{1}, tf.Float)
		mw, vw := mk("w/m", []int64{2, 1}, tf.Float), mk("w/v", []int64{2, 1}, tf.Float)
		mb, vb := mk("b/m", []int64{1}, tf.Float), mk("b/v", []int64{1}, tf.Float)
		step := mk("step", nil, tf.Int64)
		rw, rb := op.ReadVariableOp(uniq(s), w, tf.Float), op.ReadVariableOp(uniq(s), b, tf.Float)
		pred := op.Add(uniq(s), op.MatMul(uniq(s), x, rw), rb)
		d := op.Sub(uniq(s), pred, y)
		loss = op.Mean(uniq(s), op.Mul(uniq(s), d, d), op.Const(uniq(s), []int32{0, 1}))
		grads := op.Gradients(uniq(s), []tf.Output{loss}, []tf.Output{rw, rb})
		tt := op.Cast(uniq(s), op.Add(uniq(s), op.ReadVariableOp(uniq(s), step, tf.Int64), op.Const(uniq(s), int64(1))), tf.Float)
		b1p, b2p := op.Pow(uniq(s), op.Const(uniq(s), float32(0.9)), tt), op.Pow(uniq(s), op.Const(uniq(s), float32(0.999)), tt)
		c := func(v float32) tf.Output { return op.Const(uniq(s), v) }
		a1 := op.ResourceApplyAdam(uniq(s), w, mw, vw, b1p, b2p, c(0.1), c(0.9), c(0.999), c(1e-7), grads[0])
		a2 := op.ResourceApplyAdam(uniq(s), b, mb, vb, b1p, b2p, c(0.1), c(0.9), c(0.999), c(1e-7), grads[1])
		train = op.AssignAddVariableOp(s.WithControlDependencies(a1, a2), step, op.Const(uniq(s), int64(1)))
		init = op.NoOp(s.WithControlDependencies(
			op.AssignVariableOp(uniq(s), w, op.Const(uniq(s), [][]float32{{0.1}, {0.1}})),
			op.AssignVariableOp(uniq(s), b, op.Const(uniq(s), []float32{0})),
			op.AssignVariableOp(uniq(s), mw, op.Const(uniq(s), [][]float32{{0}, {0}})),
			op.AssignVariableOp(uniq(s), vw, op.Const(uniq(s), [][]float32{{0}, {0}})),
			op.AssignVariableOp(uniq(s), mb, op.Const(uniq(s), []float32{0})),
			op.AssignVariableOp(uniq(s), vb, op.Const(uniq(s), []float32{0})),
			op.AssignVariableOp(uniq(s), step, op.Const(uniq(s), int64(0)))))
		vars := []*variable{{name: "w", handle: w, dtype: tf.Float}, {name: "b", handle: b, dtype: tf.Float},
			{name: "w/m", handle: mw, dtype: tf.Float}, {name: "step", handle: step, dtype: tf.Int64}}
		prefix = op.Placeholder(uniq(s), tf.String)
		save, restore = saveRestore(s.SubScope("ckpt"), prefix, vars)
		for _, v := range vars {
			reads = append(reads, op.ReadVariableOp(uniq(s), v.handle, v.dtype))
		}
		var err error
		if g, err = s.Finalize(); err != nil {
			t.Fatal(err)
		}
		return
	}
	g, loss, train, init, save, _, prefix, reads := build()
	opts, _, _ := sessionOptions(Config{Deterministic: true})
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{init}); err != nil {
		t.Fatal(err)
	}
	lossAt := func() float32 {
		out, err := sess.Run(nil, []tf.Output{loss}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Value().(float32)
	}
	first := lossAt()
	for range 100 {
		if _, err := sess.Run(nil, nil, []*tf.Operation{train}); err != nil {
			t.Fatal(err)
		}
	}
	last := lossAt()
	t.Logf("loss %.4f -> %.6f after 100 Adam steps", first, last)
	if !(last*10 <= first) {
		t.Errorf("loss fell from %g to %g, want at least 10×", first, last)
	}

	p := filepath.Join(t.TempDir(), "ckpt")
	pt, _ := tf.NewTensor(p)
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{prefix: pt}, nil, []*tf.Operation{save}); err != nil {
		t.Fatal(err)
	}
	want, err := sess.Run(nil, reads, nil)
	if err != nil {
		t.Fatal(err)
	}

	g2, _, _, init2, _, restore2, prefix2, reads2 := build()
	sess2, err := tf.NewSession(g2, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sess2.Close()
	if _, err := sess2.Run(nil, nil, []*tf.Operation{init2}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess2.Run(map[tf.Output]*tf.Tensor{prefix2: pt}, nil, []*tf.Operation{restore2}); err != nil {
		t.Fatal(err)
	}
	got, err := sess2.Run(nil, reads2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if a, b := want[i].Value(), got[i].Value(); !equalValues(a, b) {
			t.Errorf("variable %d: restored %v, saved %v", i, b, a)
		}
	}
	if got[3].Value().(int64) != 100 {
		t.Errorf("step restored as %v, want 100", got[3].Value())
	}
}

func equalValues(a, b any) bool {
	switch a := a.(type) {
	case [][]float32:
		b := b.([][]float32)
		for i := range a {
			for j := range a[i] {
				if a[i][j] != b[i][j] {
					return false
				}
			}
		}
		return len(a) == len(b)
	case []float32:
		b := b.([]float32)
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return len(a) == len(b)
	}
	return a == b
}
