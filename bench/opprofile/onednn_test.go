package main

import (
	"strings"
	"testing"
)

func TestParseVerbose(t *testing.T) {
	conv := "onednn_verbose,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core,forward_training,src_f32::blocked:acdb::f0 wei_f32::blocked:Acdb16a::f0,attr-scratchpad:user ,alg:convolution_direct,mb32_ic3oc32_ih107oh105kh3sh1dh0ph0_iw73ow71kw3sw1dw0pw0,0.75"
	old := "onednn_verbose,exec,cpu,pooling,jit:avx512_core,forward_training,src_f32::blocked:acdb:f0,,alg:pooling_max,mb32ic32_ih105oh52kh2sh2_iw71ow35kw2sw2,0.25"
	cases := []struct {
		name      string
		log       string
		calls     int
		ms        float64
		primitive primitive
	}{
		{"no markers: every exec line", conv + "\n" + conv + "\n", 2, 1.5,
			primitive{"convolution", "forward_training", "brg_conv_fwd:avx512_core", "mb32_ic3oc32_ih107oh105kh3sh1dh0ph0_iw73ow71kw3sw1dw0pw0"}},
		{"between markers only", conv + "\n" + markStart + "\n" + conv + "\nsomething else\n" + markEnd + "\n" + conv + "\n", 1, 0.75,
			primitive{"convolution", "forward_training", "brg_conv_fwd:avx512_core", "mb32_ic3oc32_ih107oh105kh3sh1dh0ph0_iw73ow71kw3sw1dw0pw0"}},
		{"2.x layout, create lines skipped", strings.Replace(old, "exec", "create:cache_miss", 1) + "\n" + old + "\n", 1, 0.25,
			primitive{"pooling", "forward_training", "jit:avx512_core", "mb32ic32_ih105oh52kh2sh2_iw71ow35kw2sw2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseVerbose(strings.NewReader(c.log))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d primitives, want 1: %v", len(got), got)
			}
			s := got[c.primitive]
			if s == nil || s.Calls != c.calls || s.Ms != c.ms {
				t.Errorf("got %+v, want %d calls %.2f ms of %+v", s, c.calls, c.ms, c.primitive)
			}
		})
	}
}
