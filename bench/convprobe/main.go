// Command bench/convprobe times one 3×3 'valid' convolution layer's
// training work (forward, weight gradient and, unless it is the first
// layer, input gradient) in several graph shapes, alternating them in one
// process: the question is which shape of the same arithmetic oneDNN and
// Eigen run fastest on this CPU.
//
//	go run ./bench/convprobe -h 107 -w 73 -cin 3 -cout 32
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/tfsession"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type variant struct {
	name string
	// firstOnly: the variant cannot form an input gradient (TensorFlow
	// registers no gradient for ExtractImagePatches), so it times the first
	// layer only.
	firstOnly bool
	build     func(s *op.Scope, x, k, dy tf.Output, n, h, w, cin, cout int, first bool) []tf.Output
}

// conv is the graph as the trainer builds it: Conv2D NHWC, gradients by
// TensorFlow's registered gradients.
func conv(s *op.Scope, x, k, dy tf.Output, n, h, w, cin, cout int, first bool) []tf.Output {
	y := op.Conv2D(s, x, k, []int64{1, 1, 1, 1}, "VALID")
	return append([]tf.Output{y}, grads(s, y, dy, x, k, first)...)
}

// patches forms the 3×3 patches with ExtractImagePatches and multiplies:
// forward [N·oh·ow, 9·cin] × [9·cin, cout], weight gradient patchesᵀ × dy.
func patches(s *op.Scope, x, k, dy tf.Output, n, h, w, cin, cout int, first bool) []tf.Output {
	p := op.ExtractImagePatches(s, x, []int64{1, 3, 3, 1}, []int64{1, 1, 1, 1}, []int64{1, 1, 1, 1}, "VALID")
	p2 := op.Reshape(s.SubScope("p2"), p, op.Const(s.SubScope("ps"), []int64{-1, int64(9 * cin)}))
	k2 := op.Reshape(s.SubScope("k2"), k, op.Const(s.SubScope("ks"), []int64{int64(9 * cin), int64(cout)}))
	y2 := op.MatMul(s, p2, k2)
	y := op.Reshape(s.SubScope("y"), y2, op.Const(s.SubScope("ys"), []int64{int64(n), int64(h - 2), int64(w - 2), int64(cout)}))
	return append([]tf.Output{y}, grads(s, y, dy, x, k, first)...)
}

// nchw is conv with the tensors in NCHW (fed so: the transposes are not
// timed), which oneDNN may serve with other kernels.
func nchw(s *op.Scope, x, k, dy tf.Output, n, h, w, cin, cout int, first bool) []tf.Output {
	y := op.Conv2D(s, x, k, []int64{1, 1, 1, 1}, "VALID", op.Conv2DDataFormat("NCHW"))
	return append([]tf.Output{y}, grads(s, y, dy, x, k, first)...)
}

// onehot keeps the forward Conv2D but forms the weight gradient as one
// matrix product, patchesᵀ × dy, with the patches made by a convolution
// with a constant one-hot filter (oneDNN's fast forward kernel) instead of
// oneDNN's backward-weights kernel. First layer only (no input gradient).
func onehot(s *op.Scope, x, k, dy tf.Output, n, h, w, cin, cout int, first bool) []tf.Output {
	y := op.Conv2D(s, x, k, []int64{1, 1, 1, 1}, "VALID")
	p := 9 * cin
	e := make([][][][]float32, 3)
	for i := range e {
		e[i] = make([][][]float32, 3)
		for j := range e[i] {
			e[i][j] = make([][]float32, cin)
			for c := range e[i][j] {
				e[i][j][c] = make([]float32, p)
				e[i][j][c][(i*3+j)*cin+c] = 1
			}
		}
	}
	pt := op.Conv2D(s.SubScope("patches"), x, op.Const(s.SubScope("onehot"), e), []int64{1, 1, 1, 1}, "VALID")
	p2 := op.Reshape(s.SubScope("p2"), pt, op.Const(s.SubScope("ps"), []int64{-1, int64(p)}))
	d2 := op.Reshape(s.SubScope("d2"), dy, op.Const(s.SubScope("ds"), []int64{-1, int64(cout)}))
	dk := op.MatMul(s.SubScope("dk"), p2, d2, op.MatMulTransposeA(true))
	return []tf.Output{y, op.Reshape(s.SubScope("dk4"), dk, op.Const(s.SubScope("ks"), []int64{3, 3, int64(cin), int64(cout)}))}
}

// grads are the weight gradient and, but for the first layer, the input
// gradient.
func grads(s *op.Scope, y, dy, x, k tf.Output, first bool) []tf.Output {
	xs := []tf.Output{k}
	if !first {
		xs = append(xs, x)
	}
	return op.Gradients(s.SubScope("grad"), []tf.Output{y}, xs, dy)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("convprobe", flag.ContinueOnError)
	n := fs.Int("n", 32, "batch")
	h := fs.Int("h", 107, "input height")
	w := fs.Int("w", 73, "input width")
	cin := fs.Int("cin", 3, "input channels (3: the first layer, no input gradient)")
	cout := fs.Int("cout", 32, "output channels")
	runs := fs.Int("runs", 10, "timed runs per variant per round")
	rounds := fs.Int("rounds", 3, "alternating rounds")
	threads := fs.Int("threads", 2, "intra-op threads")
	only := fs.String("variants", "conv,patches", "variants to time")
	firstFlag := fs.Bool("first", false, "the first layer: no input gradient (default: when -cin is 3)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	first := *firstFlag || *cin == 3
	all := map[string]variant{"conv": {"conv", false, conv}, "patches": {"patches", true, patches}, "nchw": {"nchw", false, nchw}, "onehot": {"onehot", true, onehot}}
	type built struct {
		v     variant
		sess  *tf.Session
		feeds map[tf.Output]*tf.Tensor
		fetch []tf.Output
		ms    []float64
	}
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func(shape ...int64) *tf.Tensor {
		size := int64(1)
		for _, d := range shape {
			size *= d
		}
		v := make([]float32, size)
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
		t, _ := tf.NewTensor(v)
		t.Reshape(shape)
		return t
	}
	xT := mk(int64(*n), int64(*h), int64(*w), int64(*cin))
	kT := mk(3, 3, int64(*cin), int64(*cout))
	dyT := mk(int64(*n), int64(*h-2), int64(*w-2), int64(*cout))
	xN := mk(int64(*n), int64(*cin), int64(*h), int64(*w))
	dyN := mk(int64(*n), int64(*cout), int64(*h-2), int64(*w-2))
	var bs []*built
	for _, name := range strings.Split(*only, ",") {
		v, ok := all[name]
		if !ok {
			fmt.Fprintf(stderr, "unknown variant %q\n", name)
			return 2
		}
		if v.firstOnly && !first {
			fmt.Fprintf(stderr, "variant %q times the first layer only (-first or -cin 3)\n", name)
			return 2
		}
		s := op.NewScope()
		x := op.Placeholder(s.SubScope("x"), tf.Float)
		k := op.Placeholder(s.SubScope("k"), tf.Float)
		dy := op.Placeholder(s.SubScope("dy"), tf.Float)
		outs := v.build(s, x, k, dy, *n, *h, *w, *cin, *cout, first)
		// Fetch small sums, not the tensors: the copy out is not the question.
		var fetch []tf.Output
		for i, o := range outs {
			fetch = append(fetch, op.Sum(s.SubScope(fmt.Sprint("sum", i)), o, op.Range(s.SubScope(fmt.Sprint("r", i)),
				op.Const(s.SubScope(fmt.Sprint("a", i)), int32(0)), op.Rank(s.SubScope(fmt.Sprint("rk", i)), o), op.Const(s.SubScope(fmt.Sprint("d", i)), int32(1)))))
		}
		g, err := s.Finalize()
		if err != nil {
			fmt.Fprintln(stderr, name, err)
			return 1
		}
		opts, err := tfsession.Settings{IntraOp: *threads, InterOp: *threads, CPUOnly: true}.Options()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		sess, err := tf.NewSession(g, opts)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		b := &built{v: v, sess: sess, feeds: map[tf.Output]*tf.Tensor{x: xT, k: kT, dy: dyT}, fetch: fetch}
		if name == "nchw" {
			b.feeds = map[tf.Output]*tf.Tensor{x: xN, k: kT, dy: dyN}
		}
		out, err := sess.Run(b.feeds, fetch, nil) // warm-up
		if err != nil {
			fmt.Fprintln(stderr, name, err)
			return 1
		}
		var sums []string
		for _, o := range out {
			sums = append(sums, fmt.Sprintf("%.4g", o.Value()))
		}
		fmt.Fprintf(stderr, "%s: sums %s\n", name, strings.Join(sums, " "))
		bs = append(bs, b)
	}
	for r := 0; r < *rounds; r++ {
		for _, b := range bs {
			for range *runs {
				t0 := time.Now()
				if _, err := b.sess.Run(b.feeds, b.fetch, nil); err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				b.ms = append(b.ms, float64(time.Since(t0).Microseconds())/1e3)
			}
		}
	}
	flop := 2 * float64(*n*(*h-2)*(*w-2)*9**cin**cout)
	passes := 2.0
	if !first {
		passes = 3
	}
	fmt.Fprintf(stdout, "%d×%d×%d → %d, batch %d, %d threads, %d rounds × %d runs; %.0f MFLOP per run (forward + weight gradient%s)\n\n",
		*h, *w, *cin, *cout, *n, *threads, *rounds, *runs, passes*flop/1e6, map[bool]string{true: " + input gradient"}[!first])
	fmt.Fprintln(stdout, "| variant | median ms | best ms | GFLOP/s (median) |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|")
	for _, b := range bs {
		sort.Float64s(b.ms)
		med := b.ms[len(b.ms)/2]
		fmt.Fprintf(stdout, "| %s | %.2f | %.2f | %.1f |\n", b.v.name, med, b.ms[0], passes*flop/med/1e6)
		b.sess.Close()
	}
	return 0
}
