package cli

import (
	"fmt"

	"github.com/postergenre/postergenre/internal/tfinfo"
)

func versionTF(st *State) int {
	fmt.Fprintf(st.Stdout, "tensorflow %s\n", tfinfo.Version())
	ds, err := tfinfo.Devices()
	if err != nil {
		fmt.Fprintf(st.Stderr, "tensorflow devices: %v\n", err)
		return ExitFailed
	}
	for _, d := range ds {
		fmt.Fprintf(st.Stdout, "device %s %s (%d MiB)\n", d.Type, d.Name, d.MemoryBytes>>20)
	}
	if !tfinfo.HasGPU(ds) {
		fmt.Fprintln(st.Stdout, "no GPU visible (CPU build, or no CUDA device); see README: GPU")
	}
	return ExitOK
}
