// Package tfsession is the one place that turns the project's session
// settings (thread pools, device, numeric precision) into the
// tf.SessionOptions a TensorFlow session is created with.
//
// Precision bfloat16 does not rewrite the graph by hand: it switches on
// grappler's auto_mixed_precision_onednn_bfloat16 pass in the session's
// ConfigProto (TensorFlow 2.18, core/grappler/optimizers/auto_mixed_precision.cc).
// When the session first runs a subgraph, that pass paints the ops on
// oneDNN's bfloat16 allow list (Conv2D and its backprops, MatMul, BiasAdd,
// ...) bfloat16 and inserts the casts; variables, their Adam updates and the
// loss stay float32 because ops on the deny list and resource variables are
// left alone. It needs a oneDNN build (the default on x86 Linux; it is
// skipped when TF_ENABLE_ONEDNN_OPTS=0) and only pays on a CPU with native
// bfloat16 (AVX512_BF16 or AMX): elsewhere TensorFlow still rewrites the
// graph and emulates the type, slower than float32 (the paper network on
// a Xeon with AVX-512 but no BF16: 544 against 885 images/s).
package tfsession

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// Precision is the numeric type the heavy ops of a graph compute in.
type Precision string

const (
	// Float32 runs the graph as built (the default).
	Float32 Precision = "float32"
	// BFloat16 lets grappler run the oneDNN-eligible ops in bfloat16.
	BFloat16 Precision = "bfloat16"
)

// ParsePrecision accepts "", "float32" and "bfloat16" ("" is float32).
func ParsePrecision(s string) (Precision, error) {
	switch Precision(s) {
	case "", Float32:
		return Float32, nil
	case BFloat16:
		return BFloat16, nil
	}
	return "", fmt.Errorf(`precision must be "float32" or "bfloat16", got %q`, s)
}

// Settings are what a session is created with.
type Settings struct {
	// IntraOp and InterOp are the sizes of TensorFlow's thread pools; 0
	// means runtime.NumCPU(). The first session of a process fixes them.
	IntraOp, InterOp int
	// CPUOnly hides GPUs from the session.
	CPUOnly bool
	// Precision: "" or Float32 leaves the graph alone; BFloat16 turns on the
	// oneDNN bfloat16 auto-mixed-precision rewrite.
	Precision Precision
}

// Config is the ConfigProto for s.
func (s Settings) Config() (*pb.ConfigProto, error) {
	p, err := ParsePrecision(string(s.Precision))
	if err != nil {
		return nil, err
	}
	c := &pb.ConfigProto{
		IntraOpParallelismThreads: int32(threadsOr(s.IntraOp)),
		InterOpParallelismThreads: int32(threadsOr(s.InterOp)),
	}
	if s.CPUOnly {
		c.DeviceCount = map[string]int32{"GPU": 0}
	}
	if p == BFloat16 {
		c.GraphOptions = &pb.GraphOptions{RewriteOptions: &pb.RewriterConfig{
			AutoMixedPrecisionOnednnBfloat16: pb.RewriterConfig_ON,
		}}
	}
	return c, nil
}

// Options is the serialized Config as tf.SessionOptions.
func (s Settings) Options() (*tf.SessionOptions, error) {
	c, err := s.Config()
	if err != nil {
		return nil, err
	}
	if c.GraphOptions != nil {
		keepProbabilitiesFloat32()
	}
	raw, err := proto.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	return &tf.SessionOptions{Config: raw}, nil
}

// Float32Outputs are the ops the bfloat16 rewrite must leave in float32:
// oneDNN's lists paint Softmax and Sigmoid bfloat16 when their input is, and
// the ops after them follow (tta_flip's average): every probability a model
// returned had 8 significant bits (0.48828125 instead of 0.4899816), which
// ties scores in the ranking metrics (AUC, AP).
// TensorFlow reads its list overrides from the environment when it
// rewrites a graph; a value the user exported is kept.
var Float32Outputs = "Softmax,Sigmoid"

var float32Once sync.Once

func keepProbabilitiesFloat32() {
	float32Once.Do(func() {
		for _, k := range []string{"TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_INFERLIST_REMOVE", "TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_DENYLIST_ADD"} {
			if _, set := os.LookupEnv(k); !set {
				os.Setenv(k, Float32Outputs)
			}
		}
	})
}

// NativeBFloat16 reports whether the CPU has native bfloat16 (AVX512_BF16 or
// AMX_BF16, from /proc/cpuinfo): the condition under which bfloat16 is
// faster than float32 (without it the rewrite runs and is emulated).
func NativeBFloat16() bool {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	s := string(raw)
	return strings.Contains(s, " avx512_bf16") || strings.Contains(s, " amx_bf16")
}

func threadsOr(n int) int {
	if n <= 0 {
		return runtime.NumCPU()
	}
	return n
}
