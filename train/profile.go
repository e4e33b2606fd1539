package train

import (
	"context"
	"errors"
	"fmt"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/tftrace"
	"github.com/postergenre/postergenre/stages"
)

// StepProfile is what ProfileSteps measured: the wall time of untraced
// training steps and the RunMetadata of traced ones.
type StepProfile struct {
	// Plain are the wall times of the untraced steps after the warm-up.
	Plain []time.Duration
	// Traced are the traced steps' wall times and metadata (tracing adds
	// its own cost: compare with Plain).
	Traced   []time.Duration
	Metadata []*pb.RunMetadata
}

// ProfileOptions say which steps ProfileSteps runs: Warmup steps first
// (grappler's rewrites and oneDNN's primitives are made on the first
// ones), then Plain untraced steps, then Traced steps run with RunOptions.
type ProfileOptions struct {
	Warmup, Plain, Traced int
	RunOptions            *pb.RunOptions
	// Mark, when set, is called just before the first plain step
	// (start=true) and just after the last one: bench/opprofile brackets
	// oneDNN's verbose log with it.
	Mark func(start bool)
}

// ProfileSteps sets up a training run of cfg on env's encode output as Run
// does (the same graph, session options and batches) and runs the steps o
// asks for; it writes no model. It serves bench/opprofile: where a
// training step's time goes.
func ProfileSteps(ctx context.Context, cfg Config, env stages.Env, o ProfileOptions) (*StepProfile, error) {
	if cfg.HasBackbone() {
		return nil, errors.New("train: ProfileSteps profiles the conv stack, not a backbone")
	}
	t, err := newTrainer(ctx, cfg, env)
	if err != nil {
		return nil, err
	}
	defer t.close()
	bt := &batcher{ds: t.ds, sc: t.sc, size: cfg.BatchSize, augment: cfg.Augment, buffer: cfg.ShuffleBuffer, seed: cfg.Seed}
	lr, err := tf.NewTensor(float32(cfg.Optimizer.LearningRate))
	if err != nil {
		return nil, err
	}
	p := &StepProfile{}
	warmup, plain, traced := o.Warmup, o.Plain, o.Traced
	mark := func(start bool) {
		if o.Mark != nil && plain > 0 {
			o.Mark(start)
		}
	}
	total := warmup + plain + traced
	for epoch := 1; total > 0; epoch++ {
		stream := startBatches(ctx, bt, encode.SplitTrain, true, epoch, 0)
		got := 0
		for b := range stream.C {
			got++
			if total == traced+plain {
				mark(true)
			}
			start := time.Now()
			switch {
			case total > traced:
				if _, _, err = t.step(b, lr); err == nil && total <= traced+plain {
					p.Plain = append(p.Plain, time.Since(start))
				}
				if total == traced+1 {
					mark(false)
				}
			default:
				var md *pb.RunMetadata
				md, err = tftrace.Run(t.sess, o.RunOptions, t.feeds(b, lr), []tf.Output{t.net.trainLoss, t.net.trainProb}, []*tf.Operation{t.net.trainOp})
				if err == nil {
					p.Traced = append(p.Traced, time.Since(start))
					p.Metadata = append(p.Metadata, md)
				}
			}
			if err != nil {
				stream.stop()
				return nil, fmt.Errorf("train: profile step: %w", err)
			}
			if total--; total == 0 {
				break
			}
		}
		if err := stream.stop(); err != nil {
			return nil, err
		}
		if got == 0 {
			return nil, errors.New("train: the training split is empty")
		}
	}
	return p, nil
}
