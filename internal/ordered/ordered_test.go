package ordered_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postergenre/postergenre/internal/ordered"
)

// settled waits (bounded) for the goroutine count to come back to base:
// Map's goroutines must all end; a leak fails after the bound.
func settled(t *testing.T, base int) {
	t.Helper()
	for i := 0; i < 200 && runtime.NumGoroutine() > base; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines after Map, %d before", n, base)
	}
}

func TestMapKeepsOrderAndBoundsTheWindow(t *testing.T) {
	for _, tc := range []struct{ n, workers, window int }{
		{0, 4, 8}, {1, 1, 1}, {200, 1, 1}, {200, 4, 4}, {500, 8, 40}, {50, 0, 0},
	} {
		t.Run(fmt.Sprintf("n%d_w%d_win%d", tc.n, tc.workers, tc.window), func(t *testing.T) {
			base := runtime.NumGoroutine()
			items := make([]int, tc.n)
			for i := range items {
				items[i] = i
			}
			var started, emitted, maxAhead atomic.Int64
			fn := func(i int) string {
				ahead := started.Add(1) - emitted.Load()
				for m := maxAhead.Load(); ahead > m && !maxAhead.CompareAndSwap(m, ahead); m = maxAhead.Load() {
				}
				if i%7 == 0 { // early items finish late: completion order != item order
					runtime.Gosched()
					time.Sleep(50 * time.Microsecond)
				}
				return fmt.Sprint("r", i)
			}
			var got []string
			err := ordered.Map(context.Background(), items, tc.workers, tc.window, fn, func(i int, r string) error {
				if i != len(got) || r != fmt.Sprint("r", i) {
					return fmt.Errorf("emit %d %q after %d results", i, r, len(got))
				}
				got = append(got, r)
				emitted.Add(1)
				return nil
			})
			if err != nil || len(got) != tc.n {
				t.Fatalf("Map: %v, %d of %d results", err, len(got), tc.n)
			}
			// Queued (window) + the one the coordinator holds + the one the
			// producer is about to queue.
			if bound := int64(max(max(1, tc.workers), tc.window) + 2); maxAhead.Load() > bound {
				t.Errorf("up to %d items ahead of the last emitted, window bound %d", maxAhead.Load(), bound)
			}
			settled(t, base)
		})
	}
}

func TestMapStopsAtTheFirstError(t *testing.T) {
	items := make([]int, 10_000)
	for i := range items {
		items[i] = i
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fn   func(int) int
		emit func(int, int) error
		want string
	}{
		{"emit fails", func(i int) int { return i }, func(i, _ int) error {
			if i == 5 {
				return boom
			}
			return nil
		}, "boom"},
		{"fn panics", func(i int) int {
			if i == 3 {
				panic("bad poster")
			}
			return i
		}, func(int, int) error { return nil }, "item 3: panic: bad poster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			var calls atomic.Int64
			fn := func(i int) int { calls.Add(1); return tc.fn(i) }
			err := ordered.Map(context.Background(), items, 4, 8, fn, tc.emit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Map: %v, want %q", err, tc.want)
			}
			if c := calls.Load(); c >= int64(len(items)) {
				t.Errorf("fn ran on all %d items after the error", c)
			}
			settled(t, base)
		})
	}
}

func TestMapCancelled(t *testing.T) {
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	items := make([]int, 1000)
	err := ordered.Map(ctx, items, 2, 4, func(i int) int { return i }, func(i, _ int) error {
		if i == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Map after cancel: %v, want context.Canceled", err)
	}
	settled(t, base)
}

func ExampleMap() {
	words := []string{"scrape", "clean", "encode", "train", "evaluate"}
	_ = ordered.Map(context.Background(), words, 3, 6, strings.ToUpper, func(i int, w string) error {
		fmt.Println(i, w)
		return nil
	})
	// Output:
	// 0 SCRAPE
	// 1 CLEAN
	// 2 ENCODE
	// 3 TRAIN
	// 4 EVALUATE
}
