package tfinfo

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// cudaCacheBytes is the CUDA JIT cache the GPU build needs. The tensorflow
// 2.18.0 wheel carries no sm_90 machine code, only PTX, so on Hopper GPUs
// the driver compiles TensorFlow's kernels at first use and caches them in
// ~/.nv/ComputeCache; CUDA's default cache (256 MiB) cannot hold them and
// every run would compile again (minutes). 4 GiB is CUDA's maximum.
const cudaCacheBytes = "4294967296"

// CUDA reads CUDA_CACHE_MAXSIZE at cuInit, i.e. at the first session, so
// setting it here (after the C environment exists) is in time. A value the
// user exported is kept; the CPU build never reads it, and is left alone.
func init() {
	if _, set := os.LookupEnv("CUDA_CACHE_MAXSIZE"); !set && GPUBuild() {
		os.Setenv("CUDA_CACHE_MAXSIZE", cudaCacheBytes)
	}
}

// LibraryDir is the folder of the libtensorflow_framework.so.2 this process
// loaded, or "" if none is mapped.
func LibraryDir() string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '/'); i >= 0 && strings.HasSuffix(line, "/libtensorflow_framework.so.2") {
			return filepath.Dir(line[i:])
		}
	}
	return ""
}

// GPUBuild reports whether the loaded TensorFlow is the GPU build that
// scripts/tf-deps.sh installs: CUDA's libraries beside it in ../nvidia,
// where its RUNPATH looks.
func GPUBuild() bool {
	dir := LibraryDir()
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "..", "nvidia", "cuda_runtime", "lib"))
	return err == nil
}
