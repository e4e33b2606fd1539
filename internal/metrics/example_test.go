package metrics_test

import (
	"fmt"

	"github.com/postergenre/postergenre/internal/metrics"
)

// Tied scores count one half: the positive at 0.4 ties a negative.
func ExampleROCAUC() {
	y := []bool{true, true, false, false}
	s := []float64{0.8, 0.4, 0.4, 0.1}
	auc, ok := metrics.ROCAUC(y, s)
	fmt.Println(auc, ok)
	// Output: 0.875 true
}

// The paper's accuracy is Keras' categorical accuracy: the top score must be
// the first true genre, so "Action" on a Romance+Action poster is a miss.
func ExamplePaperAccuracy() {
	// Horror, Romance, Action, Documentary
	y := [][]bool{{false, true, true, false}, {true, false, false, false}}
	s := [][]float64{{0.1, 0.3, 0.5, 0.1}, {0.6, 0.2, 0.1, 0.1}}
	fmt.Println(metrics.PaperAccuracy(y, s), metrics.TopKHit(y, s, 1))
	// Output: 0.5 1
}
