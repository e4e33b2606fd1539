package tfsession_test

import (
	"os"
	"runtime"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"github.com/wamuir/graft/tensorflow/op"
	"google.golang.org/protobuf/proto"

	"github.com/postergenre/postergenre/internal/tfsession"
	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
)

// TestOptionsConfigProto decodes the bytes a session is created with and
// checks each field the settings control.
func TestOptionsConfigProto(t *testing.T) {
	cases := []struct {
		name      string
		in        tfsession.Settings
		intra     int32
		inter     int32
		noGPU     bool
		bfloat16  bool
		wantError string
	}{
		{name: "defaults", in: tfsession.Settings{}, intra: int32(runtime.NumCPU()), inter: int32(runtime.NumCPU())},
		{name: "threads", in: tfsession.Settings{IntraOp: 3, InterOp: 1}, intra: 3, inter: 1},
		{name: "cpu only", in: tfsession.Settings{IntraOp: 2, InterOp: 2, CPUOnly: true}, intra: 2, inter: 2, noGPU: true},
		{name: "float32 spelled out", in: tfsession.Settings{IntraOp: 1, InterOp: 1, Precision: tfsession.Float32}, intra: 1, inter: 1},
		{name: "bfloat16", in: tfsession.Settings{IntraOp: 2, InterOp: 2, Precision: tfsession.BFloat16}, intra: 2, inter: 2, bfloat16: true},
		{name: "unknown precision", in: tfsession.Settings{Precision: "float16"}, wantError: `"float16"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, err := c.in.Options()
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("error %v, want one naming %s", err, c.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got pb.ConfigProto
			if err := proto.Unmarshal(opts.Config, &got); err != nil {
				t.Fatalf("decode ConfigProto: %v", err)
			}
			if got.IntraOpParallelismThreads != c.intra || got.InterOpParallelismThreads != c.inter {
				t.Errorf("threads intra %d inter %d, want %d %d", got.IntraOpParallelismThreads, got.InterOpParallelismThreads, c.intra, c.inter)
			}
			if gpus, ok := got.DeviceCount["GPU"]; ok != c.noGPU || gpus != 0 {
				t.Errorf("device_count %v, want GPU hidden: %v", got.DeviceCount, c.noGPU)
			}
			want := pb.RewriterConfig_DEFAULT
			if c.bfloat16 {
				want = pb.RewriterConfig_ON
			}
			if v := got.GetGraphOptions().GetRewriteOptions().GetAutoMixedPrecisionOnednnBfloat16(); v != want {
				t.Errorf("auto_mixed_precision_onednn_bfloat16 = %v, want %v", v, want)
			}
			// The other mixed-precision passes (CUDA float16, the old MKL
			// name, the CPU float16 emulation) stay off.
			ro := got.GetGraphOptions().GetRewriteOptions()
			if ro.GetAutoMixedPrecision() != pb.RewriterConfig_DEFAULT || ro.GetAutoMixedPrecisionMkl() != pb.RewriterConfig_DEFAULT ||
				ro.GetAutoMixedPrecisionCpu() != pb.RewriterConfig_DEFAULT {
				t.Errorf("other mixed-precision toggles set: %v", ro)
			}
		})
	}
}

func TestParsePrecision(t *testing.T) {
	for in, want := range map[string]tfsession.Precision{"": tfsession.Float32, "float32": tfsession.Float32, "bfloat16": tfsession.BFloat16} {
		if got, err := tfsession.ParsePrecision(in); err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"bf16", "float16", "Float32"} {
		if _, err := tfsession.ParsePrecision(in); err == nil {
			t.Errorf("ParsePrecision(%q) accepted", in)
		}
	}
}

// TestBFloat16RewriteRuns checks in real TensorFlow that the bfloat16
// session rewrites a float32 MatMul: an operand of 1+2⁻¹⁰ is exact in
// float32 but rounds to 1 in bfloat16 (7 mantissa bits), so the product
// tells which precision ran. The rewrite runs on any oneDNN CPU (emulated
// where the CPU has no native bfloat16), so the test runs everywhere.
func TestBFloat16RewriteRuns(t *testing.T) {
	if os.Getenv("TF_ENABLE_ONEDNN_OPTS") == "0" {
		t.Skip("TF_ENABLE_ONEDNN_OPTS=0 turns oneDNN and its bfloat16 rewrite off")
	}
	const k = 16
	cases := []struct {
		precision tfsession.Precision
		want      float32
	}{
		{tfsession.Float32, k * (1 + 1.0/1024)},
		{tfsession.BFloat16, k},
	}
	for _, c := range cases {
		t.Run(string(c.precision), func(t *testing.T) {
			s := op.NewScope()
			// Placeholders, so that constant folding cannot compute the
			// product in float32 before the rewrite sees the MatMul.
			a := op.Placeholder(s.SubScope("a"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, k)))
			b := op.Placeholder(s.SubScope("b"), tf.Float, op.PlaceholderShape(tf.MakeShape(k, 1)))
			// Grappler leaves graphs of fewer than 4 nodes alone
			// (RewriterConfig.min_graph_nodes), hence the Sum.
			m := op.Sum(s, op.MatMul(s, a, b), op.Const(s.SubScope("axes"), []int32{0, 1}))
			opts, err := tfsession.Settings{IntraOp: 1, InterOp: 1, CPUOnly: true, Precision: c.precision}.Options()
			if err != nil {
				t.Fatal(err)
			}
			sess := tfsessiontest.Open(t, s, opts)
			av, bv := make([]float32, k), make([]float32, k)
			for i := range av {
				av[i], bv[i] = 1+1.0/1024, 1
			}
			ta, _ := tf.NewTensor([][]float32{av})
			col := make([][]float32, k)
			for i := range col {
				col[i] = []float32{bv[i]}
			}
			tb, _ := tf.NewTensor(col)
			out, err := sess.Run(map[tf.Output]*tf.Tensor{a: ta, b: tb}, []tf.Output{m}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := out[0].Value().(float32); got != c.want {
				t.Errorf("product %v, want %v", got, c.want)
			}
		})
	}
}
