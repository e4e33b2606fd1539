package efficientnet_test

import (
	"slices"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
	"github.com/postergenre/postergenre/train/efficientnet"
)

// TestLayerInput pins the activation shapes a cut caches (no weights
// needed): Lite0 at 224 px enters its last block at 7×7×192 and its head
// at 7×7×320; Lite2 at 260 px at 9×9×208 and 9×9×352.
func TestLayerInput(t *testing.T) {
	lite0, lite2 := efficientnet.Lite0, efficientnet.Lite2
	for _, tc := range []struct {
		v           efficientnet.Variant
		layer, size int
		want        [3]int
	}{
		{lite0, 0, 224, [3]int{224, 224, 3}},
		{lite0, 1, 224, [3]int{112, 112, 32}},
		{lite0, 2, 224, [3]int{112, 112, 16}},
		{lite0, lite0.Layers() - 2, 224, [3]int{7, 7, 192}},
		{lite0, lite0.Layers() - 1, 224, [3]int{7, 7, 320}},
		{lite0, lite0.Layers() - 1, 33, [3]int{2, 2, 320}},
		{lite2, lite2.Layers() - 2, 260, [3]int{9, 9, 208}},
		{lite2, lite2.Layers() - 1, 260, [3]int{9, 9, 352}},
	} {
		h, w, c := tc.v.LayerInput(tc.layer, tc.size, tc.size)
		if got := [3]int{h, w, c}; got != tc.want {
			t.Errorf("%s layer %d at %d px: %v, want %v", tc.v.Name, tc.layer, tc.size, got, tc.want)
		}
	}
}

// TestBuildFromCut: the network split at a cut — BuildPrefix's activation
// fed to BuildFrom in a second session, as the trainer does with a cache —
// gives Build's features, frozen or with the layers above the cut
// fine-tuned (variables at their pretrained values, of the same names);
// the prefix's output has LayerInput's shape. Cuts that would freeze a
// fine-tuned layer, or that are out of range, are refused.
func TestBuildFromCut(t *testing.T) {
	const n, size = 2, 40
	x := images(n, size, size, 3)
	for _, tc := range []struct {
		v             efficientnet.Variant
		cut, fineTune int
	}{
		{efficientnet.Lite0, efficientnet.Lite0.Layers() - 1, 0},
		{efficientnet.Lite0, efficientnet.Lite0.Layers() - 1, 1},
		{efficientnet.Lite0, efficientnet.Lite0.Layers() - 2, 2},
		{efficientnet.Lite0, efficientnet.Lite0.Layers() - 3, 1},
		{efficientnet.Lite0, 1, 0},
		{efficientnet.Lite2, efficientnet.Lite2.Layers() - 2, 2},
	} {
		w := weights(t, tc.v)
		o := efficientnet.Options{FineTune: tc.fineTune}
		want, _ := run(t, w, o, x, n, size, size)
		act, shape := runPrefix(t, w, tc.cut, x, n, size)
		h, wd, c := tc.v.LayerInput(tc.cut, size, size)
		if !slices.Equal(shape, []int64{n, int64(h), int64(wd), int64(c)}) {
			t.Errorf("%s cut %d: prefix shape %v, LayerInput %d×%d×%d", tc.v.Name, tc.cut, shape, h, wd, c)
			continue
		}
		got, names := runFrom(t, w, tc.cut, o, act, shape)
		if d, sc := maxDiff(got, want); d > 1e-5*max(sc, 1) {
			t.Errorf("%s cut %d fine-tune %d: features differ from Build's by %g (scale %g)", tc.v.Name, tc.cut, tc.fineTune, d, sc)
		}
		var full []string
		s := op.NewScope()
		m, err := w.Build(s, op.Placeholder(s, tf.Float, op.PlaceholderShape(tf.MakeShape(-1, size, size, 3))), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range m.Variables {
			full = append(full, v.Name)
		}
		if !slices.Equal(names, full) {
			t.Errorf("%s cut %d fine-tune %d: variables %v, Build's %v", tc.v.Name, tc.cut, tc.fineTune, names, full)
		}
	}
	w := weights(t, efficientnet.Lite0)
	L := efficientnet.Lite0.Layers()
	for _, bad := range []struct{ cut, fineTune int }{{L - 1, 2}, {L, 0}, {-1, 0}} {
		s := op.NewScope()
		in := op.Placeholder(s, tf.Float)
		if _, err := w.BuildFrom(s, in, bad.cut, efficientnet.Options{FineTune: bad.fineTune}); err == nil {
			t.Errorf("BuildFrom cut %d fine-tune %d accepted", bad.cut, bad.fineTune)
		}
	}
	for _, bad := range []int{0, L} {
		s := op.NewScope()
		if _, err := w.BuildPrefix(s, op.Placeholder(s, tf.Float), bad); err == nil {
			t.Errorf("BuildPrefix cut %d accepted", bad)
		}
	}
}

// runPrefix evaluates BuildPrefix on flat images [n,size,size,3].
func runPrefix(t *testing.T, w *efficientnet.Weights, cut int, x []float32, n, size int) ([]float32, []int64) {
	t.Helper()
	s := op.NewScope()
	in := op.Placeholder(s, tf.Float, op.PlaceholderShape(tf.MakeShape(-1, -1, -1, 3)))
	out, err := w.BuildPrefix(s, in, cut)
	if err != nil {
		t.Fatal(err)
	}
	sess := tfsessiontest.Open(t, s, nil)
	xt := tensor4(t, x, []int64{int64(n), int64(size), int64(size), 3})
	res, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, []tf.Output{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tfsessiontest.Flatten(res[0].Value()), res[0].Shape()
}

// runFrom evaluates BuildFrom's features on an activation of the given
// shape, its variables initialised, and returns them with the variables'
// names.
func runFrom(t *testing.T, w *efficientnet.Weights, cut int, o efficientnet.Options, act []float32, shape []int64) ([]float32, []string) {
	t.Helper()
	s := op.NewScope()
	in := op.Placeholder(s, tf.Float, op.PlaceholderShape(tf.MakeShape(-1, -1, -1, shape[3])))
	m, err := w.BuildFrom(s, in, cut, o)
	if err != nil {
		t.Fatal(err)
	}
	var inits []*tf.Operation
	var names []string
	for _, v := range m.Variables {
		inits = append(inits, op.AssignVariableOp(s.SubScope("init"), v.Handle, v.Init))
		names = append(names, v.Name)
	}
	sess := tfsessiontest.Open(t, s, nil)
	if len(inits) > 0 {
		if _, err := sess.Run(nil, nil, inits); err != nil {
			t.Fatal(err)
		}
	}
	res, err := sess.Run(map[tf.Output]*tf.Tensor{in: tensor4(t, act, shape)}, []tf.Output{m.Features}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tfsessiontest.Flatten(res[0].Value()), names
}

func tensor4(t *testing.T, x []float32, shape []int64) *tf.Tensor {
	t.Helper()
	xt, err := tf.NewTensor(x)
	if err != nil {
		t.Fatal(err)
	}
	if err := xt.Reshape(shape); err != nil {
		t.Fatal(err)
	}
	return xt
}
