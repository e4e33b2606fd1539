package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/tfsession"
)

// probeResult is one matmul probe: the FLOP rate of an n×n×n MatMul.
type probeResult struct {
	Mode     string  `json:"mode"` // float32 | bfloat16-cast | bfloat16-rewrite
	N        int     `json:"n"`
	Runs     int     `json:"runs"`
	FLOPs    float64 `json:"flop_per_second"` // best run
	MeanFLOP float64 `json:"mean_flop_per_second"`
}

// probe measures an n×n by n×n MatMul through TensorFlow. mode "float32"
// multiplies float32 operands; "bfloat16-cast" casts the operands to
// bfloat16 in the graph first; "bfloat16-rewrite" builds the float32 graph
// and lets the session's bfloat16 rewrite convert it. The operands are fed
// (placeholders) so that constant folding cannot precompute the product;
// the fetch is a float32 sum so the result copy is negligible.
func probe(mode string, n, runs, threads int) (probeResult, error) {
	s := op.NewScope()
	a := op.Placeholder(s.SubScope("a"), tf.Float, op.PlaceholderShape(tf.MakeShape(int64(n), int64(n))))
	b := op.Placeholder(s.SubScope("b"), tf.Float, op.PlaceholderShape(tf.MakeShape(int64(n), int64(n))))
	prec := tfsession.Float32
	x, y := a, b
	switch mode {
	case "float32":
	case "bfloat16-cast":
		x, y = op.Cast(s.SubScope("ca"), a, tf.Bfloat16), op.Cast(s.SubScope("cb"), b, tf.Bfloat16)
	case "bfloat16-rewrite":
		prec = tfsession.BFloat16
	default:
		return probeResult{}, fmt.Errorf("probe mode %q", mode)
	}
	m := op.MatMul(s, x, y)
	if m.DataType() != tf.Float {
		m = op.Cast(s.SubScope("back"), m, tf.Float)
	}
	sum := op.Sum(s, m, op.Const(s.SubScope("axes"), []int32{0, 1}))
	g, err := s.Finalize()
	if err != nil {
		return probeResult{}, err
	}
	opts, err := tfsession.Settings{IntraOp: threads, InterOp: 1, CPUOnly: true, Precision: prec}.Options()
	if err != nil {
		return probeResult{}, err
	}
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		return probeResult{}, err
	}
	defer sess.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func() (*tf.Tensor, error) {
		v := make([]float32, n*n)
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
		t, err := tf.NewTensor(v)
		if err != nil {
			return nil, err
		}
		return t, t.Reshape([]int64{int64(n), int64(n)})
	}
	ta, err := mk()
	if err != nil {
		return probeResult{}, err
	}
	tb, err := mk()
	if err != nil {
		return probeResult{}, err
	}
	feeds := map[tf.Output]*tf.Tensor{a: ta, b: tb}
	if _, err := sess.Run(feeds, []tf.Output{sum}, nil); err != nil { // warm-up: grappler, oneDNN primitive cache
		return probeResult{}, err
	}
	flop := 2 * float64(n) * float64(n) * float64(n)
	r := probeResult{Mode: mode, N: n, Runs: runs}
	var total time.Duration
	for range runs {
		t0 := time.Now()
		if _, err := sess.Run(feeds, []tf.Output{sum}, nil); err != nil {
			return probeResult{}, err
		}
		d := time.Since(t0)
		total += d
		r.FLOPs = max(r.FLOPs, flop/d.Seconds())
	}
	r.MeanFLOP = flop * float64(runs) / total.Seconds()
	return r, nil
}
