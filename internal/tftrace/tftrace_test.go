package tftrace_test

import (
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	ss "github.com/wamuir/graft/tensorflow/core/framework/step_stats_go_proto"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/tftrace"
)

func TestOpType(t *testing.T) {
	cases := []struct {
		name, label, want string
	}{
		{"gradients/conv/Conv2DBackpropFilter", "gradients/conv/Conv2DBackpropFilter = _MklNativeConv2DBackpropFilter(train/x, ...)", "_MklNativeConv2DBackpropFilter"},
		{"train/op/Relu", "train/op/Relu = _MklNativeFusedConv2D(a, b, c)", "_MklNativeFusedConv2D"},
		{"adam/op/ResourceApplyAdam", "", "ResourceApplyAdam"},
		{"x/Const:0", "", "Const"},
	}
	for _, c := range cases {
		n := &ss.NodeExecStats{NodeName: c.name, TimelineLabel: c.label}
		if got := tftrace.OpType(n); got != c.want {
			t.Errorf("OpType(%q, %q) = %q, want %q", c.name, c.label, got, c.want)
		}
	}
}

func TestProfileAdd(t *testing.T) {
	md := &pb.RunMetadata{StepStats: &ss.StepStats{DevStats: []*ss.DeviceStepStats{{NodeStats: []*ss.NodeExecStats{
		{NodeName: "_SOURCE", AllEndRelMicros: 5},
		{NodeName: "train/a", TimelineLabel: "train/a = Conv2D(x)", AllEndRelMicros: 10},
		{NodeName: "gradients/b", TimelineLabel: "gradients/b = Conv2D(y)", AllEndRelMicros: 30},
		{NodeName: "adam/c", TimelineLabel: "adam/c = ResourceApplyAdam(z)", AllEndRelMicros: 1},
	}}}}}
	p := tftrace.NewProfile()
	p.Add(md)
	p.Add(md)
	if p.Steps != 2 || p.DeviceMicros != 82 {
		t.Fatalf("steps %d, micros %d; want 2, 82", p.Steps, p.DeviceMicros)
	}
	top := tftrace.Top(p.ByType, 1)
	if len(top) != 1 || top[0].Name != "Conv2D" || top[0].Calls != 4 || top[0].Micros != 80 {
		t.Errorf("top type %+v, want Conv2D 4 calls 80 µs", top[0])
	}
	if s := p.ByScope["gradients"]; s == nil || s.Micros != 60 {
		t.Errorf("gradients scope %+v, want 60 µs", s)
	}
}

// TestRunTraced runs a small graph through Run: the handles it reads from
// graft's types are right when the step runs and reports its MatMul.
func TestRunTraced(t *testing.T) {
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(2, 2)))
	m := op.MatMul(s, x, op.Const(s.SubScope("w"), [][]float32{{1, 2}, {3, 4}}))
	sum := op.Sum(s, m, op.Const(s.SubScope("axes"), []int32{0, 1}))
	noop := op.NoOp(s.SubScope("after").WithControlDependencies(sum.Op))
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	in, err := tf.NewTensor([][]float32{{1, 0}, {0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[tf.Output]*tf.Tensor{x: in}
	md, err := tftrace.Run(sess, &pb.RunOptions{TraceLevel: pb.RunOptions_FULL_TRACE, OutputPartitionGraphs: true},
		feeds, []tf.Output{sum}, []*tf.Operation{noop})
	if err != nil {
		t.Fatal(err)
	}
	p := tftrace.NewProfile()
	p.Add(md)
	found := false
	for typ := range p.ByType {
		found = found || strings.Contains(typ, "MatMul")
	}
	if !found {
		t.Errorf("no MatMul among the traced op types %v", p.ByType)
	}
	if len(md.GetPartitionGraphs()) == 0 {
		t.Error("no partition graph returned")
	}
	// graft's own Run still works on the session afterwards.
	out, err := sess.Run(feeds, []tf.Output{sum}, nil)
	if err != nil || out[0].Value().(float32) != 10 {
		t.Errorf("sess.Run after a traced step: %v, %v", out, err)
	}
	// A closed session is an error, not a crash.
	sess.Close()
	if _, err := tftrace.Run(sess, &pb.RunOptions{}, feeds, []tf.Output{sum}, nil); err == nil {
		t.Error("Run on a closed session: no error")
	}
}
