// Package tftrace runs a session step with tracing on and sums the step
// statistics TensorFlow returns, per op type and per node: where a
// training step's time goes, in the ops the runtime actually executed
// (after grappler's and oneDNN's rewrites, so a fused convolution shows as
// one _MklNative… op, not as Conv2D, BiasAdd and Relu).
//
// graft's Session.Run passes no RunOptions and asks for no RunMetadata, so
// Run calls TF_SessionRun itself on the C handles behind graft's types
// (handles.go). It serves benchmarks, never the pipeline.
package tftrace

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	ss "github.com/wamuir/graft/tensorflow/core/framework/step_stats_go_proto"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
)

// Stat is the time a group of node executions took.
type Stat struct {
	Name   string
	Calls  int
	Micros int64 // sum of each execution's start-to-end time
}

// Profile sums the step statistics of several traced steps.
type Profile struct {
	Steps int
	// ByType is per op type as executed ("_MklNativeConv2DBackpropFilter"),
	// ByNode per node name, ByScope per first name component of the node
	// ("train" forward pass, "gradients" backward, "adam" update).
	ByType, ByNode, ByScope map[string]*Stat
	// NodeType maps a node name to its op type.
	NodeType map[string]string
	// DeviceMicros is the summed time of every node execution; with
	// several threads it can exceed the steps' wall time.
	DeviceMicros int64
}

// NewProfile is an empty profile.
func NewProfile() *Profile {
	return &Profile{ByType: map[string]*Stat{}, ByNode: map[string]*Stat{}, ByScope: map[string]*Stat{}, NodeType: map[string]string{}}
}

// labelRE reads the op type from a timeline label, "name = Type(inputs)".
var labelRE = regexp.MustCompile(`^[^=]*= ([A-Za-z0-9_]+)\(`)

// OpType is the op type of a node execution: from its timeline label, or
// the node name's last component when the label has none.
func OpType(n *ss.NodeExecStats) string {
	if m := labelRE.FindStringSubmatch(n.GetTimelineLabel()); m != nil {
		return m[1]
	}
	name := n.GetNodeName()
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.Index(name, ":"); i >= 0 {
		name = name[:i]
	}
	return name
}

// Add sums one step's metadata into p. Nodes without timing (the
// executor's _SOURCE, _SINK) add nothing.
func (p *Profile) Add(md *pb.RunMetadata) {
	p.Steps++
	for _, dev := range md.GetStepStats().GetDevStats() {
		for _, n := range dev.GetNodeStats() {
			name := n.GetNodeName()
			if name == "_SOURCE" || name == "_SINK" {
				continue
			}
			us := n.GetAllEndRelMicros()
			typ := OpType(n)
			p.NodeType[name] = typ
			scope, _, _ := strings.Cut(name, "/")
			for _, m := range []struct {
				tab map[string]*Stat
				key string
			}{{p.ByType, typ}, {p.ByNode, name}, {p.ByScope, scope}} {
				s := m.tab[m.key]
				if s == nil {
					s = &Stat{Name: m.key}
					m.tab[m.key] = s
				}
				s.Calls++
				s.Micros += us
			}
			p.DeviceMicros += us
		}
	}
}

// Top returns the stats of tab, largest time first (ties by name), at most
// n of them (n <= 0: all).
func Top(tab map[string]*Stat, n int) []*Stat {
	out := make([]*Stat, 0, len(tab))
	for _, s := range tab {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Micros != out[j].Micros {
			return out[i].Micros > out[j].Micros
		}
		return out[i].Name < out[j].Name
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// String is a one-line summary.
func (p *Profile) String() string {
	return fmt.Sprintf("%d steps, %d node executions' time %.1f ms", p.Steps, len(p.ByNode), float64(p.DeviceMicros)/1e3)
}
