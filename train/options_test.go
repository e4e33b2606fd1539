package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/tfsession"
	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
)

// runScalar builds out from s, feeds nothing and returns its float32 value.
func runScalar(t *testing.T, s *op.Scope, out tf.Output) float64 {
	t.Helper()
	sess := tfsessiontest.Open(t, s, nil)
	res, err := sess.Run(nil, []tf.Output{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return float64(res[0].Value().(float32))
}

// TestLabelSmoothingLoss checks the smoothed losses on a hand case: one
// example, logits (0, ln 3) over two genres, label (0, 1), ε = 0.2.
// softmax_ce: p = (1/4, 3/4), target (0.1, 0.9): -(0.1 ln ¼ + 0.9 ln ¾).
// sigmoid_bce: σ(0) = ½, σ(ln 3) = ¾, targets (0.1, 0.9): mean of the two
// binary cross-entropies.
func TestLabelSmoothingLoss(t *testing.T) {
	bce := func(z, p float64) float64 { return -(z*math.Log(p) + (1-z)*math.Log(1-p)) }
	for _, c := range []struct {
		kind string
		eps  float64
		want float64
	}{
		{"softmax_ce", 0, -math.Log(0.75)},
		{"softmax_ce", 0.2, -(0.1*math.Log(0.25) + 0.9*math.Log(0.75))},
		{"sigmoid_bce", 0, (bce(0, 0.5) + bce(1, 0.75)) / 2},
		{"sigmoid_bce", 0.2, (bce(0.1, 0.5) + bce(0.9, 0.75)) / 2},
	} {
		s := op.NewScope()
		logits := op.Const(s.SubScope("x"), [][]float32{{0, float32(math.Log(3))}})
		labels := op.Const(s.SubScope("y"), [][]float32{{0, 1}})
		cw := op.Const(s.SubScope("cw"), []float32{1, 1})
		got := runScalar(t, s, lossFn(s, logits, smoothLabels(s, labels, c.kind, c.eps), cw, c.kind))
		if math.Abs(got-c.want) > 1e-5 {
			t.Errorf("%s ε=%g: loss %.6f, want %.6f", c.kind, c.eps, got, c.want)
		}
	}
}

// stepper is a training graph with a session, for one-step tests.
type stepper struct {
	g    *netGraph
	sess *tf.Session
}

func newStepper(t *testing.T, spec netSpec) *stepper {
	t.Helper()
	spec.Training = true
	g, err := buildGraph(spec)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := tfsession.Settings{IntraOp: 1, InterOp: 1, CPUOnly: true}.Options()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g.graph, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.initOp}); err != nil {
		t.Fatal(err)
	}
	return &stepper{g: g, sess: sess}
}

// values reads every variable by name.
func (s *stepper) values(t *testing.T) map[string][]float32 {
	t.Helper()
	var reads []tf.Output
	for _, v := range s.g.vars {
		reads = append(reads, v.read)
	}
	out, err := s.sess.Run(nil, reads, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string][]float32{}
	for i, v := range s.g.vars {
		if v.dtype == tf.Float {
			vals[v.name] = tfsessiontest.Flatten(out[i].Value())
		}
	}
	return vals
}

// step runs one training step on a fixed batch of two images.
func (s *stepper) step(t *testing.T, lr float32) {
	t.Helper()
	spec := s.g.spec
	n := spec.Height * spec.Width * 3
	x := make([]float32, 2*n)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	y := []float32{1, 0, 0, 1, 0, 1, 0, 0}
	xt, _ := tf.NewTensor(x)
	yt, _ := tf.NewTensor(y)
	lt, _ := tf.NewTensor(lr)
	if _, err := s.sess.Run(map[tf.Output]*tf.Tensor{s.g.images: xt, s.g.labels: yt, s.g.lr: lt}, nil, []*tf.Operation{s.g.trainOp}); err != nil {
		t.Fatal(err)
	}
}

func (s *stepper) run(t *testing.T, target *tf.Operation) {
	t.Helper()
	if _, err := s.sess.Run(nil, nil, []*tf.Operation{target}); err != nil {
		t.Fatal(err)
	}
}

func tinySpec() netSpec {
	return netSpec{Height: 12, Width: 10, Genres: 4, ConvFilters: []int{4}, Dense: []int{8}, Loss: "softmax_ce", Seed: 3,
		Optimizer: Optimizer{LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}}
}

// TestWeightDecayShrinksKernels: one step with decoupled decay λ equals the
// same step without it minus lr·λ·w₀ on the kernels, and leaves biases
// alone (Adam's update does not depend on w, and the gradient is taken at
// the undecayed weights).
func TestWeightDecayShrinksKernels(t *testing.T) {
	const lr, wd = 0.01, 0.5
	plain := newStepper(t, tinySpec())
	spec := tinySpec()
	spec.WeightDecay = wd
	decayed := newStepper(t, spec)
	w0 := plain.values(t)
	plain.step(t, lr)
	decayed.step(t, lr)
	a, b := plain.values(t), decayed.values(t)
	kernels := 0
	for name, before := range w0 {
		if strings.Contains(name, "adam") || name == "global_step" {
			continue
		}
		isKernel := strings.HasSuffix(name, "/kernel")
		if isKernel {
			kernels++
		}
		for i := range before {
			want := a[name][i]
			if isKernel {
				want -= lr * wd * before[i]
			}
			if math.Abs(float64(b[name][i]-want)) > 1e-6 {
				t.Fatalf("%s[%d]: %v with decay, want %v (no decay %v, w0 %v)", name, i, b[name][i], want, a[name][i], before[i])
			}
		}
	}
	if kernels != 3 {
		t.Errorf("checked %d kernels, want 3 (conv0, dense0, output)", kernels)
	}
}

// TestEMAIsWeightedMean: after one step from w₀ to w₁, the averaged weights
// are d'·w₀ + (1-d')·w₁ with d' = min(d, 1/10) at step 0; swapping them in
// and back restores the live weights.
func TestEMAIsWeightedMean(t *testing.T) {
	spec := tinySpec()
	spec.EMADecay = 0.999
	s := newStepper(t, spec)
	w0 := s.values(t)
	s.step(t, 0.01)
	w1 := s.values(t)
	s.run(t, s.g.emaBackup)
	s.run(t, s.g.emaSwapIn)
	avg := s.values(t)
	const d = 0.1
	for _, name := range []string{"conv0/kernel", "conv0/bias", "dense0/kernel", "output/bias"} {
		for i := range w0[name] {
			want := d*w0[name][i] + (1-d)*w1[name][i]
			if math.Abs(float64(avg[name][i]-want)) > 1e-6 {
				t.Fatalf("%s[%d]: average %v, want %v", name, i, avg[name][i], want)
			}
		}
		if len(w0[name]) > 0 && w0[name][0] == w1[name][0] && name != "conv0/bias" {
			t.Errorf("%s did not move in the step: the test would not see the average", name)
		}
	}
	s.run(t, s.g.emaRestore)
	back := s.values(t)
	for i, v := range w1["dense0/kernel"] {
		if back["dense0/kernel"][i] != v {
			t.Fatalf("restore: dense0/kernel[%d] = %v, want the live %v", i, back["dense0/kernel"][i], v)
		}
	}
}

// TestTTAFlipSymmetric: with tta_flip a model gives an image and its mirror
// the same probabilities, and a model.json with tta_flip rebuilds the
// averaging in LoadModel (predictions differ from the same weights without it).
func TestTTAFlipSymmetric(t *testing.T) {
	enc := t.TempDir()
	writeSynth(t, enc, synthSpec{Height: 24, Width: 16, Noise: 60, Seed: 2,
		PerClass: map[string]int{encode.SplitTrain: 12, encode.SplitValidation: 4}})
	cfg := smallConfig()
	cfg.Epochs = 1
	cfg.TTAFlip = true
	env := testEnv(t, enc)
	if _, err := Run(context.Background(), cfg, env); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(env.OutDir, ModelDir)
	m, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Meta().TTAFlip {
		t.Fatal("model.json does not record tta_flip")
	}
	const h, w = 24, 16
	img := make([]byte, h*w*3)
	for i := range img {
		img[i] = byte((i * 37) % 251)
	}
	mirror := make([]byte, len(img))
	for r := range h {
		for c := range w {
			copy(mirror[(r*w+c)*3:(r*w+c)*3+3], img[(r*w+w-1-c)*3:(r*w+w-1-c)*3+3])
		}
	}
	both, err := m.Predict(append(append([]byte{}, img...), mirror...), 2)
	if err != nil {
		t.Fatal(err)
	}
	for j := range both[0] {
		if math.Abs(float64(both[0][j]-both[1][j])) > 1e-6 {
			t.Fatalf("image %v, mirror %v: flip averaging is not symmetric", both[0], both[1])
		}
	}
	// The same weights without the averaging: an asymmetric image scores
	// differently from its mirror, so the symmetry above came from tta_flip.
	meta := m.Meta()
	meta.TTAFlip = false
	plainDir := t.TempDir()
	writeMetaCopy(t, dir, plainDir, meta)
	p, err := LoadModel(plainDir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	plain, err := p.Predict(append(append([]byte{}, img...), mirror...), 2)
	if err != nil {
		t.Fatal(err)
	}
	diff := 0.0
	for j := range plain[0] {
		diff = math.Max(diff, math.Abs(float64(plain[0][j]-plain[1][j])))
		if mean := (plain[0][j] + plain[1][j]) / 2; math.Abs(float64(mean-both[0][j])) > 1e-5 {
			t.Errorf("genre %d: tta %v, mean of image and mirror %v", j, both[0][j], mean)
		}
	}
	if diff < 1e-6 {
		t.Errorf("without tta_flip the image and its mirror score the same (%v): the test cannot tell", plain)
	}
}

// writeMetaCopy copies a model folder's checkpoint files into dst with meta as model.json.
func writeMetaCopy(t *testing.T, src, dst string, meta Meta) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(src, meta.CheckpointPrefix+".*"))
	if meta.PosterDetector != nil {
		files = append(files, filepath.Join(src, meta.PosterDetector.File))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := jsonMarshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, MetaFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInferencePrecisionFromModelJSON: a model trained in bfloat16 records
// it in model.json, LoadModel runs its session in bfloat16 and an override
// runs float32. On a CPU with native bfloat16 (where the oneDNN rewrite
// runs) the two sessions' probabilities differ slightly, which shows the
// option reached the session, while the argmax mostly agrees.
func TestInferencePrecisionFromModelJSON(t *testing.T) {
	enc := t.TempDir()
	writeSynth(t, enc, synthSpec{Height: 24, Width: 16, Noise: 60, Seed: 4,
		PerClass: map[string]int{encode.SplitTrain: 16, encode.SplitValidation: 8}})
	cfg := smallConfig()
	cfg.Epochs = 2
	cfg.Precision = "bfloat16"
	// With tta_flip the probabilities pass through Add and Mul, which
	// oneDNN's lists run in bfloat16 whenever Softmax's output is bfloat16.
	cfg.TTAFlip = true
	env := testEnv(t, enc)
	if _, err := Run(context.Background(), cfg, env); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(env.OutDir, ModelDir)
	bf, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	if bf.Meta().Precision != "bfloat16" || bf.Precision() != tfsession.BFloat16 {
		t.Fatalf("model.json precision %q, session %q; want bfloat16 for both", bf.Meta().Precision, bf.Precision())
	}
	f32, err := LoadModelPrecision(dir, "float32")
	if err != nil {
		t.Fatal(err)
	}
	defer f32.Close()
	if f32.Precision() != tfsession.Float32 {
		t.Fatalf("override: session %q, want float32", f32.Precision())
	}
	if _, err := LoadModelPrecision(dir, "fp8"); err == nil {
		t.Error("LoadModelPrecision accepted precision fp8")
	}
	const n = 32
	px := make([]byte, n*24*16*3)
	for i := range px {
		px[i] = byte((i*131 + i/97) % 256)
	}
	a, err := bf.Predict(px, n)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f32.Predict(px, n)
	if err != nil {
		t.Fatal(err)
	}
	maxDiff, agree := 0.0, 0
	for i := range a {
		if argmax(a[i]) == argmax(b[i]) {
			agree++
		}
		for j := range a[i] {
			maxDiff = math.Max(maxDiff, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	t.Logf("bfloat16 vs float32: max |Δp| %.2g, argmax agrees on %d/%d", maxDiff, agree, n)
	if maxDiff > 0.05 {
		t.Errorf("bfloat16 and float32 probabilities differ by %v: more than rounding", maxDiff)
	}
	if agree < n*3/4 {
		t.Errorf("argmax agrees on %d/%d images only", agree, n)
	}
	if os.Getenv("TF_ENABLE_ONEDNN_OPTS") != "0" && maxDiff == 0 {
		t.Error("bfloat16 and float32 sessions give identical probabilities: the precision did not reach the session")
	}
	// The probabilities themselves stay float32 (tfsession.Float32Outputs):
	// bfloat16 ones have the low 16 bits of every value zero.
	fine := 0
	for _, r := range a {
		for _, p := range r {
			if math.Float32bits(p)&0xffff != 0 {
				fine++
			}
		}
	}
	if fine == 0 {
		t.Error("every bfloat16-session probability is a bfloat16 value: Softmax ran in bfloat16")
	}
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// TestPoolFirstTrainsIdentically: a training graph pools before the ReLU;
// three steps of it leave every variable (weights and Adam's slots)
// exactly where the ReLU-then-pool order leaves them, with and without
// batch norm.
func TestPoolFirstTrainsIdentically(t *testing.T) {
	for _, bn := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch_norm=%v", bn), func(t *testing.T) {
			spec := tinySpec()
			spec.ConvFilters, spec.BatchNorm = []int{4, 6}, bn
			spec.Height, spec.Width = 16, 14
			pooled := newStepper(t, spec)
			spec.reluBeforePool = true
			plain := newStepper(t, spec)
			if !pooled.g.hasOp("MaxPool", "Relu") || plain.g.hasOp("MaxPool", "Relu") {
				t.Fatal("the two graphs do not differ in the order of pooling and ReLU")
			}
			for range 3 {
				pooled.step(t, 0.01)
				plain.step(t, 0.01)
			}
			a, b := pooled.values(t), plain.values(t)
			for name, want := range b {
				for i := range want {
					if a[name][i] != want[i] {
						t.Fatalf("%s[%d] = %v pooling first, %v with ReLU first", name, i, a[name][i], want[i])
					}
				}
			}
		})
	}
}

// hasOp reports whether an op of type next reads an op of type first in
// the training pass.
func (g *netGraph) hasOp(first, next string) bool {
	for _, o := range g.graph.Operations() {
		if o.Type() != first || !strings.HasPrefix(o.Name(), "train/") {
			continue
		}
		for _, c := range o.Output(0).Consumers() {
			if c.Op.Type() == next {
				return true
			}
		}
	}
	return false
}
