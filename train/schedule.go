package train

import "math"

// lrAt is the learning rate for a 1-based epoch: linear warm-up, then the schedule.
func lrAt(cfg Config, epoch int) float64 {
	base := cfg.Optimizer.LearningRate
	w := cfg.WarmupEpochs
	if epoch <= w {
		return base * float64(epoch) / float64(w+1)
	}
	e := epoch - w - 1 // 0-based epoch after warm-up
	switch cfg.Schedule {
	case "cosine":
		span := max(cfg.Epochs-w, 1)
		return base * 0.5 * (1 + math.Cos(math.Pi*float64(e)/float64(span)))
	case "step":
		return base * math.Pow(cfg.StepFactor, float64(e/max(cfg.StepEvery, 1)))
	}
	return base
}
