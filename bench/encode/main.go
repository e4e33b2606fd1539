// Command encode-bench runs the clean and encode stages on the real data
// (../shared/data) and measures encode throughput and peak memory.
//
//	go run ./bench/encode -shared ../shared -work /tmp/pg-bench -workers 1,2
//
// The poster store is made of symlinks to the shared posters (nothing is
// copied into the project); a scrape-like output marks every id with a
// poster as already_present and the others as failed http_404. Each timed
// encode runs in a child process (this binary re-executed) so that its peak
// RSS (VmHWM) is its own.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/procstat"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "encode-bench:", err)
		os.Exit(1)
	}
}

type childResult struct {
	Rows    int     `json:"rows"`
	Seconds float64 `json:"seconds"`
	VmHWMKB int64   `json:"vmhwm_kb"`
	UserCPU float64 `json:"user_cpu_seconds"`
}

func run() error {
	shared := flag.String("shared", "../shared", "the shared folder (data/MovieGenre.csv, data/posters)")
	work := flag.String("work", filepath.Join(os.TempDir(), "postergenre-bench-encode"), "working folder (created; outside the project)")
	workersFlag := flag.String("workers", "1,2", "comma-separated worker counts to time")
	child := flag.Bool("child", false, "internal: run one timed encode")
	cleanDir := flag.String("clean", "", "internal: clean output for -child")
	workers := flag.Int("w", 1, "internal: workers for -child")
	out := flag.String("out", "", "internal: output folder for -child")
	cpuprof := flag.String("cpuprofile", "", "internal: CPU profile of the -child encode")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *child {
		return runChild(*cleanDir, filepath.Join(*work, "store"), *out, *workers)
	}

	if err := os.MkdirAll(*work, 0o755); err != nil {
		return err
	}
	store, scr := filepath.Join(*work, "store"), filepath.Join(*work, "scrape")
	if err := setup(filepath.Join(*shared, "data"), store, scr); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	type variant struct {
		name          string
		paper, dedupe bool
	}
	cleanOut := map[string]string{}
	fmt.Println("## clean")
	fmt.Println()
	fmt.Println("| variant | csv rows | kept | rejected | drops by reason | seconds |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, v := range []variant{{"paper_filter+dedupe", true, true}, {"paper_filter, no dedupe (paper)", true, false}, {"no paper_filter, dedupe", false, true}} {
		cfg := cleanconfig.Default()
		cfg.PaperFilter, cfg.Dedupe = v.paper, v.dedupe
		dir := filepath.Join(*work, "clean-"+strconv.FormatBool(v.paper)+"-"+strconv.FormatBool(v.dedupe))
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		t0 := time.Now()
		res, err := (&clean.Stage{Cfg: cfg}).Run(context.Background(), stages.Env{OutDir: dir, Inputs: map[string]string{stages.Scrape: scr}, PosterStore: store, Logger: logger})
		if err != nil {
			return err
		}
		cleanOut[v.name] = dir
		fmt.Printf("| %s | %v | %v | %v | %s | %.1f |\n", v.name, res.Summary["csv_rows"], res.Summary["kept"], res.Summary["rejected"], reasons(res.Summary["rejects"].(map[string]int)), time.Since(t0).Seconds())
	}

	// The paper's subset and split, deduplicated: the metrics.md cross-check.
	fmt.Println()
	fmt.Println("## encode, paper settings (Horror, Romance, Action, Documentary; 1997–2017; split paper; 40%)")
	fmt.Println()
	fmt.Println("| clean variant | rows | train | validation | test | drops | expected (metrics.md) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, name := range []string{"paper_filter+dedupe", "paper_filter, no dedupe (paper)"} {
		dir := filepath.Join(*work, "encode-"+strings.NewReplacer(" ", "", ",", "", "(", "", ")", "", "+", "-").Replace(name))
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		res, err := (&encode.Stage{Cfg: paperConfig(0)}).Run(context.Background(), stages.Env{OutDir: dir, Inputs: map[string]string{stages.Clean: cleanOut[name]}, PosterStore: store, Logger: logger})
		if err != nil {
			return err
		}
		sp := res.Summary["splits"].(map[string]int)
		exp := "8,761: 6,307 / 1,251 / 1,203"
		if !strings.Contains(name, "+dedupe") {
			exp = "(no dedupe: not given)"
		}
		fmt.Printf("| %s | %d | %d | %d | %d | %s | %s |\n", name, res.Summary["rows"], sp["train"], sp["validation"], sp["test"], reasons(res.Summary["rejects"].(map[string]int)), exp)
		if strings.Contains(name, "+dedupe") {
			gc := res.Summary["genre_counts"].(map[string]map[string]int)
			fmt.Println()
			fmt.Println("| split | Horror | Romance | Action | Documentary |")
			fmt.Println("|---|---|---|---|---|")
			for _, s := range []string{"train", "validation", "test"} {
				fmt.Printf("| %s | %d | %d | %d | %d |\n", s, gc[s]["Horror"], gc[s]["Romance"], gc[s]["Action"], gc[s]["Documentary"])
			}
			fmt.Println()
		}
	}

	// Throughput on every poster (paper filter off, same genres/years).
	fmt.Println()
	fmt.Println("## encode throughput, all posters (no paper filter, dedupe; same genres/years), each in its own process")
	fmt.Println()
	fmt.Println("| workers | rows | wall seconds | posters/s | user CPU seconds | peak RSS (VmHWM) |")
	fmt.Println("|---|---|---|---|---|---|")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, ws := range strings.Split(*workersFlag, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil {
			return fmt.Errorf("-workers: %w", err)
		}
		dir := filepath.Join(*work, fmt.Sprintf("encode-all-w%d", w))
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		cmd := exec.Command(self, "-child", "-work", *work, "-clean", cleanOut["no paper_filter, dedupe"], "-w", strconv.Itoa(w), "-out", dir)
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("child: %w", err)
		}
		var cr childResult
		if err := json.Unmarshal(b, &cr); err != nil {
			return fmt.Errorf("child output %q: %w", b, err)
		}
		fmt.Printf("| %d | %d | %.2f | %.0f | %.1f | %.0f MB |\n", w, cr.Rows, cr.Seconds, float64(cr.Rows)/cr.Seconds, cr.UserCPU, float64(cr.VmHWMKB)/1024)
	}
	return nil
}

func paperConfig(workers int) encode.Config {
	cfg := encodeconfig.Default()
	cfg.Genres = []string{"Horror", "Romance", "Action", "Documentary"}
	cfg.YearMin, cfg.YearMax = 1997, 2017
	cfg.Split = encode.Split{Method: "paper"}
	cfg.Image.ShrinkPercent = 40
	cfg.Workers = workers
	return cfg
}

func runChild(cleanDir, store, out string, workers int) error {
	t0 := time.Now()
	res, err := (&encode.Stage{Cfg: paperConfig(workers)}).Run(context.Background(), stages.Env{OutDir: out, Inputs: map[string]string{stages.Clean: cleanDir}, PosterStore: store})
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	user := float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
	return json.NewEncoder(os.Stdout).Encode(childResult{Rows: res.Summary["rows"].(int), Seconds: secs, VmHWMKB: vmHWM(), UserCPU: user})
}

func reasons(m map[string]int) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// setup builds the symlinked store and the scrape-like output.
func setup(data, store, scr string) error {
	for _, d := range []string{store, scr} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(filepath.Join(data, "MovieGenre.csv"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(scr, scrape.CSVFile), raw, 0o644); err != nil {
		return err
	}
	posters := filepath.Join(data, "posters")
	abs, err := filepath.Abs(posters)
	if err != nil {
		return err
	}
	var ledger []scrape.LedgerRow
	err = moviegenre.ForEach(bytes.NewReader(raw), moviegenre.Options{Name: "MovieGenre.csv"}, func(r moviegenre.Row) error {
		l := scrape.LedgerRow{Line: r.Line}
		if r.Err != nil {
			l.Outcome, l.Reason = scrape.OutcomeSkipped, "malformed_row"
			ledger = append(ledger, l)
			return nil
		}
		id, _ := strconv.ParseInt(r.Fields[moviegenre.ColID], 10, 64)
		l.ImdbID = id
		name := fmt.Sprintf("%d.jpg", id)
		if _, err := os.Stat(filepath.Join(posters, name)); err == nil {
			link := filepath.Join(store, name)
			if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
				if err := os.Symlink(filepath.Join(abs, name), link); err != nil {
					return err
				}
			}
			l.Outcome, l.Source, l.Path = scrape.OutcomePresent, "store", name
		} else {
			l.Outcome, l.Reason = scrape.OutcomeFailed, "http_404"
		}
		ledger = append(ledger, l)
		return nil
	})
	if err != nil {
		return err
	}
	return parquet.WriteFile(filepath.Join(scr, scrape.LedgerFile), ledger)
}

// vmHWM is this process's peak resident set size in kB (-1 if unknown).
func vmHWM() int64 {
	n, err := procstat.PeakRSS()
	if err != nil {
		return -1
	}
	return n >> 10
}
