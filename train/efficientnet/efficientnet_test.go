package efficientnet_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/citest"
	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
	"github.com/postergenre/postergenre/train/efficientnet"
)

// root is the project root, seen from this package's folder.
const root = "../.."

var (
	loadMu sync.Mutex
	loaded = map[string]*efficientnet.Weights{}
)

// weights loads variant v's installed weights once, or skips (fails under
// CI=true): they come from scripts/weights-deps.sh (make deps, build and
// test run it).
func weights(t *testing.T, v efficientnet.Variant) *efficientnet.Weights {
	t.Helper()
	path := filepath.Join(root, v.WeightsPath)
	if _, err := os.Stat(path); err != nil {
		citest.Skipf(t, "%s weights not installed (%v): run scripts/weights-deps.sh or make deps", v.Title, err)
	}
	loadMu.Lock()
	defer loadMu.Unlock()
	if w, ok := loaded[v.Name]; ok {
		return w
	}
	w, err := efficientnet.Load(path, v)
	if err != nil {
		t.Fatal(err)
	}
	loaded[v.Name] = w
	return w
}

// TestVariants pins each variant's layer count (stem, blocks, head) and the
// names the config and model.json use; it needs no weights.
func TestVariants(t *testing.T) {
	for _, tc := range []struct {
		v      efficientnet.Variant
		name   string
		layers int
		size   int
	}{
		{efficientnet.Lite0, "efficientnet_lite0", 18, 224},
		{efficientnet.Lite1, "efficientnet_lite1", 23, 240},
		{efficientnet.Lite2, "efficientnet_lite2", 23, 260},
	} {
		if tc.v.Name != tc.name || tc.v.Layers() != tc.layers || tc.v.ImageSize != tc.size {
			t.Errorf("%s: %d layers at %d px, want %s: %d at %d", tc.v.Name, tc.v.Layers(), tc.v.ImageSize, tc.name, tc.layers, tc.size)
		}
		if got, ok := efficientnet.VariantNamed(tc.name); !ok || got != tc.v {
			t.Errorf("VariantNamed(%q) = %v, %v", tc.name, got, ok)
		}
	}
	if _, ok := efficientnet.VariantNamed("efficientnet_lite3"); ok {
		t.Error("efficientnet_lite3 found")
	}
}

// TestLoad reads each installed variant and checks tensors whose shapes
// differ between the variants (written out from the files' own listing:
// Lite1 adds blocks, Lite2 also widens them to 48, 88, 120, 208, 352).
func TestLoad(t *testing.T) {
	type shape struct {
		name  string
		shape []int64
	}
	for _, tc := range []struct {
		v      efficientnet.Variant
		values int // the file's float tensors, less the num_batches_tracked counters
		shapes []shape
	}{
		{efficientnet.Lite0, 4_694_024, []shape{ // 296 tensors, less 49 counters
			{"_conv_stem.weight", []int64{3, 3, 3, 32}},                 // OIHW → HWIO
			{"_blocks.3._depthwise_conv.weight", []int64{5, 5, 144, 1}}, // [c,1,h,w] → [h,w,c,1]
			{"_blocks.15._project_conv.weight", []int64{1, 1, 1152, 320}},
			{"_conv_head.weight", []int64{1, 1, 320, 1280}},
			{"_fc.weight", []int64{1280, 1000}}, // [out,in] → [in,out]
			{"_bn1.running_var", []int64{1280}},
		}},
		{efficientnet.Lite1, 5_470_344, []shape{ // 386 tensors, less 64 counters
			{"_conv_stem.weight", []int64{3, 3, 3, 32}},
			{"_blocks.4._depthwise_conv.weight", []int64{5, 5, 144, 1}},
			{"_blocks.15._project_conv.weight", []int64{1, 1, 672, 192}},
			{"_blocks.20._project_conv.weight", []int64{1, 1, 1152, 320}},
			{"_conv_head.weight", []int64{1, 1, 320, 1280}},
		}},
		{efficientnet.Lite2, 6_150_168, []shape{ // 386 tensors, less 64 counters
			{"_conv_stem.weight", []int64{3, 3, 3, 32}},
			{"_blocks.4._project_conv.weight", []int64{1, 1, 144, 48}},
			{"_blocks.11._expand_conv.weight", []int64{1, 1, 88, 528}},
			{"_blocks.16._depthwise_conv.weight", []int64{5, 5, 1248, 1}},
			{"_blocks.20._project_conv.weight", []int64{1, 1, 1248, 352}},
			{"_conv_head.weight", []int64{1, 1, 352, 1280}},
			{"_fc.weight", []int64{1280, 1000}},
		}},
	} {
		t.Run(tc.v.Name, func(t *testing.T) {
			w := weights(t, tc.v)
			if w.SHA256 != tc.v.WeightsSHA256 {
				t.Errorf("sha256 %s, want %s", w.SHA256, tc.v.WeightsSHA256)
			}
			if w.Values != tc.values {
				t.Errorf("%d values, want %d", w.Values, tc.values)
			}
			for _, want := range tc.shapes {
				got, ok := w.Tensor(want.name)
				if !ok {
					t.Errorf("%s missing", want.name)
				} else if !reflect.DeepEqual(got.Shape, want.shape) {
					t.Errorf("%s: shape %v, want %v", want.name, got.Shape, want.shape)
				}
			}
		})
	}
}

// TestLoadOtherVariant: a file read as another variant fails in Load,
// naming the first tensor that does not fit.
func TestLoadOtherVariant(t *testing.T) {
	weights(t, efficientnet.Lite0)
	for _, v := range []efficientnet.Variant{efficientnet.Lite1, efficientnet.Lite2} {
		_, err := efficientnet.Load(filepath.Join(root, efficientnet.Lite0.WeightsPath), v)
		if err == nil {
			t.Errorf("Lite0's file loaded as %s", v.Title)
		} else {
			t.Logf("as %s: %v", v.Title, err)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content string }{
		{"empty.pth", ""},
		{"text.pth", "not a pickle at all"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := efficientnet.Load(path, efficientnet.Lite0); err == nil {
			t.Errorf("%s: loaded", tc.name)
		}
	}
	if _, err := efficientnet.Load(filepath.Join(dir, "missing.pth"), efficientnet.Lite0); err == nil {
		t.Error("missing file: loaded")
	}
}

// images makes n deterministic H×W RGB images in 0..255: smooth gradients
// and stripes (natural-ish statistics) plus noise.
func images(n, h, w int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, 0, n*h*w*3)
	for i := range n {
		fx, fy := 1+rng.Float64()*6, 1+rng.Float64()*6
		for y := range h {
			for xx := range w {
				for c := range 3 {
					u, v := float64(xx)/float64(w), float64(y)/float64(h)
					val := 127.5 + 90*math.Sin(fx*u*math.Pi*float64(c+1)+float64(i))*math.Cos(fy*v*math.Pi) + 30*rng.NormFloat64()
					x = append(x, float32(min(max(val, 0), 255)))
				}
			}
		}
	}
	return x
}

// run builds the network on a placeholder and evaluates features and
// logits for flat images of shape [n,h,w,3].
func run(t *testing.T, w *efficientnet.Weights, o efficientnet.Options, x []float32, n, h, wd int) (features, logits []float32) {
	t.Helper()
	s := op.NewScope()
	in := op.Placeholder(s, tf.Float, op.PlaceholderShape(tf.MakeShape(-1, -1, -1, 3)))
	o.Logits = true
	m, err := w.Build(s, in, o)
	if err != nil {
		t.Fatal(err)
	}
	var inits []*tf.Operation
	for _, v := range m.Variables {
		inits = append(inits, op.AssignVariableOp(s.SubScope("init"), v.Handle, v.Init))
	}
	sess := tfsessiontest.Open(t, s, nil)
	if len(inits) > 0 {
		if _, err := sess.Run(nil, nil, inits); err != nil {
			t.Fatal(err)
		}
	}
	xt, err := tf.NewTensor(x)
	if err != nil {
		t.Fatal(err)
	}
	if err := xt.Reshape([]int64{int64(n), int64(h), int64(wd), 3}); err != nil {
		t.Fatal(err)
	}
	out, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, []tf.Output{m.Features, m.Logits}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tfsessiontest.Flatten(out[0].Value()), tfsessiontest.Flatten(out[1].Value())
}

func readF32(t *testing.T, path string, n int) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*n {
		t.Fatalf("%s: %d bytes, want %d", path, len(b), 4*n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func writeF32(t *testing.T, path string, x []float32) {
	t.Helper()
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// maxDiff is the largest absolute difference and the largest magnitude in want.
func maxDiff(got, want []float32) (diff, scale float64) {
	for i := range got {
		diff = max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	return diff, scale
}

// TestMatchesNumPy runs the Go graph and testdata/reference.py (an
// independent NumPy implementation reading the .pth itself, in float64) on
// the same images and compares features and logits, for every variant. The
// odd size checks the 'SAME' padding of stride-2 layers on odd inputs (the
// extra pixel after). FineTune 0 folds batch norm into the convolutions;
// FineTune Layers keeps it unfolded with variables: both must agree with
// NumPy.
func TestMatchesNumPy(t *testing.T) {
	py := citest.Python(t)
	const tol = 1e-4
	for _, v := range efficientnet.Variants() {
		native := strconv.Itoa(v.ImageSize)
		for _, tc := range []struct {
			name     string
			n, h, w  int
			fineTune int
		}{
			{native + "x" + native, 2, v.ImageSize, v.ImageSize, 0},
			{"odd-97x131", 1, 97, 131, 0},
			{"odd-97x131-unfolded", 1, 97, 131, v.Layers()},
		} {
			t.Run(v.Name+"/"+tc.name, func(t *testing.T) {
				w := weights(t, v)
				x := images(tc.n, tc.h, tc.w, uint64(tc.h))
				dir := t.TempDir()
				in := filepath.Join(dir, "images.f32")
				writeF32(t, in, x)
				cmd := exec.Command(py, "testdata/reference.py", v.Name, filepath.Join(root, v.WeightsPath), in,
					strconv.Itoa(tc.n), strconv.Itoa(tc.h), strconv.Itoa(tc.w), filepath.Join(dir, "ref"))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("reference.py: %v\n%s", err, out)
				}
				wantF := readF32(t, filepath.Join(dir, "ref.features.f32"), tc.n*efficientnet.Features)
				wantL := readF32(t, filepath.Join(dir, "ref.logits.f32"), tc.n*efficientnet.Classes)
				gotF, gotL := run(t, w, efficientnet.Options{FineTune: tc.fineTune}, x, tc.n, tc.h, tc.w)
				df, sf := maxDiff(gotF, wantF)
				dl, sl := maxDiff(gotL, wantL)
				t.Logf("features: max |Go−NumPy| %.3g (max |feature| %.3g); logits: %.3g (max |logit| %.3g)", df, sf, dl, sl)
				if df > tol || dl > tol {
					t.Errorf("Go and NumPy differ by more than %g: features %.3g, logits %.3g", tol, df, dl)
				}
				if sf == 0 || sl == 0 {
					t.Error("all-zero output: the comparison proves nothing")
				}
			})
		}
	}
}

// TestFineTuneVariables checks which layers become variables and that every
// variable has its own shared name (an empty or repeated one would alias
// buffers).
func TestFineTuneVariables(t *testing.T) {
	lite0, lite2 := efficientnet.Lite0, efficientnet.Lite2
	for _, tc := range []struct {
		v        efficientnet.Variant
		fineTune int
		want     int // variables: conv kernel, γ, β per convolution
		first    string
	}{
		{lite0, 0, 0, ""},
		{lite0, 1, 3, "efficientnet/head/kernel"},
		{lite0, 2, 12, "efficientnet/blocks_15/expand_conv/kernel"},
		{lite0, lite0.Layers(), 3 + 6 + 15*9 + 3, "efficientnet/stem/kernel"},
		{lite2, 2, 12, "efficientnet/blocks_20/expand_conv/kernel"},
		{lite2, lite2.Layers(), 3 + 6 + 20*9 + 3, "efficientnet/stem/kernel"},
	} {
		w := weights(t, tc.v)
		s := op.NewScope()
		in := op.Placeholder(s, tf.Float, op.PlaceholderShape(tf.MakeShape(-1, 32, 32, 3)))
		m, err := w.Build(s, in, efficientnet.Options{FineTune: tc.fineTune})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Variables) != tc.want {
			t.Errorf("%s fine-tune %d: %d variables, want %d", tc.v.Name, tc.fineTune, len(m.Variables), tc.want)
			continue
		}
		seen := map[string]bool{}
		for _, v := range m.Variables {
			if seen[v.Name] {
				t.Errorf("fine-tune %d: variable name %q twice", tc.fineTune, v.Name)
			}
			seen[v.Name] = true
		}
		if tc.want > 0 && m.Variables[0].Name != tc.first {
			t.Errorf("fine-tune %d: first variable %q, want %q", tc.fineTune, m.Variables[0].Name, tc.first)
		}
	}
	w := weights(t, lite2)
	for _, bad := range []int{-1, lite2.Layers() + 1} {
		s := op.NewScope()
		in := op.Placeholder(s, tf.Float)
		if _, err := w.Build(s, in, efficientnet.Options{FineTune: bad}); err == nil {
			t.Errorf("fine-tune %d accepted", bad)
		}
	}
}

// TestFineTuneGradients takes the gradient of loss = Σ features·r with
// respect to every variable of the fully fine-tuned network: each must
// exist (TF 2.18 registers C++ gradients for Conv2D, DepthwiseConv2dNative,
// Relu6, Mul, Sub, AddV2 and Mean; TestOpGradients checks each of them
// exactly in float64), be finite and not all zero. End to end, the head's
// gradients are compared with central finite differences along a random
// direction. Deeper weights are not: in float32, a step large enough to
// beat round-off pushes many of ~50 ReLU6 layers' units across a kink, and
// the difference quotient drifts by 5–20% (measured) for reasons that are
// not the gradient's.
func TestFineTuneGradients(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the whole-network gradient takes ~20 s")
	}
	w := weights(t, efficientnet.Lite0)
	const n, h, wd = 2, 21, 19 // odd sizes: asymmetric 'SAME' padding
	s := op.NewScope()
	in := op.Placeholder(s, tf.Float, op.PlaceholderShape(tf.MakeShape(n, h, wd, 3)))
	m, err := w.Build(s, in, efficientnet.Options{FineTune: w.Variant.Layers()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	r := make([][]float32, n)
	for i := range r {
		r[i] = make([]float32, efficientnet.Features)
		for j := range r[i] {
			r[i][j] = float32(rng.NormFloat64())
		}
	}
	loss := op.Sum(s, op.Mul(s, m.Features, op.Const(s.SubScope("r"), r)), op.Const(s.SubScope("axes"), []int32{0, 1}))
	var reads []tf.Output
	byName := map[string]int{}
	for i, v := range m.Variables {
		reads = append(reads, v.Read)
		byName[v.Name] = i
	}
	grads := op.Gradients(s.SubScope("gradients"), []tf.Output{loss}, reads)
	var inits []*tf.Operation
	for _, v := range m.Variables {
		inits = append(inits, op.AssignVariableOp(s.SubScope("init"), v.Handle, v.Init))
	}
	sess := tfsessiontest.Open(t, s, nil)
	if _, err := sess.Run(nil, nil, inits); err != nil {
		t.Fatal(err)
	}
	xt, _ := tf.NewTensor(images(n, h, wd, 11))
	if err := xt.Reshape([]int64{n, h, wd, 3}); err != nil {
		t.Fatal(err)
	}

	all, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, grads, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, gt := range all {
		var nonzero bool
		for _, v := range tfsessiontest.Flatten(gt.Value()) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: gradient %v", m.Variables[i].Name, v)
			}
			nonzero = nonzero || v != 0
		}
		if !nonzero {
			t.Errorf("%s: gradient all zero", m.Variables[i].Name)
		}
	}
	for _, name := range []string{
		"efficientnet/head/kernel",
		"efficientnet/head/bn/gamma",
		"efficientnet/head/bn/beta",
	} {
		i, ok := byName[name]
		if !ok {
			t.Fatalf("no variable %s", name)
		}
		v := m.Variables[i]
		base, err := sess.Run(nil, []tf.Output{v.Read}, nil)
		if err != nil {
			t.Fatal(err)
		}
		w0 := tfsessiontest.Flatten(base[0].Value())
		dir := make([]float32, len(w0))
		for j := range dir {
			dir[j] = float32(rng.NormFloat64())
		}
		out, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, []tf.Output{grads[i], loss}, nil)
		if err != nil {
			t.Fatal(err)
		}
		grad := tfsessiontest.Flatten(out[0].Value())
		loss0 := float64(out[1].Value().(float32))
		var analytic float64
		for j := range grad {
			analytic += float64(grad[j]) * float64(dir[j])
		}
		// Step: one that changes the loss by about 0.5%: far above float32
		// round-off (~1e-7 of the loss), small enough to cross few ReLU6
		// kinks.
		eps := 5e-3 * math.Abs(loss0) / max(math.Abs(analytic), 1e-6)
		lossAt := func(sign float64) float64 {
			p := make([]float32, len(w0))
			for j := range p {
				p[j] = w0[j] + float32(sign*eps)*dir[j]
			}
			pt, _ := tf.NewTensor(p)
			if err := pt.Reshape(v.Shape); err != nil {
				t.Fatal(err)
			}
			out, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt, v.Read: pt}, []tf.Output{loss}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return float64(out[0].Value().(float32))
		}
		fd := (lossAt(1) - lossAt(-1)) / (2 * eps)
		rel := math.Abs(fd-analytic) / max(math.Abs(analytic), 1e-3)
		t.Logf("%s: directional derivative %.6g, finite difference %.6g (relative difference %.2g)", name, analytic, fd, rel)
		if rel > 1e-2 {
			t.Errorf("%s: gradient·d %.6g, finite difference %.6g", name, analytic, fd)
		}
	}
}
