package report

import "github.com/postergenre/postergenre/internal/metrics"

func topK(s []float64, k int) []int { return metrics.TopK(s, k) }
func argmax(s []float64) int        { return metrics.Argmax(s) }
func firstTrue(y []bool) int        { return metrics.FirstTrue(y) }
