package efficientnet_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
)

// TestOpGradients checks, in float64 where finite differences are exact to
// ~1e-9, the registered C++ gradient of every op type the fine-tuned network
// uses, in the configurations it uses them (odd sizes, 'SAME', strides 1
// and 2): d loss/d input and d loss/d filter along random directions, with
// loss = Σ op(x, w)·r.
func TestOpGradients(t *testing.T) {
	const n, h, w, c = 2, 9, 7, 3
	type build func(s *op.Scope, x, k tf.Output) tf.Output
	for _, tc := range []struct {
		name   string
		kshape []int64 // nil: no filter
		f      build
	}{
		{"DepthwiseConv2dNative/k5/s2", []int64{5, 5, c, 1}, func(s *op.Scope, x, k tf.Output) tf.Output {
			return op.DepthwiseConv2dNative(s, x, k, []int64{1, 2, 2, 1}, "SAME")
		}},
		{"DepthwiseConv2dNative/k3/s1", []int64{3, 3, c, 1}, func(s *op.Scope, x, k tf.Output) tf.Output {
			return op.DepthwiseConv2dNative(s, x, k, []int64{1, 1, 1, 1}, "SAME")
		}},
		{"Conv2D/k3/s2", []int64{3, 3, c, 4}, func(s *op.Scope, x, k tf.Output) tf.Output {
			return op.Conv2D(s, x, k, []int64{1, 2, 2, 1}, "SAME")
		}},
		{"Conv2D/k1/s1", []int64{1, 1, c, 5}, func(s *op.Scope, x, k tf.Output) tf.Output {
			return op.Conv2D(s, x, k, []int64{1, 1, 1, 1}, "SAME")
		}},
		{"Relu6", nil, func(s *op.Scope, x, _ tf.Output) tf.Output {
			return op.Relu6(s, op.Mul(s, x, op.Const(s.SubScope("k"), 4.0)))
		}},
		{"Mean/spatial", nil, func(s *op.Scope, x, _ tf.Output) tf.Output {
			return op.Mean(s, x, op.Const(s.SubScope("axes"), []int32{1, 2}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			s := op.NewScope()
			xp := op.Placeholder(s.SubScope("x"), tf.Double, op.PlaceholderShape(tf.MakeShape(n, h, w, c)))
			var kp tf.Output
			wrt := []tf.Output{xp}
			if tc.kshape != nil {
				kp = op.Placeholder(s.SubScope("k"), tf.Double, op.PlaceholderShape(tf.MakeShape(tc.kshape...)))
				wrt = append(wrt, kp)
			}
			y := tc.f(s.SubScope("op"), xp, kp)
			rp := op.Placeholder(s.SubScope("r"), tf.Double)
			loss := op.Sum(s, op.Mul(s, y, rp), op.Range(s, op.Const(s.SubScope("0"), int32(0)), op.Rank(s, y), op.Const(s.SubScope("1"), int32(1))))
			grads := op.Gradients(s.SubScope("gradients"), []tf.Output{loss}, wrt)
			ys := op.Shape(s, y)
			sess := tfsessiontest.Open(t, s, nil)
			randT := func(shape ...int64) ([]float64, *tf.Tensor) {
				size := int64(1)
				for _, d := range shape {
					size *= d
				}
				v := make([]float64, size)
				for i := range v {
					v[i] = rng.NormFloat64()
				}
				t2, _ := tf.NewTensor(v)
				if err := t2.Reshape(shape); err != nil {
					t.Fatal(err)
				}
				return v, t2
			}
			x, xt := randT(n, h, w, c)
			feeds := map[tf.Output]*tf.Tensor{xp: xt}
			vals := [][]float64{x}
			shapes := [][]int64{{n, h, w, c}}
			if tc.kshape != nil {
				k, kt := randT(tc.kshape...)
				feeds[kp] = kt
				vals = append(vals, k)
				shapes = append(shapes, tc.kshape)
			}
			out, err := sess.Run(feeds, []tf.Output{ys}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, rt := randT(toI64(out[0].Value().([]int32))...)
			feeds[rp] = rt
			gout, err := sess.Run(feeds, grads, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range wrt {
				grad := flat64(gout[i])
				dir := make([]float64, len(vals[i]))
				var analytic float64
				for j := range dir {
					dir[j] = rng.NormFloat64()
					analytic += grad[j] * dir[j]
				}
				const eps = 1e-6
				at := func(sign float64) float64 {
					p := make([]float64, len(dir))
					for j := range p {
						p[j] = vals[i][j] + sign*eps*dir[j]
					}
					pt, _ := tf.NewTensor(p)
					if err := pt.Reshape(shapes[i]); err != nil {
						t.Fatal(err)
					}
					f := map[tf.Output]*tf.Tensor{}
					for k, v := range feeds {
						f[k] = v
					}
					f[wrt[i]] = pt
					o, err := sess.Run(f, []tf.Output{loss}, nil)
					if err != nil {
						t.Fatal(err)
					}
					return o[0].Value().(float64)
				}
				fd := (at(1) - at(-1)) / (2 * eps)
				what := []string{"input", "filter"}[i]
				if math.Abs(fd-analytic) > 1e-6*max(1, math.Abs(analytic)) {
					t.Errorf("d/d %s: gradient·d %.10g, finite difference %.10g", what, analytic, fd)
				} else {
					t.Log(fmt.Sprintf("d/d %s: gradient·d %.10g, finite difference %.10g", what, analytic, fd))
				}
			}
		})
	}
}

func toI64(v []int32) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func flat64(t *tf.Tensor) []float64 {
	var out []float64
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []float64:
			out = append(out, x...)
		default:
			rv := reflectValue(v)
			for i := range rv.Len() {
				walk(rv.Index(i).Interface())
			}
		}
	}
	walk(t.Value())
	return out
}

func reflectValue(v any) reflect.Value { return reflect.ValueOf(v) }
