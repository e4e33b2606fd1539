package main

// trainFLOPs is the analytic FLOP count of one training step per image of
// the paper's network family: 3×3 'valid' convolutions each followed by a
// 2×2 max-pool, then dense layers, then the genre layer. Only the
// multiply-adds of convolutions and matrix products count (2 FLOP each);
// bias, ReLU, pooling, dropout, the loss and Adam are a few percent at most.
// Backward costs twice the forward pass (gradient of the input and of the
// weights) except that the first convolution needs no input gradient.
func trainFLOPs(h, w int, convs, dense []int, genres int) float64 {
	var fwd, firstConv float64
	c := 3
	for i, f := range convs {
		h, w = h-2, w-2
		l := 2 * float64(h*w) * float64(9*c*f)
		if i == 0 {
			firstConv = l
		}
		fwd += l
		h, w, c = h/2, w/2, f
	}
	in := h * w * c
	for _, d := range append(append([]int(nil), dense...), genres) {
		fwd += 2 * float64(in*d)
		in = d
	}
	return 3*fwd - firstConv
}
