package metrics

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Interval is a two-sided confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Contains reports whether x lies in the interval (bounds included).
func (iv Interval) Contains(x float64) bool { return x >= iv.Low && x <= iv.High }

// Wilson is the Wilson score interval of k successes in n trials at the
// normal quantile z (1.959964 for 95%). NaN bounds when n is 0.
func Wilson(k, n int, z float64) Interval {
	if n == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	p := float64(k) / float64(n)
	nn := float64(n)
	den := 1 + z*z/nn
	centre := (p + z*z/(2*nn)) / den
	half := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / den
	return Interval{math.Max(0, centre-half), math.Min(1, centre+half)}
}

// Z95 is the standard normal quantile of a two-sided 95% interval.
const Z95 = 1.959963984540054

// Resamples draws b bootstrap resamples of n rows (with replacement) from a
// generator seeded with seed, and calls fn with each resample's row counts.
// The slice is reused between calls. Same seed, same resamples.
func Resamples(n, b int, seed int64, fn func(i int, w []float64)) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	w := make([]float64, n)
	for i := 0; i < b; i++ {
		clear(w)
		for j := 0; j < n; j++ {
			w[rng.IntN(n)]++
		}
		fn(i, w)
	}
}

// Percentile returns the q-quantile (0..1) of xs with linear interpolation
// between order statistics (numpy's default), ignoring NaNs. NaN when none.
func Percentile(xs []float64, q float64) float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}

// PercentileInterval is the central level (e.g. 0.95) percentile interval of
// bootstrap statistics.
func PercentileInterval(stats []float64, level float64) Interval {
	a := (1 - level) / 2
	return Interval{Percentile(stats, a), Percentile(stats, 1-a)}
}

// Bootstrap is the 95% percentile bootstrap interval of stat over n rows:
// b resamples, seeded. stat receives the resample's row counts.
func Bootstrap(n, b int, seed int64, stat func(w []float64) float64) Interval {
	stats := make([]float64, b)
	Resamples(n, b, seed, func(i int, w []float64) { stats[i] = stat(w) })
	return PercentileInterval(stats, 0.95)
}
