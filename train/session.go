package train

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/postergenre/postergenre/internal/tfsession"
	tf "github.com/wamuir/graft/tensorflow"
)

// ErrNoGPU is returned when device "gpu" is requested and TensorFlow sees none.
var ErrNoGPU = errors.New("device gpu requested but TensorFlow sees no GPU")

// sessionOptions is the one place the training session's options are
// built (internal/tfsession makes the ConfigProto): the thread pools, the
// precision (bfloat16 through oneDNN's auto mixed precision) and, for
// device "cpu", hidden GPUs. It returns the intra-op thread count used.
func sessionOptions(cfg Config) (*tf.SessionOptions, int, error) {
	threads, inter := cfg.Threads, cfg.InterOpThreads
	if cfg.Deterministic {
		threads, inter = 1, 1
	}
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	if inter == 0 {
		inter = threads
	}
	opts, err := tfsession.Settings{IntraOp: threads, InterOp: inter, CPUOnly: cfg.Device == "cpu",
		Precision: tfsession.Precision(cfg.Precision)}.Options()
	if err != nil {
		return nil, 0, err
	}
	return opts, threads, nil
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
