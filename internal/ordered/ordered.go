// Package ordered runs a function over items on several goroutines, through
// go-streams' parallel Map, and hands the results back in the items' order,
// typed: no `chan any` or type assertion reaches the caller.
//
// The order is kept the way Conduit's ParallelNode keeps it
// (pkg/lifecycle/stream/parallel.go): every item gets a slot, the slots go
// to the workers and, in submission order, into a bounded queue; one
// coordinator takes the queue in order and waits for each slot to be done
// before it hands the result on. The queue's size is the window: how far the
// workers may run ahead of the oldest result not yet handed on, so memory
// stays bounded by the window, not by the input.
//
// Every goroutine (the producer, go-streams' own, the coordinator and the
// drain of go-streams' outlet) has ended when Map returns.
package ordered

import (
	"context"
	"fmt"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"
	"golang.org/x/sync/errgroup"
)

// slot is one item on its way: go-streams carries the pointer, the
// coordinator waits on done, then reads out and err.
type slot[T, R any] struct {
	idx  int
	item T
	out  R
	err  error
	done chan struct{}
}

// Map calls fn on every item on workers goroutines (at least 1) and emit
// with each result in the items' order, from one goroutine. window bounds
// the items between submission and emit (at least workers).
//
// The first error ends Map and is returned: a panic in fn (as an error
// naming the item's index), an error of emit, or ctx's end. Items not yet
// started are then never passed to fn; fn must return for the items it was
// given.
func Map[T, R any](ctx context.Context, items []T, workers, window int, fn func(T) R, emit func(i int, r R) error) error {
	workers = max(1, workers)
	window = max(workers, window)
	g, gctx := errgroup.WithContext(ctx)

	src := make(chan any) // go-streams' inlet; its elements are *slot[T, R]
	queue := make(chan *slot[T, R], window)
	mapFlow := flow.NewMap(func(s *slot[T, R]) *slot[T, R] {
		defer close(s.done)
		defer func() {
			if p := recover(); p != nil {
				s.err = fmt.Errorf("item %d: panic: %v", s.idx, p)
			}
		}()
		s.out = fn(s.item)
		return s
	}, workers)
	extension.NewChanSource(src).Via(mapFlow)

	g.Go(func() error { // producer: a slot goes to the queue, then to the workers
		defer close(queue)
		defer close(src)
		for i, it := range items {
			s := &slot[T, R]{idx: i, item: it, done: make(chan struct{})}
			select {
			case queue <- s:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case src <- s:
			case <-gctx.Done():
				s.err = gctx.Err() // never started: the coordinator must not wait for it
				close(s.done)
				return gctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error { // drain go-streams' outlet; it closes once every worker has returned
		for range mapFlow.Out() {
		}
		return nil
	})
	g.Go(func() error { // coordinator: results in submission order
		for s := range queue {
			<-s.done
			if s.err != nil {
				return s.err
			}
			if err := gctx.Err(); err != nil {
				return err
			}
			if err := emit(s.idx, s.out); err != nil {
				return err
			}
		}
		return gctx.Err()
	})
	return g.Wait()
}
