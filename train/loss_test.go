package train

import (
	"fmt"
	"math"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
)

// refLoss is the losses computed directly in float64.
func refLoss(kind string, x, z [][]float64, cw []float64) float64 {
	var total float64
	for i := range x {
		switch kind {
		case "sigmoid_bce":
			for j := range x[i] {
				el := math.Log1p(math.Exp(x[i][j])) - x[i][j]*z[i][j]
				total += el * (1 + z[i][j]*(cw[j]-1))
			}
		default:
			m := math.Inf(-1)
			for _, v := range x[i] {
				m = math.Max(m, v)
			}
			var se float64
			for _, v := range x[i] {
				se += math.Exp(v - m)
			}
			lse := m + math.Log(se)
			var ce, ws, ys float64
			for j := range x[i] {
				ce -= z[i][j] * (x[i][j] - lse)
				ws += z[i][j] * cw[j]
				ys += z[i][j]
			}
			total += ce * ws / math.Max(ys, 1e-12)
		}
	}
	if kind == "sigmoid_bce" {
		return total / float64(len(x)*len(x[0]))
	}
	return total / float64(len(x))
}

// TestLossGradients compares the composed losses and their TensorFlow
// gradients with a float64 reference and central finite differences (the
// float32 cases against finite differences of the float64 reference). The
// labels are multi-hot: TensorFlow's SoftmaxCrossEntropyWithLogits gradient
// (softmax - labels) would fail here, which is why the loss does not use it.
func TestLossGradients(t *testing.T) {
	x := [][]float64{{0.3, -1.2, 2.0, 0.1}, {-0.5, 0.7, 0.2, -2.2}, {1.5, 1.4, -0.3, 0.0}}
	z := [][]float64{{1, 0, 1, 0}, {0, 0, 0, 1}, {0, 1, 1, 1}}
	ones := []float64{1, 1, 1, 1}
	weights := []float64{0.5, 2, 1.3, 3}
	for _, tc := range []struct {
		kind string
		cw   []float64
		dt   tf.DataType
	}{
		{"softmax_ce", ones, tf.Double}, {"softmax_ce", weights, tf.Double},
		{"softmax_ce", weights, tf.Float},
		{"sigmoid_bce", ones, tf.Double}, {"sigmoid_bce", weights, tf.Double},
		{"sigmoid_bce", weights, tf.Float},
	} {
		t.Run(fmt.Sprintf("%s/cw=%v/%s", tc.kind, tc.cw, map[tf.DataType]string{tf.Float: "float32", tf.Double: "float64"}[tc.dt]), func(t *testing.T) {
			s := op.NewScope()
			xp := op.Placeholder(uniq(s), tc.dt)
			cwp := op.Placeholder(uniq(s), tf.Double)
			zc := op.Cast(uniq(s), op.Const(uniq(s), z), tc.dt)
			loss := lossFn(s, xp, zc, cwp, tc.kind)
			grad := op.Gradients(s, []tf.Output{loss}, []tf.Output{xp})
			sess := tfsessiontest.Open(t, s, nil)
			cwT, _ := tf.NewTensor(tc.cw)
			run := func(x [][]float64) (float64, [][]float64) {
				var xt *tf.Tensor
				if tc.dt == tf.Float {
					xt, _ = tf.NewTensor(to32(x))
				} else {
					xt, _ = tf.NewTensor(x)
				}
				out, err := sess.Run(map[tf.Output]*tf.Tensor{xp: xt, cwp: cwT}, []tf.Output{loss, grad[0]}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.dt == tf.Float {
					return float64(out[0].Value().(float32)), to64(out[1].Value().([][]float32))
				}
				return out[0].Value().(float64), out[1].Value().([][]float64)
			}
			lossTol, gradTol, fdLoss := 1e-12, 1e-7, func(x [][]float64) float64 { l, _ := run(x); return l }
			if tc.dt == tf.Float {
				lossTol, gradTol = 1e-6, 1e-6
				fdLoss = func(x [][]float64) float64 { return refLoss(tc.kind, x, z, tc.cw) }
			}
			l, dx := run(x)
			if want := refLoss(tc.kind, x, z, tc.cw); math.Abs(l-want) > lossTol {
				t.Errorf("loss %.15g, reference %.15g", l, want)
			}
			const h = 1e-6
			for i := range x {
				for j := range x[i] {
					xp, xm := clone(x), clone(x)
					xp[i][j] += h
					xm[i][j] -= h
					fd := (fdLoss(xp) - fdLoss(xm)) / (2 * h)
					if math.Abs(fd-dx[i][j]) > gradTol {
						t.Errorf("d loss/d x[%d][%d]: tensorflow %.10g, finite difference %.10g", i, j, dx[i][j], fd)
					}
				}
			}
		})
	}
}

func to32(x [][]float64) [][]float32 {
	out := make([][]float32, len(x))
	for i := range x {
		for _, v := range x[i] {
			out[i] = append(out[i], float32(v))
		}
	}
	return out
}

func to64(x [][]float32) [][]float64 {
	out := make([][]float64, len(x))
	for i := range x {
		for _, v := range x[i] {
			out[i] = append(out[i], float64(v))
		}
	}
	return out
}

func clone(x [][]float64) [][]float64 {
	out := make([][]float64, len(x))
	for i := range x {
		out[i] = append([]float64(nil), x[i]...)
	}
	return out
}

// TestValidationMetrics checks the flat-to-rows adapter in front of
// internal/metrics: values worked by hand, and NaN for an empty split.
func TestValidationMetrics(t *testing.T) {
	for _, tc := range []struct {
		name                string
		pred, label         []float32
		acc, top3, auc, thr float64 // NaN = must be NaN
	}{
		{
			// Row 0: argmax 1 == first true genre 1; row 1: argmax 0, first true 2.
			// Top-3 of row 1 is 0, 1, 2 (ties to the lower index): a hit.
			// AUC: genre 1 ranks its positive first (1), genre 3 ties (0.5);
			// genres 0 and 2 lack a class and are left out.
			name:  "two rows",
			pred:  []float32{0.1, 0.6, 0.2, 0.1, 0.5, 0.2, 0.2, 0.1},
			label: []float32{0, 1, 1, 0, 0, 0, 1, 1},
			acc:   0.5, top3: 1, auc: 0.75, thr: 0.05, // every grid value up to 0.15 gives F1 2/3: the lowest wins
		},
		{name: "empty", acc: math.NaN(), top3: math.NaN(), auc: math.NaN(), thr: 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := validationMetrics(tc.pred, tc.label, 4)
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"paper accuracy", got.PaperAcc, tc.acc}, {"top-3", got.TopKHit, tc.top3}, {"macro AUC", got.MacroAUC, tc.auc}, {"threshold", got.Threshold, tc.thr}} {
				if math.IsNaN(c.want) != math.IsNaN(c.got) || (!math.IsNaN(c.want) && math.Abs(c.got-c.want) > 1e-12) {
					t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
				}
			}
		})
	}
	if got := paperHits([]float32{0.1, 0.6, 0.2, 0.1, 0.5, 0.2, 0.2, 0.1}, []float32{0, 1, 1, 0, 0, 0, 1, 1}, 4); got != 1 {
		t.Errorf("paperHits = %g, want 1", got)
	}
}
