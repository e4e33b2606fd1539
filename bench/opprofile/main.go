// Command bench/opprofile shows where a training step of the paper's
// network goes, ours (Go, train.ProfileSteps) and Keras side by side, at
// 73×107 and 150×200, float32 and bfloat16.
//
// What each side reports:
//
//   - TensorFlow's step statistics of our steps (RunOptions trace_level
//     FULL_TRACE, RunMetadata): time per op type as executed (after
//     grappler's and oneDNN's rewrites), per name scope (forward pass
//     "train", backward "gradients", Adam "adam") and per node;
//   - oneDNN's own timing of every primitive (ONEDNN_VERBOSE=1) for both
//     implementations: the same library under both, so the same kinds of
//     primitive compare one for one, per training step.
//
// Each measurement is its own process (the thread pools and the bfloat16
// rewrite are per process). Steps are few: this is a profile, not a
// throughput figure (bench/precision measures that), and ONEDNN_VERBOSE
// slows what it logs.
//
//	go run ./bench/opprofile -shards work/real/stages/encode/<fp>
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"

	"github.com/postergenre/postergenre/bench/internal/machine"
	"github.com/postergenre/postergenre/bench/internal/trainbench"
	"github.com/postergenre/postergenre/internal/tftrace"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
	"github.com/postergenre/postergenre/train/trainconfig"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// goProfile is what a Go child reports.
type goProfile struct {
	PlainMs  []float64         `json:"plain_ms"`
	TracedMs []float64         `json:"traced_ms"`
	Steps    int               `json:"traced_steps"`
	NodeMs   float64           `json:"node_ms"` // summed node time of the traced steps
	ByType   []*tftrace.Stat   `json:"by_type"`
	ByScope  []*tftrace.Stat   `json:"by_scope"`
	ByNode   []*tftrace.Stat   `json:"by_node"`
	NodeType map[string]string `json:"node_type"`
	// Executed counts the op types of the graph as it ran (partition
	// graphs of the first traced step): which fusions happened.
	Executed map[string]int `json:"executed"`
}

// size is one input size of the paper's network.
type size struct {
	Name          string
	Height, Width int
	Dir           string
}

type options struct {
	batch, threads, warmup, steps, top int
	python, script                     string
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-opprofile", flag.ContinueOnError)
	shards := fs.String("shards", "", "encode output at 73×107 (the paper's input); empty: random posters in -work")
	work := fs.String("work", filepath.Join(os.TempDir(), "bench-precision"), "folder for random shards (shared with bench/precision)")
	rows := fs.Int("rows", 1600, "training rows to generate per random size")
	var o options
	fs.IntVar(&o.batch, "batch", 32, "batch size")
	fs.IntVar(&o.threads, "threads", 2, "TensorFlow threads (intra and inter op)")
	fs.IntVar(&o.warmup, "warmup", 10, "untimed steps first (Keras: one epoch of -steps steps)")
	fs.IntVar(&o.steps, "steps", 20, "profiled steps")
	fs.IntVar(&o.top, "top", 12, "rows of the per-op-type and per-node tables")
	fs.StringVar(&o.python, "python", ".venv-keras/bin/python", "Python with tensorflow-cpu==2.18.0 and pyarrow")
	fs.StringVar(&o.script, "script", "bench/train/keras_bench.py", "the Keras side")
	sizes := fs.String("sizes", "paper,full", "paper (73×107) and/or full (150×200)")
	precisions := fs.String("precisions", "float32,bfloat16", "float32 and/or bfloat16")
	impls := fs.String("impls", "go,keras", "go and/or keras (keras: oneDNN's log only)")
	mode := fs.String("mode", "", "internal: go:<precision> profiles in this process")
	verbose := fs.Bool("verbose", false, "internal: print the oneDNN markers around the plain steps, trace none")
	out := fs.String("out", "", "internal: where the child writes its JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := func() error {
		if p, ok := strings.CutPrefix(*mode, "go:"); ok {
			return child(*shards, p, o, *verbose, *out, stdout)
		} else if *mode != "" {
			return fmt.Errorf("unknown -mode %q", *mode)
		}
		fmt.Fprintf(stdout, "Started %s on %d cores of %s; load average at start: %s.\n\n",
			time.Now().UTC().Format("2006-01-02T15:04Z"), runtime.NumCPU(), machine.CPUModel(), machine.LoadAvg())
		var ss []size
		for _, n := range strings.Split(*sizes, ",") {
			switch n {
			case "paper":
				d := *shards
				if d == "" {
					d = filepath.Join(*work, "random-73x107")
				}
				ss = append(ss, size{"paper 73×107", 107, 73, d})
			case "full":
				ss = append(ss, size{"full.yaml 150×200", 200, 150, filepath.Join(*work, "random-150x200")})
			default:
				return fmt.Errorf("unknown size %q", n)
			}
		}
		for _, s := range ss {
			if err := trainbench.EnsureShards(s.Dir, *rows, s.Height, s.Width, stderr); err != nil {
				return err
			}
		}
		for _, s := range ss {
			for _, p := range strings.Split(*precisions, ",") {
				if err := profileOne(stdout, stderr, s, p, strings.Split(*impls, ","), o); err != nil {
					return fmt.Errorf("%s %s: %w", s.Name, p, err)
				}
			}
		}
		return nil
	}(); err != nil {
		fmt.Fprintln(stderr, "bench-opprofile:", err)
		return 1
	}
	return 0
}

// child profiles our training steps in this process and writes a
// goProfile to out. With verbose it runs plain steps only, between the
// markers (oneDNN's log goes to stdout).
func child(shards, precision string, o options, verbose bool, out string, stdout io.Writer) error {
	cfg := trainconfig.Default()
	cfg.BatchSize, cfg.Threads, cfg.Device, cfg.Precision = o.batch, o.threads, "cpu", precision
	dir, err := os.MkdirTemp("", "bench-opprofile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := stages.Env{OutDir: dir, Inputs: map[string]string{stages.Encode: shards},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	po := train.ProfileOptions{Warmup: o.warmup, Plain: o.steps, Traced: o.steps,
		RunOptions: &pb.RunOptions{TraceLevel: pb.RunOptions_FULL_TRACE, OutputPartitionGraphs: true}}
	if verbose {
		po.Traced = 0
		po.Mark = func(start bool) {
			if start {
				fmt.Fprintln(stdout, markStart)
			} else {
				fmt.Fprintln(stdout, markEnd)
			}
		}
	}
	sp, err := train.ProfileSteps(context.Background(), cfg, env, po)
	if err != nil {
		return err
	}
	gp := goProfile{Steps: len(sp.Metadata), Executed: map[string]int{}}
	for _, d := range sp.Plain {
		gp.PlainMs = append(gp.PlainMs, float64(d.Microseconds())/1e3)
	}
	for _, d := range sp.Traced {
		gp.TracedMs = append(gp.TracedMs, float64(d.Microseconds())/1e3)
	}
	p := tftrace.NewProfile()
	for i, md := range sp.Metadata {
		p.Add(md)
		if i == 0 {
			for _, g := range md.GetPartitionGraphs() {
				for _, n := range g.GetNode() {
					gp.Executed[n.GetOp()]++
				}
			}
		}
	}
	gp.NodeMs = float64(p.DeviceMicros) / 1e3
	gp.ByType, gp.ByScope, gp.ByNode, gp.NodeType = tftrace.Top(p.ByType, 0), tftrace.Top(p.ByScope, 0), tftrace.Top(p.ByNode, 40), p.NodeType
	raw, err := json.Marshal(gp)
	if err != nil {
		return err
	}
	return os.WriteFile(out, raw, 0o644)
}

// profileOne runs the children for one size and precision and prints its
// tables.
func profileOne(w, stderr io.Writer, s size, precision string, impls []string, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	common := []string{"-shards", s.Dir, "-batch", strconv.Itoa(o.batch), "-threads", strconv.Itoa(o.threads),
		"-warmup", strconv.Itoa(o.warmup), "-steps", strconv.Itoa(o.steps)}
	var gp goProfile
	dnn := map[string]map[primitive]*primStat{}
	stepsOf := map[string]int{}
	var kerasIPS float64
	var kerasOps kerasProfile
	tmp, err := os.MkdirTemp("", "bench-opprofile-out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, impl := range impls {
		switch impl {
		case "go":
			fmt.Fprintf(stderr, "%s %s: go, traced steps…\n", s.Name, precision)
			js := filepath.Join(tmp, "go.json")
			cmd := exec.Command(self, append([]string{"-mode", "go:" + precision, "-out", js}, common...)...)
			cmd.Stdout, cmd.Stderr = stderr, stderr
			if err := cmd.Run(); err != nil {
				return err
			}
			raw, err := os.ReadFile(js)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &gp); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "%s %s: go, oneDNN verbose…\n", s.Name, precision)
			cmd = exec.Command(self, append([]string{"-mode", "go:" + precision, "-verbose", "-out", filepath.Join(tmp, "gov.json")}, common...)...)
			if dnn["go"], err = verboseChild(cmd, stderr); err != nil {
				return err
			}
			stepsOf["go"] = o.steps
		case "keras":
			// One warm-up epoch and one timed epoch of -steps steps each.
			kargs := []string{o.script, "--shards", s.Dir, "--batch", strconv.Itoa(o.batch), "--epochs", "2",
				"--threads", strconv.Itoa(o.threads), "--precision", precision, "--max-rows", strconv.Itoa(o.steps * o.batch)}
			fmt.Fprintf(stderr, "%s %s: keras, plain…\n", s.Name, precision)
			res, err := trainbench.Child(exec.Command(o.python, kargs...), stderr)
			if err != nil {
				return err
			}
			kerasIPS = res.ImagesPerSecond
			fmt.Fprintf(stderr, "%s %s: keras, traced (tf.profiler)…\n", s.Name, precision)
			var kp kerasProfile
			if err := childJSON(exec.Command(o.python, append(kargs, "--profile-ops", filepath.Join(tmp, "xplane"))...), stderr, &kp); err != nil {
				return err
			}
			kerasOps = kp
			fmt.Fprintf(stderr, "%s %s: keras, oneDNN verbose…\n", s.Name, precision)
			if dnn["keras"], err = verboseChild(exec.Command(o.python, append(kargs, "--mark")...), stderr); err != nil {
				return err
			}
			stepsOf["keras"] = o.steps
		default:
			return fmt.Errorf("unknown implementation %q", impl)
		}
	}
	report(w, s, precision, o, gp, kerasOps, dnn, stepsOf, kerasIPS)
	return nil
}

// verboseChild runs cmd with ONEDNN_VERBOSE=1 and sums its log between the
// markers.
func verboseChild(cmd *exec.Cmd, stderr io.Writer) (map[primitive]*primStat, error) {
	var out bytes.Buffer
	cmd.Env = append(os.Environ(), "ONEDNN_VERBOSE=1")
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	if !bytes.Contains(out.Bytes(), []byte(markStart)) {
		return nil, fmt.Errorf("%s: no %q in its output", cmd.Path, markStart)
	}
	return parseVerbose(&out)
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func report(w io.Writer, s size, precision string, o options, gp goProfile, kp kerasProfile, dnn map[string]map[primitive]*primStat, stepsOf map[string]int, kerasIPS float64) {
	fmt.Fprintf(w, "### %s, %s, batch %d, %d threads\n\n", s.Name, precision, o.batch, o.threads)
	plain := mean(gp.PlainMs)
	if gp.Steps > 0 {
		traced := mean(gp.TracedMs)
		fmt.Fprintf(w, "Ours: %.1f ms per step untraced (%.0f images/s, mean of %d steps after %d warm-up), %.1f ms traced; "+
			"the traced steps' node time %.1f ms per step (%.2f× the traced wall time: the ops that ran in parallel).",
			plain, float64(o.batch)*1e3/plain, len(gp.PlainMs), o.warmup, traced, gp.NodeMs/float64(gp.Steps), gp.NodeMs/float64(gp.Steps)/traced)
		if kerasIPS > 0 {
			fmt.Fprintf(w, " Keras: %.0f images/s (%.1f ms per step; one timed epoch of %d steps).", kerasIPS, float64(o.batch)*1e3/kerasIPS, o.steps)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w)
		per := func(us int64) float64 { return float64(us) / 1e3 / float64(gp.Steps) }
		total := gp.NodeMs / float64(gp.Steps)
		fmt.Fprintln(w, "| our step, by name scope | ms/step | share of node time |")
		fmt.Fprintln(w, "|---|---:|---:|")
		var other float64
		for _, st := range gp.ByScope {
			if per(st.Micros) < 0.005*total {
				other += per(st.Micros)
				continue
			}
			fmt.Fprintf(w, "| %s | %.2f | %.1f%% |\n", st.Name, per(st.Micros), 100*per(st.Micros)/total)
		}
		fmt.Fprintf(w, "| (other scopes) | %.2f | %.1f%% |\n", other, 100*other/total)
		fmt.Fprintln(w)
		opTypes(w, gp, kp, o.top)
		fmt.Fprintln(w, "| our step, by node | op type | ms/step | share of node time |")
		fmt.Fprintln(w, "|---|---|---:|---:|")
		for _, st := range limit(gp.ByNode, o.top) {
			fmt.Fprintf(w, "| %s | %s | %.2f | %.1f%% |\n", st.Name, gp.NodeType[st.Name], per(st.Micros), 100*per(st.Micros)/total)
		}
		fmt.Fprintln(w)
		var ex []string
		for k, n := range gp.Executed {
			if strings.HasPrefix(k, "_Mkl") || strings.Contains(k, "Fused") || strings.Contains(k, "Xla") || strings.Contains(k, "Conv") {
				ex = append(ex, fmt.Sprintf("%s ×%d", k, n))
			}
		}
		sort.Strings(ex)
		fmt.Fprintf(w, "Executed graph (first traced step's partition graphs), oneDNN, fused and XLA ops: %s.\n\n", strings.Join(ex, ", "))
	}
	if len(dnn) == 0 {
		return
	}
	type key struct{ Kind, Prop, Problem string }
	rows := map[key]map[string]float64{}
	calls := map[key]map[string]float64{}
	impl := map[key]map[string]string{}
	tot := map[string]float64{}
	var impls []string
	for name, tab := range dnn {
		impls = append(impls, name)
		for p, st := range tab {
			k := key{p.Kind, p.Prop, p.Problem}
			if rows[k] == nil {
				rows[k], impl[k], calls[k] = map[string]float64{}, map[string]string{}, map[string]float64{}
			}
			ms := st.Ms / float64(stepsOf[name])
			rows[k][name] += ms
			calls[k][name] += float64(st.Calls) / float64(stepsOf[name])
			impl[k][name] = p.Impl
			tot[name] += ms
		}
	}
	sort.Strings(impls)
	var keys []key
	for k := range rows {
		keys = append(keys, k)
	}
	big := func(k key) float64 {
		m := 0.0
		for _, v := range rows[k] {
			m = max(m, v)
		}
		return m
	}
	sort.Slice(keys, func(i, j int) bool { return big(keys[i]) > big(keys[j]) })
	fmt.Fprintf(w, "oneDNN primitives per training step (ONEDNN_VERBOSE=1, %d steps after the warm-up, ms per step):\n\n", o.steps)
	head := "| primitive | propagation | problem |"
	sep := "|---|---|---|"
	for _, n := range impls {
		head += " " + n + " calls | " + n + " ms | " + n + " implementation |"
		sep += "---:|---:|---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, k := range keys {
		if big(k) < 0.05 {
			continue
		}
		line := fmt.Sprintf("| %s | %s | %s |", k.Kind, k.Prop, k.Problem)
		for _, n := range impls {
			if v, ok := rows[k][n]; ok {
				line += fmt.Sprintf(" %.0f | %.2f | %s |", calls[k][n], v, impl[k][n])
			} else {
				line += " | – | |"
			}
		}
		fmt.Fprintln(w, line)
	}
	line := "| **all oneDNN** | | |"
	for _, n := range impls {
		line += fmt.Sprintf(" | **%.2f** | |", tot[n])
	}
	fmt.Fprintln(w, line)
	fmt.Fprintln(w)
}

// kerasProfile is what keras_bench.py --profile-ops adds to its JSON: the
// time per op type of the timed epochs, from tf.profiler's host trace.
type kerasProfile struct {
	Steps   int `json:"steps_timed"`
	OpTypes map[string]struct {
		Calls int     `json:"calls"`
		Ms    float64 `json:"ms"`
	} `json:"op_types"`
}

// opTypes prints the time per op type as executed, ours and (when traced)
// Keras', ordered by the larger of the two.
func opTypes(w io.Writer, gp goProfile, kp kerasProfile, top int) {
	type row struct {
		name                       string
		goCalls, goMs, kCalls, kMs float64
	}
	rows := map[string]*row{}
	get := func(n string) *row {
		if rows[n] == nil {
			rows[n] = &row{name: n}
		}
		return rows[n]
	}
	for _, st := range gp.ByType {
		r := get(st.Name)
		r.goCalls, r.goMs = float64(st.Calls)/float64(gp.Steps), float64(st.Micros)/1e3/float64(gp.Steps)
	}
	var goTotal, kTotal float64
	for _, r := range rows {
		goTotal += r.goMs
	}
	keras := kp.Steps > 0
	if keras {
		for n, st := range kp.OpTypes {
			r := get(n)
			r.kCalls, r.kMs = float64(st.Calls)/float64(kp.Steps), st.Ms/float64(kp.Steps)
			kTotal += r.kMs
		}
	}
	var list []*row
	for _, r := range rows {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := max(list[i].goMs, list[i].kMs), max(list[j].goMs, list[j].kMs)
		if a != b {
			return a > b
		}
		return list[i].name < list[j].name
	})
	if top > 0 && len(list) > top {
		list = list[:top]
	}
	if keras {
		fmt.Fprintln(w, "| op type as executed | ours calls/step | ours ms/step | ours share | Keras calls/step | Keras ms/step | Keras share |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	} else {
		fmt.Fprintln(w, "| op type as executed | ours calls/step | ours ms/step | ours share |")
		fmt.Fprintln(w, "|---|---:|---:|---:|")
	}
	for _, r := range list {
		line := fmt.Sprintf("| %s | %.0f | %.2f | %.1f%% |", r.name, r.goCalls, r.goMs, 100*r.goMs/goTotal)
		if keras {
			line += fmt.Sprintf(" %.0f | %.2f | %.1f%% |", r.kCalls, r.kMs, 100*r.kMs/kTotal)
		}
		fmt.Fprintln(w, line)
	}
	line := fmt.Sprintf("| **all ops** | | **%.2f** | |", goTotal)
	if keras {
		line += fmt.Sprintf(" | **%.2f** | |", kTotal)
	}
	fmt.Fprintln(w, line)
	fmt.Fprintln(w)
}

// childJSON runs cmd and decodes the last line of its stdout into v.
func childJSON(cmd *exec.Cmd, stderr io.Writer, v any) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return json.Unmarshal([]byte(lines[len(lines)-1]), v)
}

func limit(s []*tftrace.Stat, n int) []*tftrace.Stat {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}
