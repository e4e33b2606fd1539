package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// storeStage is a scrape that writes the shared poster store: it counts
// how many such stages run at once.
type storeStage struct {
	*fakeStage
	active, most *atomic.Int32
}

func (s storeStage) WritesPosterStore() bool { return true }

func (s storeStage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	n := s.active.Add(1)
	defer s.active.Add(-1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // long enough for an overlap to show
	return s.fakeStage.Run(ctx, env)
}

// TestDifferentConfigsConcurrently: runs of different configs go side by
// side in one working folder (no run lock in common); their scrapes, which
// write the shared poster store, take turns.
func TestDifferentConfigsConcurrently(t *testing.T) {
	h := newHarness(t)
	var active, most atomic.Int32
	h.wrap = func(f *fakeStage) stages.Stage {
		if f.name == stages.Scrape {
			return storeStage{f, &active, &most}
		}
		return f
	}
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		file := filepath.Join(filepath.Dir(h.cfgFile), fmt.Sprintf("c%d.yaml", i))
		os.WriteFile(file, []byte(fmt.Sprintf("version: 1\nname: c%d\nscrape:\n  csv: movies.csv\n  max_pixels: %d\n", i, 1000000+i)), 0o644)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, err := configs.Load(file, nil)
			if err != nil {
				errs[i] = err
				return
			}
			r, err := pipeline.NewRunner(pipeline.Options{Workdir: h.workdir, Build: h.build})
			if err == nil {
				_, err = r.Run(context.Background(), cfg)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("config c%d: %v", i, err)
		}
	}
	if most.Load() != 1 {
		t.Errorf("%d poster-store writers ran at once, want 1", most.Load())
	}
	if got := h.runs.get()[stages.Scrape]; got != n {
		t.Errorf("scrape ran %d times, want %d (one per config: different fingerprints)", got, n)
	}
}
