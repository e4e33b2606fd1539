package tfinfo

import (
	"os"
	"path/filepath"
	"testing"
)

// The test binary links the CPU build from .deps: LibraryDir finds it, and
// without ../nvidia it is not the GPU build, so CUDA_CACHE_MAXSIZE stays
// unset (unless the environment had it).
func TestLibraryDir(t *testing.T) {
	dir := LibraryDir()
	if _, err := os.Stat(filepath.Join(dir, "libtensorflow_cc.so.2")); err != nil {
		t.Fatalf("LibraryDir() = %q: %v", dir, err)
	}
	_, nv := os.Stat(filepath.Join(dir, "..", "nvidia", "cuda_runtime", "lib"))
	if GPUBuild() != (nv == nil) {
		t.Errorf("GPUBuild() = %v with %s/../nvidia present = %v", GPUBuild(), dir, nv == nil)
	}
	if !GPUBuild() && os.Getenv("CUDA_CACHE_MAXSIZE") == cudaCacheBytes {
		t.Errorf("CUDA_CACHE_MAXSIZE set for the CPU build")
	}
}
