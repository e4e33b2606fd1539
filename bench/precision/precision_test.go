package main

import (
	"math"
	"testing"
)

// The paper's network at 73×107 is about 140 MFLOP per training image
// (/work/shared/notes/tensorflow-go.md counts 51 forward); the layer sums are
// written out here so that a change of the formula shows.
func TestTrainFLOPs(t *testing.T) {
	// conv1 105·71·32·27, conv2 50·33·32·288, conv3 23·14·32·288,
	// conv4 9·5·64·288 multiply-adds; dense 512·64 + 64·32 + 32·4.
	conv1 := 2.0 * 105 * 71 * 32 * 27
	fwd := conv1 + 2.0*(50*33*32*288+23*14*32*288+9*5*64*288) + 2.0*(512*64+64*32+32*4)
	cases := []struct {
		name  string
		h, w  int
		convs []int
		dense []int
		want  float64
	}{
		{"paper 73×107", 107, 73, []int{32, 32, 32, 64}, []int{64, 32}, 3*fwd - conv1},
		{"one conv, no dense", 5, 5, []int{1}, nil, 3*(2*9*3*9+2*1*4) - 2*9*3*9},
	}
	for _, c := range cases {
		if got := trainFLOPs(c.h, c.w, c.convs, c.dense, 4); math.Abs(got-c.want) > 1e-6*c.want {
			t.Errorf("%s: %.0f FLOP, want %.0f", c.name, got, c.want)
		}
	}
	if got := trainFLOPs(107, 73, []int{32, 32, 32, 64}, []int{64, 32}, 4); got < 139e6 || got > 141e6 {
		t.Errorf("paper network %.1f MFLOP per image, notes say about 140", got/1e6)
	}
}

func TestConverted(t *testing.T) {
	log := `I0000 auto_mixed_precision.cc:2260] Converted 31/77 nodes to bfloat16 precision using 2 cast(s) to bfloat16 (excluding Const and Variable casts)
I0000 auto_mixed_precision.cc:2260] Converted 79/245 nodes to bfloat16 precision using 5 cast(s) to bfloat16 (excluding Const and Variable casts)
`
	want := "79/245 nodes converted with 5 casts; 31/77 nodes converted with 2 casts"
	if got := converted(log); got != want {
		t.Errorf("converted = %q, want %q", got, want)
	}
	if got := converted("nothing here"); got != "" {
		t.Errorf("converted(no report) = %q", got)
	}
}
