// Package scripts holds the project's shell scripts; its tests run them.
package scripts

import (
	"archive/zip"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeWheel writes a wheel pip accepts (name, version and tags in the file
// name, a dist-info with METADATA, WHEEL and RECORD) holding files, each a
// few bytes, and returns its sha256.
func fakeWheel(t *testing.T, dir, name, version, tags string, files []string) string {
	t.Helper()
	norm := strings.ReplaceAll(name, "-", "_")
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.whl", norm, version, tags))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	info := norm + "-" + version + ".dist-info/"
	contents := map[string]string{
		info + "METADATA": fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version),
		info + "WHEEL":    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: " + tags + "\n",
		info + "RECORD":   "",
	}
	for _, n := range files {
		contents[n] = "fake " + n
	}
	for n, c := range contents {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(c))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

type wheel struct {
	name, version, tags string
	files               []string
}

var gpuWheels = []wheel{
	{"tensorflow", "2.18.0", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", []string{
		"tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2",
		"tensorflow/include/tensorflow/c/c_api.h", "tensorflow/python/unused.py"}},
	{"nvidia-cublas-cu12", "12.5.3.2", "py3-none-manylinux2014_x86_64", []string{
		"nvidia/cublas/lib/libcublas.so.12", "nvidia/cublas/lib/libcublasLt.so.12", "nvidia/cublas/include/cublas.h"}},
	{"nvidia-cuda-nvrtc-cu12", "12.5.82", "py3-none-manylinux2014_x86_64", []string{
		"nvidia/cuda_nvrtc/lib/libnvrtc.so.12"}},
	{"nvidia-cudnn-cu12", "9.3.0.75", "py3-none-manylinux2014_x86_64", []string{
		"nvidia/cudnn/lib/libcudnn.so.9", "nvidia/cudnn/lib/libcudnn_graph.so.9"}},
}

// TestTFDepsGPU runs scripts/tf-deps.sh on fake wheels served from a folder
// (pip --no-index --find-links): the real pip download with hash checks,
// the real unpacking, into a temporary .deps.
func TestTFDepsGPU(t *testing.T) {
	if _, err := exec.LookPath("unzip"); err != nil {
		t.Skip("unzip not installed")
	}
	wheels := t.TempDir()
	var lock strings.Builder
	for _, w := range gpuWheels {
		sum := fakeWheel(t, wheels, w.name, w.version, w.tags, w.files)
		fmt.Fprintf(&lock, "%s==%s --hash=sha256:%s\n", w.name, w.version, sum)
	}
	good := filepath.Join(t.TempDir(), "good.lock")
	os.WriteFile(good, []byte(lock.String()), 0o644)
	// The same lock with one hash changed: pip must refuse it.
	bad := filepath.Join(t.TempDir(), "bad.lock")
	lines := strings.Split(lock.String(), "\n")
	lines[2] = lines[2][:len(lines[2])-4] + "0000"
	os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644)

	run := func(deps, lockFile string) (string, error) {
		cmd := exec.Command("bash", "tf-deps.sh")
		cmd.Env = append(os.Environ(), "TF_VARIANT=gpu", "TF_DEPS_DIR="+deps, "TF_WHEELS="+wheels, "TF_LOCK="+lockFile)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("wrong hash fails and installs nothing", func(t *testing.T) {
		deps := t.TempDir()
		out, err := run(deps, bad)
		if err == nil {
			t.Fatalf("a wrong hash passed:\n%s", out)
		}
		t.Logf("pip on a wrong hash:\n%s", out)
		if !strings.Contains(out, "HASHES") {
			t.Errorf("no hash complaint from pip:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(deps, "tf-gpu")); err == nil {
			t.Error("tf-gpu exists after a failed install")
		}
	})

	t.Run("layout", func(t *testing.T) {
		deps := t.TempDir()
		if out, err := run(deps, good); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, p := range []string{
			"tf-gpu/tensorflow/libtensorflow_cc.so.2",
			"tf-gpu/tensorflow/libtensorflow_framework.so.2",
			"tf-gpu/tensorflow/include/tensorflow/c/c_api.h",
			"tf-gpu/nvidia/cublas/lib/libcublasLt.so.12",
			"tf-gpu/nvidia/cudnn/lib/libcudnn_graph.so.9",
			"tf-gpu/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
			// cuDNN's RUNPATH ($ORIGIN/../../nvrtc/lib) and its dlopen name.
			"tf-gpu/nvidia/cudnn/lib/../../nvrtc/lib/libnvrtc.so",
			// What libtensorflow's RUNPATH $ORIGIN/../nvidia/cublas/lib resolves to.
			"tf/tensorflow/../nvidia/cublas/lib/libcublas.so.12",
			"lib/libtensorflow.so",
		} {
			if _, err := os.Stat(filepath.Join(deps, p)); err != nil {
				t.Errorf("missing %s: %v", p, err)
			}
		}
		for _, p := range []string{"tf-gpu/tensorflow/python", "tf-gpu/nvidia/cublas/include"} {
			if _, err := os.Stat(filepath.Join(deps, p)); err == nil {
				t.Errorf("%s unpacked; only libraries and TensorFlow's headers belong", p)
			}
		}
		if l, _ := os.Readlink(filepath.Join(deps, "tf")); l != "tf-gpu" {
			t.Errorf(".deps/tf -> %q, want tf-gpu", l)
		}
		// A second run, and one with TF_VARIANT unset (as `make build`
		// runs it), keep the GPU build without downloading.
		out, err := run(deps, good)
		if err != nil || !strings.Contains(out, "up to date") {
			t.Errorf("second run: %v\n%s", err, out)
		}
		cmd := exec.Command("bash", "tf-deps.sh")
		cmd.Env = append(os.Environ(), "TF_VARIANT=", "TF_DEPS_DIR="+deps, "TF_WHEELS="+wheels, "TF_LOCK="+good)
		if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "(gpu) up to date") {
			t.Errorf("run without TF_VARIANT: %v\n%s", err, b)
		}
	})
}

// TestLocks checks the committed lock files: one pinned, hashed line per
// wheel, and the GPU lock holds exactly the libraries TensorFlow loads.
func TestLocks(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"tf-cpu.lock", []string{"tensorflow-cpu"}},
		{"tf-gpu.lock", []string{"tensorflow", "nvidia-cublas-cu12", "nvidia-cuda-nvrtc-cu12", "nvidia-cuda-runtime-cu12",
			"nvidia-cudnn-cu12", "nvidia-cufft-cu12", "nvidia-cusolver-cu12", "nvidia-cusparse-cu12", "nvidia-nvjitlink-cu12"}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range strings.Split(string(b), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			var spec, hash string
			if n, _ := fmt.Sscanf(l, "%s --hash=sha256:%s", &spec, &hash); n != 2 || len(hash) != 64 || !strings.Contains(spec, "==") {
				t.Errorf("%s: not `name==version --hash=sha256:<64 hex>`: %q", tt.file, l)
				continue
			}
			names = append(names, spec[:strings.Index(spec, "==")])
		}
		if strings.Join(names, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s lists %v, want %v", tt.file, names, tt.want)
		}
	}
}
