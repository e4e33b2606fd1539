// Command bench/backbone measures and checks the pretrained EfficientNet-Lite0
// backbone (train/efficientnet) on this machine.
//
// Speed (default): feature extraction posters/s at 224×224 for each batch
// size, frozen weights, each batch size in its own process so that its peak
// RSS (VmHWM) is its own. Pixel values do not change the cost, so the input
// is random.
//
//	go run ./bench/backbone                      # batch sizes 1,16,32
//	go run ./bench/backbone -batches 32 -images 320
//
// Real posters (-posters): the ImageNet top-1 class of n posters spread
// over the folder, as a distribution. A correct conversion names what a
// poster looks like: book jacket, comic book, web site, envelope...
//
//	go run ./bench/backbone -posters ../shared/data/posters -n 300
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
	"github.com/postergenre/postergenre/train/efficientnet"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type result struct {
	Batch          int     `json:"batch"`
	Images         int     `json:"images"`
	Seconds        float64 `json:"seconds"`
	PostersPerSec  float64 `json:"posters_per_second"`
	FirstRunSecs   float64 `json:"first_run_seconds"` // graph optimisation + first batch
	LoadSecs       float64 `json:"load_seconds"`      // read and convert the .pth
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
	UserCPUSeconds float64 `json:"user_cpu_seconds"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-backbone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	weights := fs.String("weights", efficientnet.Lite0.WeightsPath, "the EfficientNet-Lite0 .pth (scripts/weights-deps.sh installs it)")
	classes := fs.String("classes", efficientnet.ClassNamesPath, "ImageNet class names JSON (scripts/weights-deps.sh)")
	batches := fs.String("batches", "1,16,32", "comma-separated batch sizes to time")
	images := fs.Int("images", 160, "images to time per batch size (rounded up to whole batches), after one warm-up batch")
	size := fs.Int("size", efficientnet.Lite0.ImageSize, "input height and width")
	posters := fs.String("posters", "", "classify real posters from this folder instead of timing")
	n := fs.Int("n", 300, "posters to classify (spread evenly over the sorted folder)")
	fit := fs.String("fit", "crop", "poster → square: crop (centre), stretch or pad")
	child := fs.Int("child", 0, "internal: time this batch size in this process")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	switch {
	case *child > 0:
		err = timeChild(stdout, *weights, *child, *images, *size)
	case *posters != "":
		err = classify(stdout, *weights, *classes, *posters, *n, *size, *fit)
	default:
		err = timeAll(stdout, stderr, args, *batches)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench-backbone:", err)
		return 1
	}
	return 0
}

// timeAll re-executes this binary once per batch size and prints a table.
func timeAll(stdout, stderr io.Writer, args []string, batches string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "| batch | images timed | seconds | posters/s | ms/poster | user CPU ms/poster | first batch s | load .pth s | peak RSS (VmHWM) |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, f := range strings.Split(batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 {
			return fmt.Errorf("-batches: %q is not a positive integer", f)
		}
		cmd := exec.Command(self, append(append([]string{}, args...), "-child", strconv.Itoa(b))...)
		cmd.Stderr = stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("batch %d: %w", b, err)
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("batch %d: %w: %s", b, err, out)
		}
		fmt.Fprintf(stdout, "| %d | %d | %.2f | %.1f | %.1f | %.1f | %.2f | %.2f | %.0f MB |\n", r.Batch, r.Images, r.Seconds,
			r.PostersPerSec, 1000/r.PostersPerSec, 1000*r.UserCPUSeconds/float64(r.Images), r.FirstRunSecs, r.LoadSecs,
			float64(r.PeakRSSBytes)/(1<<20))
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

func newExtractor(weightsPath string, size int, logits bool) (*extractor, error) {
	w, err := efficientnet.Load(weightsPath, efficientnet.Lite0)
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
	sess, err := tf.NewSession(g, nil)
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

func timeChild(stdout io.Writer, weightsPath string, batch, images, size int) error {
	t0 := time.Now()
	e, err := newExtractor(weightsPath, size, false)
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
	steps := (images + batch - 1) / batch
	cpu0 := userCPU()
	t2 := time.Now()
	for range steps {
		if _, err := e.run(x, e.features); err != nil {
			return err
		}
	}
	secs := time.Since(t2).Seconds()
	r := result{Batch: batch, Images: steps * batch, Seconds: secs, PostersPerSec: float64(steps*batch) / secs,
		FirstRunSecs: first, LoadSecs: load, PeakRSSBytes: vmHWM(), UserCPUSeconds: userCPU() - cpu0}
	return json.NewEncoder(stdout).Encode(r)
}

// classify prints the distribution of ImageNet top-1 classes over n posters.
func classify(stdout io.Writer, weightsPath, classesPath, dir string, n, size int, fit string) error {
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
	e, err := newExtractor(weightsPath, size, true)
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
