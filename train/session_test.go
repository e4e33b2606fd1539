package train

import (
	"runtime"
	"testing"

	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// TestSessionThreads: the session's two thread pools as the train section
// sets them (the ConfigProto TensorFlow is handed, decoded back).
func TestSessionThreads(t *testing.T) {
	n := int32(runtime.NumCPU())
	for _, c := range []struct {
		name         string
		cfg          Config
		intra, inter int32
	}{
		{name: "defaults: all cores, both pools", cfg: Config{}, intra: n, inter: n},
		{name: "threads sets both", cfg: Config{Threads: 3}, intra: 3, inter: 3},
		{name: "inter-op pool of its own", cfg: Config{Threads: 2, InterOpThreads: 1}, intra: 2, inter: 1},
		{name: "inter-op alone", cfg: Config{InterOpThreads: 1}, intra: n, inter: 1},
		{name: "deterministic: one thread whatever is set", cfg: Config{Deterministic: true, Threads: 4, InterOpThreads: 3}, intra: 1, inter: 1},
	} {
		opts, threads, err := sessionOptions(c.cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got pb.ConfigProto
		if err := proto.Unmarshal(opts.Config, &got); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.IntraOpParallelismThreads != c.intra || got.InterOpParallelismThreads != c.inter || int32(threads) != c.intra {
			t.Errorf("%s: intra %d inter %d (returned %d), want %d %d", c.name,
				got.IntraOpParallelismThreads, got.InterOpParallelismThreads, threads, c.intra, c.inter)
		}
	}
}
