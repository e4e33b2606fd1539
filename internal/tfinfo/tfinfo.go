// Package tfinfo reports what the loaded TensorFlow library is and which
// devices it sees. Linking this package links libtensorflow.
package tfinfo

import (
	"fmt"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
)

// Version is the version string the loaded C library reports, e.g. "2.18.0".
func Version() string { return tf.Version() }

// Device is one device TensorFlow can place ops on.
type Device struct {
	Name        string // e.g. /job:localhost/replica:0/task:0/device:CPU:0
	Type        string // CPU, GPU
	MemoryBytes int64
}

// Devices lists the devices a fresh session sees.
func Devices() ([]Device, error) {
	g := tf.NewGraph()
	s, err := tf.NewSession(g, nil)
	if err != nil {
		return nil, fmt.Errorf("tensorflow session: %w", err)
	}
	defer s.Close()
	ds, err := s.ListDevices()
	if err != nil {
		return nil, fmt.Errorf("tensorflow devices: %w", err)
	}
	out := make([]Device, 0, len(ds))
	for _, d := range ds {
		out = append(out, Device{Name: d.Name, Type: strings.ToUpper(d.Type), MemoryBytes: d.MemoryLimitBytes})
	}
	return out, nil
}

// HasGPU reports whether any GPU device is visible.
func HasGPU(ds []Device) bool {
	for _, d := range ds {
		if d.Type == "GPU" {
			return true
		}
	}
	return false
}
