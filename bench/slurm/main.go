// Command slurm-bench measures the Slurm executor on the local two-node
// cluster (scripts/slurm-local.sh): the scheduling overhead per cell
// (sbatch returned → the cell's process started its stages; the cell's
// process finished → the submitter saw it end) against the cell's own
// time, and the same demo grid run by the local executor and by Slurm,
// wall time side by side (same CPUs: the point is the overhead, not a
// speed-up). With -paper CONFIG it also runs one paper-size cell (the
// real 73×107 data, 1 epoch) through Slurm, the cell the < 2% floor is
// stated for, and projects Table 2 (25 cells) on 4 GPUs from measured
// per-cell times. Prints Markdown for bench/results.md.
//
//	go run ./bench/slurm -pipeline bin/pipeline -work work/bench/slurm [-paper overlay.yaml -paper-work work/bench/real]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/postergenre/postergenre/executor"
	"github.com/postergenre/postergenre/pipeline"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "slurm-bench:", err)
		os.Exit(1)
	}
}

// demoGrid is the demo grid measured: 2 image sizes × 2 learning rates.
const demoGrid = "version: 1\nname: bench-grid\nextends: %s\ngrid:\n  shrink_percent: [30, 40]\n  learning_rate: [0.001, 0.0005]\n"

var demoSets = []string{"--set", "demo.posters=240", "--set", "train.epochs=2", "--set", "train.early_stopping.patience=0",
	"--set", "train.threads=2", "--set", "evaluate.bootstrap=100", "--set", "executor.slurm.cpus_per_cell=2",
	"--set", "executor.slurm.poll=250ms", "--log-format", "json"}

func run() error {
	bin := flag.String("pipeline", "bin/pipeline", "the pipeline binary")
	work := flag.String("work", "work/bench/slurm", "working folders (replaced)")
	root := flag.String("root", ".", "the project folder (configs/demo.yaml)")
	paper := flag.String("paper", "", "a one-cell paper-size grid config to run through Slurm (optional)")
	paperWork := flag.String("paper-work", "", "its working folder (with its shared stages up to date)")
	paperSeed := flag.Int64("paper-seed", time.Now().Unix(), "train.seed of the paper cell (a new seed: a new training)")
	flag.Parse()
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	*bin, *work = abs(*bin), abs(*work)
	if err := os.RemoveAll(*work); err != nil {
		return err
	}
	if err := os.MkdirAll(*work, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(*work, "bench-grid.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(demoGrid, abs(filepath.Join(*root, "configs", "demo.yaml")))), 0o644); err != nil {
		return err
	}
	// The demo data and the shared stages first, in both folders: the
	// comparison is of the cells (train, evaluate) only.
	for _, w := range []string{"local", "slurm"} {
		pre := append(append([]string{"run", cfg, "--workdir", filepath.Join(*work, w)}, demoSets...),
			"--set", "grid.learning_rate=[0.01]", "--set", "train.max_steps_per_epoch=1", "--set", "evaluate.bootstrap=10")
		if _, err := pipelineRun(*bin, *work, "prepare-"+w, pre...); err != nil {
			return err
		}
	}
	localWall, err := pipelineRun(*bin, *work, "local", append([]string{"run", cfg, "--workdir", filepath.Join(*work, "local")}, demoSets...)...)
	if err != nil {
		return err
	}
	slurmWall, err := pipelineRun(*bin, *work, "slurm", append([]string{"run", cfg, "--workdir", filepath.Join(*work, "slurm"), "--executor", "slurm"}, demoSets...)...)
	if err != nil {
		return err
	}
	local, err := latest(filepath.Join(*work, "local"))
	if err != nil {
		return err
	}
	cells, err := cellTimes(filepath.Join(*work, "slurm"))
	if err != nil {
		return err
	}
	fmt.Println("Demo grid, 2 image sizes × 2 learning rates (240 posters, 2 epochs, 2 threads per cell), after its shared stages were built in both folders: the local executor runs the 4 cells one after the other in one process; Slurm runs them as one array on the two 2-CPU nodes, one cell per node at a time (`cpus_per_cell: 2`). Poll interval 250 ms.")
	fmt.Println()
	fmt.Println("| executor | wall s (command) | sum of cell s |")
	fmt.Println("|---|---:|---:|")
	fmt.Printf("| local | %.1f | %.1f |\n", localWall.Seconds(), stepSeconds(local.Steps))
	sum := 0.0
	for _, c := range cells {
		sum += c.cell
	}
	fmt.Printf("| slurm (2 nodes) | %.1f | %.1f |\n", slurmWall.Seconds(), sum)
	fmt.Println()
	printCells("Per cell on Slurm", cells)
	if *paper == "" {
		return nil
	}
	pw := abs(*paperWork)
	pWall, err := pipelineRun(*bin, *work, "paper", "run", abs(*paper), "--workdir", pw, "--executor", "slurm",
		"--set", fmt.Sprintf("train.seed=%d", *paperSeed), "--set", "executor.slurm.poll=250ms", "--log-format", "json")
	if err != nil {
		return err
	}
	pc, err := cellTimes(pw)
	if err != nil {
		return err
	}
	fmt.Printf("Paper-size cell: paper.yaml's network on the real 73×107 data, 1 epoch, as a one-cell grid through Slurm (command wall %.1f s, shared stages up to date). Its train time includes what every cell runs after its last epoch: the poster-or-not detector's calibration (features of the training and validation posters).\n\n", pWall.Seconds())
	printCells("Paper cell on Slurm", pc)
	c := pc[0]
	over, share := c.overhead(), 100*c.overhead()/c.work()
	fmt.Printf("Overhead %.2f s = %.2f%% of the cell's %.1f s of training and evaluation (floor: < 2%%): %s. Slurm's own part (scheduling and collection) %.2f s = %.2f%%: %s.\n\n",
		over, share, c.work(), verdict(share < 2), c.slurmPart(), 100*c.slurmPart()/c.work(), verdict(100*c.slurmPart()/c.work() < 2))
	project(c)
	return nil
}

// cell is one cell's times on Slurm, in seconds.
type cell struct {
	key, node                     string
	submitStart, cell, endCollect float64
	// taskStart is the part of submitStart until the batch script ran.
	taskStart       float64
	train, evaluate float64
}

// work is the cell's training and evaluation, what a local run also does.
func (c cell) work() float64 { return c.train + c.evaluate }

// processStart is the binary starting, after the batch script started.
func (c cell) processStart() float64 { return c.submitStart - c.taskStart }

// inCellOther is the cell process's time outside train and evaluate.
func (c cell) inCellOther() float64 { return c.cell - c.work() }

// overhead is everything a cell on Slurm costs beyond its work.
func (c cell) overhead() float64 { return c.submitStart + c.inCellOther() + c.endCollect }

// slurmPart is the overhead Slurm itself adds: scheduling and collection.
func (c cell) slurmPart() float64 { return c.taskStart + c.endCollect }

// taskStarted reads when the batch script started from its first line
// ("postergenre: cell … at <unix seconds> …").
func taskStarted(out string) time.Time {
	b, err := os.ReadFile(out)
	if err != nil {
		return time.Time{}
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	for i := range f {
		if f[i] == "at" && i+1 < len(f) {
			if sec, err := strconv.ParseFloat(f[i+1], 64); err == nil {
				return time.Unix(0, int64(sec*1e9))
			}
		}
	}
	return time.Time{}
}

// cellTimes reads the latest run's submission and cell records.
func cellTimes(workdir string) ([]cell, error) {
	rec, err := latest(workdir)
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(workdir, "runs", rec.ID)
	sub, err := executor.ReadSubmission(runDir)
	if err != nil {
		return nil, err
	}
	recs := make([]pipeline.RunRecord, len(sub.Cells))
	for i, c := range sub.Cells {
		b, err := os.ReadFile(filepath.Join(runDir, c.Name, pipeline.CellFile))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &recs[i]); err != nil {
			return nil, err
		}
	}
	var out []cell
	for i, c := range sub.Cells {
		cr := recs[i]
		a := c.Attempts[len(c.Attempts)-1]
		// A cell queued behind another on its node (the array's later
		// wave) was ready when that one finished, not when submitted.
		ready := a.Submitted
		for j, o := range sub.Cells {
			if j != i && o.Node == c.Node && recs[j].Finished.After(ready) && !recs[j].Finished.After(cr.Started) {
				ready = recs[j].Finished
			}
		}
		x := cell{key: c.Key, node: c.Node,
			submitStart: cr.Started.Sub(ready).Seconds(),
			taskStart:   taskStarted(filepath.Join(runDir, "slurm", a.Job+"_"+strconv.Itoa(c.Index)+".out")).Sub(ready).Seconds(),
			cell:        cr.Finished.Sub(cr.Started).Seconds(),
			endCollect:  a.Noticed.Sub(cr.Finished).Seconds(),
		}
		for _, s := range cr.Steps {
			switch s.Stage {
			case "train":
				x.train = s.Seconds
			case "evaluate":
				x.evaluate = s.Seconds
			}
		}
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

func printCells(title string, cells []cell) {
	fmt.Printf("| %s | node | Slurm: submit→task start s | process start s | in-cell other s | train + evaluate s | end→collected s | overhead %% (Slurm's part) |\n", title)
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, c := range cells {
		fmt.Printf("| %s | %s | %.2f | %.2f | %.2f | %.1f (%.1f + %.1f) | %.2f | %.1f%% (%.1f%%) |\n", c.key, c.node, c.taskStart, c.processStart(),
			c.inCellOther(), c.work(), c.train, c.evaluate, c.endCollect, 100*c.overhead()/c.work(), 100*c.slurmPart()/c.work())
	}
	fmt.Println()
	fmt.Println("Slurm: submit→task start: `sbatch` returned (for a cell queued behind another on its node: that cell's process finished) → the batch script started (Slurm's scheduling and launching the task). Process start: → the pipeline binary began the cell (loading TensorFlow's 680 MB of libraries, the config, the locks). In-cell other: the cell's time outside train and evaluate (planning: the upstream outputs' checks, the poster store's identity; the cell's records). end→collected: the cell's process finished → the submitter saw its task end. Overhead % = all four / (train + evaluate); in brackets Slurm's part (submit→task start + end→collected).")
	fmt.Println()
}

// project states Table 2 on 4 GPUs as arithmetic from the measured cell.
func project(c cell) {
	perEpoch := c.train // 1 epoch
	over := c.overhead()
	waves := math.Ceil(25.0 / 4)
	fmt.Println("Projection, Table 2 (25 cells) on 4 GPUs, one cell per GPU, from the cell above (its training time is this machine's CPU time: a GPU trains faster, which makes the overhead's share larger, not the arithmetic different):")
	fmt.Println()
	fmt.Println("| epochs per cell | cell s = epochs × train + evaluate | waves = ⌈25/4⌉ | wall s = waves × (cell + overhead) | overhead share |")
	fmt.Println("|---:|---:|---:|---:|---:|")
	for _, e := range []float64{1, 20, 50} {
		cs := e*perEpoch + c.evaluate
		wall := waves * (cs + over)
		fmt.Printf("| %g | %g × %.1f + %.1f = %.0f | %g | %g × (%.0f + %.1f) = %.0f (%.1f h) | %.2f%% |\n", e, e, perEpoch, c.evaluate, cs, waves, waves, cs, over, wall, wall/3600, 100*over/(cs+over))
	}
	fmt.Println()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// pipelineRun runs the binary, its output to name.out/.log, and times it.
func pipelineRun(bin, work, name string, args ...string) (time.Duration, error) {
	out, err := os.Create(filepath.Join(work, name+".out"))
	if err != nil {
		return 0, err
	}
	defer out.Close()
	log, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return 0, err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, log
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s %s: %w (see %s)", bin, strings.Join(args, " "), err, log.Name())
	}
	return time.Since(start), nil
}

// latest reads runs/latest/run.json.
func latest(workdir string) (pipeline.RunRecord, error) {
	var rec pipeline.RunRecord
	b, err := os.ReadFile(filepath.Join(workdir, "runs", "latest", "run.json"))
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(b, &rec)
}

func stepSeconds(steps []pipeline.Step) float64 {
	s := 0.0
	for _, st := range steps {
		if st.Stage == "train" || st.Stage == "evaluate" {
			s += st.Seconds
		}
	}
	return s
}
