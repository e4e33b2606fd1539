// Command bench/backbone measures and checks the pretrained EfficientNet-Lite
// backbones (train/efficientnet: Lite0, Lite1, Lite2) on this machine.
//
// Speed (default): feature extraction posters/s at each backbone's native
// size (224, 240, 260) for each batch size and precision (float32, and
// bfloat16: TensorFlow's oneDNN auto-mixed-precision rewrite, which pays only
// on a CPU with native bfloat16), frozen weights, each row in its own
// process so that its peak RSS (VmHWM) is its own. Pixel values do not
// change the cost, so the input is random.
//
//	go run ./bench/backbone                      # 3 backbones × float32, bfloat16 × batch 1,16,32
//	go run ./bench/backbone -backbones efficientnet_lite2 -precisions float32 -batches 32 -images 320
//
// Real posters (-posters): the ImageNet top-1 class of n posters spread
// over the folder, as a distribution, per backbone. A correct conversion
// names what a poster looks like: book jacket, comic book, web site,
// envelope...
//
//	go run ./bench/backbone -posters ../shared/data/posters -n 300 -backbones efficientnet_lite0
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/internal/procstat"
	"github.com/postergenre/postergenre/internal/tfsession"
	"github.com/postergenre/postergenre/train/efficientnet"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type result struct {
	Backbone       string  `json:"backbone"`
	Size           int     `json:"size"`
	Precision      string  `json:"precision"`
	Batch          int     `json:"batch"`
	Images         int     `json:"images"`
	Seconds        float64 `json:"seconds"`
	PostersPerSec  float64 `json:"posters_per_second"`
	FirstRunSecs   float64 `json:"first_run_seconds"` // graph optimisation + first batch
	LoadSecs       float64 `json:"load_seconds"`      // read and convert the .pth
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
	UserCPUSeconds float64 `json:"user_cpu_seconds"`
}

// options are the flags.
type options struct {
	backbones  []efficientnet.Variant
	precisions []tfsession.Precision
	batches    []int
	weights    string // "" = each backbone's installed .pth
	classes    string
	images     int
	size       int // 0 = each backbone's native size
	posters    string
	n          int
	fit        string
	child      int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-backbone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var names []string
	for _, v := range efficientnet.Variants() {
		names = append(names, v.Name)
	}
	backbones := fs.String("backbones", strings.Join(names, ","), "comma-separated backbones to time (or classify with)")
	precisions := fs.String("precisions", "float32,bfloat16", "comma-separated precisions to time")
	batches := fs.String("batches", "1,16,32", "comma-separated batch sizes to time")
	fs.StringVar(&o.weights, "weights", "", "the .pth (only with one backbone; default: the one scripts/weights-deps.sh installs)")
	fs.StringVar(&o.classes, "classes", efficientnet.ClassNamesPath, "ImageNet class names JSON (scripts/weights-deps.sh)")
	fs.IntVar(&o.images, "images", 160, "images to time per row (rounded up to whole batches), after one warm-up batch")
	fs.IntVar(&o.size, "size", 0, "input height and width (0: each backbone's native size)")
	fs.StringVar(&o.posters, "posters", "", "classify real posters from this folder instead of timing")
	fs.IntVar(&o.n, "n", 300, "posters to classify (spread evenly over the sorted folder)")
	fs.StringVar(&o.fit, "fit", "crop", "poster → square: crop (centre), stretch or pad")
	fs.IntVar(&o.child, "child", 0, "internal: time this batch size in this process")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	err := o.parseLists(*backbones, *precisions, *batches)
	if err == nil {
		switch {
		case o.child > 0:
			err = timeChild(stdout, o)
		case o.posters != "":
			err = classifyAll(stdout, o)
		default:
			err = timeAll(stdout, stderr, args, o)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench-backbone:", err)
		return 1
	}
	return 0
}

// parseLists fills the list options from their comma-separated flags.
func (o *options) parseLists(backbones, precisions, batches string) error {
	for _, f := range strings.Split(backbones, ",") {
		v, ok := efficientnet.VariantNamed(strings.TrimSpace(f))
		if !ok {
			return fmt.Errorf("-backbones: %q is not one of %s", f, efficientnet.VariantNames())
		}
		o.backbones = append(o.backbones, v)
	}
	if o.weights != "" && len(o.backbones) != 1 {
		return fmt.Errorf("-weights needs exactly one backbone in -backbones, got %d", len(o.backbones))
	}
	for _, f := range strings.Split(precisions, ",") {
		p, err := tfsession.ParsePrecision(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-precisions: %w", err)
		}
		o.precisions = append(o.precisions, p)
	}
	for _, f := range strings.Split(batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 {
			return fmt.Errorf("-batches: %q is not a positive integer", f)
		}
		o.batches = append(o.batches, b)
	}
	return nil
}

// weightsPath is the .pth of v.
func (o options) weightsPath(v efficientnet.Variant) string {
	if o.weights != "" {
		return o.weights
	}
	return v.WeightsPath
}

// sizeOf is the input size for v.
func (o options) sizeOf(v efficientnet.Variant) int {
	if o.size > 0 {
		return o.size
	}
	return v.ImageSize
}

// timeAll re-executes this binary once per backbone, precision and batch
// size and prints a table.
func timeAll(stdout, stderr io.Writer, args []string, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// Without it TensorFlow 2.18 still rewrites the graph (grappler: 140 of
	// Lite0's 245 nodes), and oneDNN emulates bfloat16: slower than float32.
	native := "no: grappler still converts the graph and oneDNN emulates bfloat16, so expect it slower than float32"
	if tfsession.NativeBFloat16() {
		native = "yes"
	}
	fmt.Fprintf(stdout, "Native bfloat16 on this CPU (AVX512_BF16 or AMX): %s.\n\n", native)
	fmt.Fprintln(stdout, "| backbone | size | precision | batch | images timed | seconds | posters/s | ms/poster | user CPU ms/poster | first batch s | load .pth s | peak RSS (VmHWM) |")
	fmt.Fprintln(stdout, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, v := range o.backbones {
		for _, p := range o.precisions {
			for _, b := range o.batches {
				cmd := exec.Command(self, append(append([]string{}, args...),
					"-backbones", v.Name, "-precisions", string(p), "-child", strconv.Itoa(b))...)
				cmd.Stderr = stderr
				out, err := cmd.Output()
				if err != nil {
					return fmt.Errorf("%s %s batch %d: %w", v.Name, p, b, err)
				}
				var r result
				if err := json.Unmarshal(out, &r); err != nil {
					return fmt.Errorf("%s %s batch %d: %w: %s", v.Name, p, b, err, out)
				}
				fmt.Fprintf(stdout, "| %s | %d | %s | %d | %d | %.2f | %.1f | %.1f | %.1f | %.2f | %.2f | %.0f MB |\n",
					r.Backbone, r.Size, r.Precision, r.Batch, r.Images, r.Seconds, r.PostersPerSec, 1000/r.PostersPerSec,
					1000*r.UserCPUSeconds/float64(r.Images), r.FirstRunSecs, r.LoadSecs, float64(r.PeakRSSBytes)/(1<<20))
			}
		}
	}
	return nil
}

// extractor is the frozen backbone in a session.
type extractor struct {
	sess     *tf.Session
	in       tf.Output
	features tf.Output
	logits   tf.Output
	size     int
}

func newExtractor(v efficientnet.Variant, weightsPath string, size int, prec tfsession.Precision, logits bool) (*extractor, error) {
	w, err := efficientnet.Load(weightsPath, v)
	if err != nil {
		return nil, err
	}
	s := op.NewScope()
	in := op.Placeholder(s, tf.Float, op.PlaceholderShape(tf.MakeShape(-1, int64(size), int64(size), 3)))
	m, err := w.Build(s, in, efficientnet.Options{Logits: logits})
	if err != nil {
		return nil, err
	}
	g, err := s.Finalize()
	if err != nil {
		return nil, err
	}
	opts, err := tfsession.Settings{Precision: prec}.Options()
	if err != nil {
		return nil, err
	}
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		return nil, err
	}
	return &extractor{sess: sess, in: in, features: m.Features, logits: m.Logits, size: size}, nil
}

// run feeds a flat batch of HWC images (0..255) and fetches the outputs.
func (e *extractor) run(x []float32, fetch ...tf.Output) ([]*tf.Tensor, error) {
	t, err := tf.NewTensor(x)
	if err != nil {
		return nil, err
	}
	px := e.size * e.size * 3
	if err := t.Reshape([]int64{int64(len(x) / px), int64(e.size), int64(e.size), 3}); err != nil {
		return nil, err
	}
	return e.sess.Run(map[tf.Output]*tf.Tensor{e.in: t}, fetch, nil)
}

// timeChild times o.child images per batch for the one backbone and
// precision its parent passed, and prints the result as JSON.
func timeChild(stdout io.Writer, o options) error {
	v, prec, batch := o.backbones[0], o.precisions[0], o.child
	size := o.sizeOf(v)
	t0 := time.Now()
	e, err := newExtractor(v, o.weightsPath(v), size, prec, false)
	if err != nil {
		return err
	}
	defer e.sess.Close()
	load := time.Since(t0).Seconds()
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*size*size*3)
	for i := range x {
		x[i] = float32(rng.IntN(256))
	}
	t1 := time.Now()
	if _, err := e.run(x, e.features); err != nil { // warm-up: graph optimisation, oneDNN primitives
		return err
	}
	first := time.Since(t1).Seconds()
	steps := (o.images + batch - 1) / batch
	cpu0 := userCPU()
	t2 := time.Now()
	for range steps {
		if _, err := e.run(x, e.features); err != nil {
			return err
		}
	}
	secs := time.Since(t2).Seconds()
	r := result{Backbone: v.Name, Size: size, Precision: string(prec), Batch: batch, Images: steps * batch, Seconds: secs,
		PostersPerSec: float64(steps*batch) / secs, FirstRunSecs: first, LoadSecs: load, PeakRSSBytes: vmHWM(),
		UserCPUSeconds: userCPU() - cpu0}
	return json.NewEncoder(stdout).Encode(r)
}

// classifyAll runs classify for each backbone (float32).
func classifyAll(stdout io.Writer, o options) error {
	for i, v := range o.backbones {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s:\n\n", v.Title)
		if err := classify(stdout, v, o.weightsPath(v), o.classes, o.posters, o.n, o.sizeOf(v), o.fit); err != nil {
			return fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	return nil
}

// classify prints the distribution of ImageNet top-1 classes over n posters.
func classify(stdout io.Writer, v efficientnet.Variant, weightsPath, classesPath, dir string, n, size int, fit string) error {
	names, err := efficientnet.ClassNames(classesPath)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(strings.ToLower(e.Name()), ".jpg") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return fmt.Errorf("%s: no .jpg posters", dir)
	}
	n = min(n, len(files))
	e, err := newExtractor(v, weightsPath, size, tfsession.Float32, true)
	if err != nil {
		return err
	}
	defer e.sess.Close()

	counts := map[int]int{}
	probSum := map[int]float64{}
	var classified, unreadable, bookTop5 int
	var sumTop1 float64
	const batch = 32
	px := size * size * 3
	x := make([]float32, 0, batch*px)
	flush := func() error {
		if len(x) == 0 {
			return nil
		}
		out, err := e.run(x, e.logits)
		if err != nil {
			return err
		}
		for _, row := range out[0].Value().([][]float32) {
			p := softmax(row)
			top := topK(p, 5)
			counts[top[0]]++
			probSum[top[0]] += p[top[0]]
			sumTop1 += p[top[0]]
			for _, c := range top {
				if c == bookJacket {
					bookTop5++
				}
			}
			classified++
		}
		x = x[:0]
		return nil
	}
	for i := range n {
		name := files[i*len(files)/n]
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		img, _, err := poster.Decode(b, poster.DefaultMaxPixels)
		if err != nil {
			if errors.Is(err, poster.ErrCorrupt) || errors.Is(err, poster.ErrTooManyPixels) {
				unreadable++
				continue
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, v := range encode.PrepareImage(img, size, size, fit, "catmullrom") {
			x = append(x, float32(v))
		}
		if len(x) == batch*px {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}

	type row struct{ class, count int }
	var rows []row
	for c, k := range counts {
		rows = append(rows, row{c, k})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].count != rows[j].count {
			return rows[i].count > rows[j].count
		}
		return rows[i].class < rows[j].class
	})
	fmt.Fprintf(stdout, "%d posters classified (%d unreadable) from %s, %d×%d, fit %s; %d distinct top-1 classes.\n",
		classified, unreadable, dir, size, size, fit, len(rows))
	fmt.Fprintf(stdout, "Mean top-1 probability %.3f; \"book jacket\" in the top 5 for %.1f%%.\n\n",
		sumTop1/float64(max(classified, 1)), 100*float64(bookTop5)/float64(max(classified, 1)))
	fmt.Fprintln(stdout, "| ImageNet top-1 class | index | posters | share | mean probability |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|")
	for i, r := range rows {
		if i == 25 {
			rest := 0
			for _, r := range rows[25:] {
				rest += r.count
			}
			fmt.Fprintf(stdout, "| (%d other classes) | | %d | %.1f%% | |\n", len(rows)-25, rest, 100*float64(rest)/float64(classified))
			break
		}
		fmt.Fprintf(stdout, "| %s | %d | %d | %.1f%% | %.3f |\n", names[r.class], r.class, r.count,
			100*float64(r.count)/float64(classified), probSum[r.class]/float64(r.count))
	}
	return nil
}

// bookJacket is ImageNet class 921, "book jacket, dust cover, ...".
const bookJacket = 921

func softmax(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	p := make([]float64, len(x))
	var s float64
	for i, v := range x {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func topK(p []float64, k int) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	return idx[:k]
}

// userCPU is this process's user CPU seconds so far (/proc/self/stat, field
// 14, in clock ticks of 1/100 s).
func userCPU() float64 {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 12 {
		return 0
	}
	ticks, _ := strconv.ParseFloat(f[11], 64)
	return ticks / 100
}

// vmHWM is this process's peak resident set size in bytes (0 if unknown).
func vmHWM() int64 {
	n, _ := procstat.PeakRSS()
	return n
}
