// Command serve-bench measures `pipeline serve` on loopback: requests/s and
// p50/p99 latency for single posters, at several numbers of concurrent
// clients, each row a Markdown table row for bench/results.md.
//
//	go run ./bench/serve -model work/demo/runs/latest/model -posters ../shared/data/posters
//
// The server is the real one (app/serve over a real TCP listener on
// 127.0.0.1, the model loaded once); each client POSTs raw JPEG bodies in a
// loop over the same keep-alive connection pool, as a busy front end
// would. Posters are read from -posters (the first -n .jpg files, sorted),
// or generated (the demo's synthetic posters) when it is empty. With
// -explain top (or a genre) every request also asks for its Grad-CAM
// heatmap (?explain=), to compare latency with and without.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/jpeg"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postergenre/postergenre/app/demodata"
	"github.com/postergenre/postergenre/app/serve"
	"github.com/postergenre/postergenre/train"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "serve-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	modelDir := flag.String("model", "", "model folder (e.g. work/demo/runs/latest/model)")
	postersDir := flag.String("posters", "", "folder of .jpg posters to send (default: generated)")
	n := flag.Int("n", 200, "distinct posters to cycle through")
	clientsFlag := flag.String("clients", "1,2,4,8", "comma-separated numbers of concurrent clients")
	perRow := flag.Duration("duration", 10*time.Second, "how long each row sends requests")
	concurrency := flag.Int("concurrency", 0, "server prediction slots (0 = GOMAXPROCS, the serve default)")
	explain := flag.String("explain", "", "ask for a heatmap with every request (?explain=VALUE: top or a genre)")
	flag.Parse()
	if *modelDir == "" {
		return fmt.Errorf("-model is required")
	}
	var clients []int
	for _, f := range strings.Split(*clientsFlag, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("-clients: bad entry %q", f)
		}
		clients = append(clients, c)
	}

	posters, source, err := loadPosters(*postersDir, *n)
	if err != nil {
		return err
	}
	model, err := train.LoadModel(*modelDir)
	if err != nil {
		return err
	}
	defer model.Close()
	srv, err := serve.New(model, *modelDir, serve.Options{Concurrency: *concurrency, QueueWait: 30 * time.Second}, nil)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		return err
	}
	url := "http://" + addr.String() + "/api/predict"
	if *explain != "" {
		url += "?explain=" + *explain
	}

	meta := model.Meta()
	slots := *concurrency
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	fmt.Printf("Model %s (%s, %d genres, input %d×%d); %d posters (%s); server slots %d; %s per row; GOMAXPROCS %d.\n",
		srv.Card().ID, srv.Card().Config, len(meta.Genres), meta.Width, meta.Height, len(posters), source, slots, *perRow, runtime.GOMAXPROCS(0))
	fmt.Println("Latency is the client's: POST of the JPEG body to JSON answer (decode, resize, TensorFlow, encode), over loopback TCP.")
	if *explain != "" {
		fmt.Printf("Every request asks for a heatmap (?explain=%s).\n", *explain)
	}
	fmt.Println()
	fmt.Println("| clients | requests | seconds | requests/s | p50 ms | p99 ms | max ms | non-200 |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")

	// Warm-up: connections, the Go runtime, TensorFlow's thread pools.
	if _, err := load(url, posters, 2, 2*time.Second); err != nil {
		return err
	}
	for _, c := range clients {
		r, err := load(url, posters, c, *perRow)
		if err != nil {
			return err
		}
		slices.Sort(r.lat)
		q := func(p float64) float64 {
			return float64(r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))].Microseconds()) / 1000
		}
		fmt.Printf("| %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %d |\n",
			c, len(r.lat), r.secs, float64(len(r.lat))/r.secs, q(0.50), q(0.99), q(1), r.bad)
	}
	stop()
	return <-done
}

type result struct {
	lat  []time.Duration
	secs float64
	bad  int
}

// load runs c clients for d, each sending the posters in turn.
func load(url string, posters [][]byte, c int, d time.Duration) (result, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var (
		mu   sync.Mutex
		res  result
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for i := range c {
		wg.Go(func() {
			var lat []time.Duration
			bad := 0
			for j := i; time.Now().Before(deadline); j += c {
				t := time.Now()
				resp, err := client.Post(url, "image/jpeg", bytes.NewReader(posters[j%len(posters)]))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t))
				if resp.StatusCode != http.StatusOK {
					bad++
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.bad += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	res.secs = time.Since(start).Seconds()
	if len(errs) > 0 {
		return res, errs[0]
	}
	if len(res.lat) == 0 {
		return res, fmt.Errorf("no request completed in %v", d)
	}
	return res, nil
}

func loadPosters(dir string, n int) ([][]byte, string, error) {
	var out [][]byte
	if dir == "" {
		rng := rand.New(rand.NewSource(1))
		for i := range n {
			var b bytes.Buffer
			if err := jpeg.Encode(&b, demodata.Draw(i%len(demodata.Genres), rng), &jpeg.Options{Quality: 90}); err != nil {
				return nil, "", err
			}
			out = append(out, b.Bytes())
		}
		return out, "generated 182×268 demo posters", nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil {
		return nil, "", err
	}
	slices.Sort(files)
	for _, f := range files {
		if len(out) == n {
			break
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("no .jpg posters in %s", dir)
	}
	return out, "from " + dir, nil
}
