package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	"golang.org/x/sync/errgroup"

	"github.com/postergenre/postergenre/encode"
)

// gcEvery is how many training steps pass between forced garbage
// collections: tensors hold C memory that only Go finalizers release.
const gcEvery = 25

// batchStream runs a batcher in a goroutine, two batches ahead of the
// session.
type batchStream struct {
	C      <-chan *batch
	cancel context.CancelFunc
	g      errgroup.Group
}

// batchSource produces one split's batches into out and closes it: a
// batcher (pixels from the shards) or a featureSource (cached backbone
// features).
type batchSource interface {
	run(ctx context.Context, split string, train bool, epoch, maxBatches int, out chan<- *batch) error
}

func startBatches(ctx context.Context, bt batchSource, split string, train bool, epoch, maxBatches int) *batchStream {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan *batch, 2)
	s := &batchStream{C: ch, cancel: cancel}
	s.g.Go(func() error { return bt.run(ctx, split, train, epoch, maxBatches, ch) })
	return s
}

// stop cancels the producer, drains what it sent and returns its error
// (other than the cancellation itself).
func (s *batchStream) stop() error {
	s.cancel()
	for range s.C {
	}
	if err := s.g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// wait returns the producer's error once it has closed the channel.
func (s *batchStream) wait() error {
	defer s.cancel()
	return s.g.Wait()
}

// epochResult is one pass over the training split.
type epochResult struct {
	loss, paperAcc float64
	images         int
	seconds        float64
}

// trainEpoch runs one pass over the training split while a goroutine
// prepares the next batches.
func (t *trainer) trainEpoch(ctx context.Context, epoch int, lr float64) (epochResult, error) {
	var bt batchSource = &batcher{ds: t.ds, sc: t.sc, size: t.cfg.BatchSize, augment: t.cfg.Augment, buffer: t.cfg.ShuffleBuffer, seed: t.cfg.Seed}
	if t.feats != nil {
		bt = &featureSource{fs: t.feats, size: t.cfg.BatchSize, seed: t.cfg.Seed, flip: t.cfg.Augment.Flip}
	}
	stream := startBatches(ctx, bt, encode.SplitTrain, true, epoch, t.cfg.MaxStepsPerEpoch)
	fail := func(err error) (epochResult, error) {
		if serr := stream.stop(); err == nil {
			err = serr
		}
		return epochResult{}, err
	}
	lrT, err := tf.NewTensor(float32(lr))
	if err != nil {
		return fail(err)
	}
	bar := newProgress(t.env.Progress, t.role.label, epoch, t.cfg.Epochs, t.stepsPerEpoch())
	var sumLoss, hits float64
	n, steps := 0, 0
	for b := range stream.C {
		loss, bhits, err := t.step(b, lrT)
		if err != nil {
			return fail(fmt.Errorf("train: epoch %d step %d: %w", epoch, steps+1, err))
		}
		sumLoss += loss * float64(b.n)
		hits += bhits
		n += b.n
		steps++
		if steps%gcEvery == 0 {
			runtime.GC()
		}
		bar.step(sumLoss / float64(n))
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("train: epoch %d interrupted after step %d: %w", epoch, steps, err))
		}
	}
	if err := stream.wait(); err != nil {
		return epochResult{}, fmt.Errorf("train: reading training data: %w", err)
	}
	bar.done()
	if n == 0 {
		return epochResult{}, errors.New("train: the training split is empty")
	}
	return epochResult{loss: sumLoss / float64(n), paperAcc: hits / float64(n), images: n, seconds: time.Since(bar.start).Seconds()}, nil
}

// stepsPerEpoch is the number of training steps in an epoch (-1 unknown).
func (t *trainer) stepsPerEpoch() int {
	if t.trainLen < 0 {
		return -1
	}
	total := (t.trainLen + t.cfg.BatchSize - 1) / t.cfg.BatchSize
	if m := t.cfg.MaxStepsPerEpoch; m > 0 {
		total = min(total, m)
	}
	return total
}

// step runs one training step on b and returns its loss and the rows the
// paper's accuracy counts correct. A NaN or infinite loss is an error.
func (t *trainer) step(b *batch, lr *tf.Tensor) (loss, hits float64, err error) {
	out, err := t.sess.Run(t.feeds(b, lr), []tf.Output{t.net.trainLoss, t.net.trainProb}, []*tf.Operation{t.net.trainOp})
	if err != nil {
		return 0, 0, err
	}
	loss = float64(out[0].Value().(float32))
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, fmt.Errorf("loss is %v", loss)
	}
	t.state.Step++
	return loss, paperHits(flat2(out[1].Value().([][]float32)), b.labels, len(t.ds.man.Genres)), nil
}

// feeds are a training step's inputs: b, the learning rate and, when
// configured, the class weights.
func (t *trainer) feeds(b *batch, lr *tf.Tensor) map[tf.Output]*tf.Tensor {
	feeds := map[tf.Output]*tf.Tensor{t.net.images: b.x, t.net.labels: b.y, t.net.lr: lr}
	if t.cw != nil {
		feeds[t.net.classWeights] = t.cw
	}
	return feeds
}

func flat2(v [][]float32) []float32 {
	if len(v) == 0 {
		return nil
	}
	out := make([]float32, 0, len(v)*len(v[0]))
	for _, r := range v {
		out = append(out, r...)
	}
	return out
}

// evaluate runs the inference pass over a split and returns the flat
// probabilities, labels and the mean (unweighted) loss (NaN for no rows).
// With tta_flip on cached features the probabilities are the mean of the
// posters' and their cached mirrors' and the loss the posters' alone, as
// the whole graph computes them.
func (t *trainer) evaluate(ctx context.Context, split string) (probs, labels []float32, loss float64, err error) {
	if t.feats == nil {
		return t.evaluatePass(ctx, &batcher{ds: t.ds, sc: t.sc, size: max(t.cfg.BatchSize, 64)}, split)
	}
	size := max(t.cfg.BatchSize, 64)
	if probs, labels, loss, err = t.evaluatePass(ctx, &featureSource{fs: t.feats, size: size}, split); err != nil || !t.cfg.TTAFlip {
		return probs, labels, loss, err
	}
	mp, _, _, err := t.evaluatePass(ctx, &featureSource{fs: t.feats, size: size, mirror: true}, split)
	if err != nil {
		return nil, nil, 0, err
	}
	meanMirror(probs, mp)
	return probs, labels, loss, nil
}

// evaluatePass is one inference pass over a split's batches from bt.
func (t *trainer) evaluatePass(ctx context.Context, bt batchSource, split string) (probs, labels []float32, loss float64, err error) {
	stream := startBatches(ctx, bt, split, false, 0, 0)
	var sum float64
	n := 0
	for b := range stream.C {
		out, rerr := t.sess.Run(map[tf.Output]*tf.Tensor{t.net.images: b.x, t.net.labels: b.y},
			[]tf.Output{t.net.probs, t.net.evalLoss}, nil)
		if rerr != nil {
			stream.stop()
			return nil, nil, 0, fmt.Errorf("train: evaluate %s: %w", split, rerr)
		}
		probs = append(probs, flat2(out[0].Value().([][]float32))...)
		labels = append(labels, b.labels...)
		sum += float64(out[1].Value().(float32)) * float64(b.n)
		n += b.n
	}
	if err := stream.wait(); err != nil {
		return nil, nil, 0, fmt.Errorf("train: reading %s data: %w", split, err)
	}
	if n == 0 {
		return nil, nil, math.NaN(), nil
	}
	return probs, labels, sum / float64(n), nil
}
