package train

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// ErrNoGPU is returned when device "gpu" is requested and TensorFlow sees none.
var ErrNoGPU = errors.New("device gpu requested but TensorFlow sees no GPU")

// sessionConfig is the one place the training session's ConfigProto is
// built: the thread pools and, for device "cpu", hidden GPUs. Graph-level
// options (e.g. mixed precision: GraphOptions.RewriteOptions.
// AutoMixedPrecision) belong here too. It returns the thread count used.
func sessionConfig(cfg Config) (*pb.ConfigProto, int) {
	threads := cfg.Threads
	if cfg.Deterministic {
		threads = 1
	}
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	c := &pb.ConfigProto{
		IntraOpParallelismThreads: int32(threads),
		InterOpParallelismThreads: int32(threads),
	}
	if cfg.Device == "cpu" {
		c.DeviceCount = map[string]int32{"GPU": 0}
	}
	return c, threads
}

// sessionOptions is sessionConfig serialised for tf.NewSession.
func sessionOptions(cfg Config) (*tf.SessionOptions, int, error) {
	c, threads := sessionConfig(cfg)
	raw, err := proto.Marshal(c)
	if err != nil {
		return nil, 0, err
	}
	return &tf.SessionOptions{Config: raw}, threads, nil
}

// openSession starts a session on g with cfg's options and names the device
// it runs on (see pickDevice).
func openSession(g *tf.Graph, cfg Config) (sess *tf.Session, device string, threads int, err error) {
	opts, threads, err := sessionOptions(cfg)
	if err != nil {
		return nil, "", 0, err
	}
	sess, err = tf.NewSession(g, opts)
	if err != nil {
		return nil, "", 0, fmt.Errorf("train: session: %w", err)
	}
	if device, err = pickDevice(sess, cfg.Device); err != nil {
		sess.Close()
		return nil, "", 0, err
	}
	return sess, device, threads, nil
}

// pickDevice checks the requested device against what the session sees and
// names the device training runs on. TensorFlow's default placement puts
// ops on a GPU when one is visible.
func pickDevice(sess *tf.Session, want string) (string, error) {
	ds, err := sess.ListDevices()
	if err != nil {
		return "", fmt.Errorf("list devices: %w", err)
	}
	var names []string
	gpu := ""
	for _, d := range ds {
		names = append(names, d.Name)
		if strings.EqualFold(d.Type, "GPU") && gpu == "" {
			gpu = d.Name
		}
	}
	switch {
	case want == "gpu" && gpu == "":
		return "", fmt.Errorf("%w (devices: %s); install the GPU build with TF_VARIANT=gpu make deps", ErrNoGPU, strings.Join(names, ", "))
	case want != "cpu" && gpu != "":
		return "GPU " + gpu, nil
	}
	return "CPU", nil
}
