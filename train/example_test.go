package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// The train stage on a generated encode output: it writes model/ (for
// LoadModel), checkpoints/ and the history.
func ExampleStage() {
	root, _ := os.MkdirTemp("", "train-example-")
	defer os.RemoveAll(root)
	enc, out := filepath.Join(root, "encode"), filepath.Join(root, "train")
	os.MkdirAll(enc, 0o755)
	os.MkdirAll(out, 0o755)
	if _, err := generateSynth(enc, synthSpec{Height: 24, Width: 16, Noise: 20, Seed: 1,
		PerClass: map[string]int{encode.SplitTrain: 8, encode.SplitValidation: 4}}); err != nil {
		fmt.Println(err)
		return
	}
	cfg := trainconfig.Default()
	cfg.ConvFilters, cfg.Dense, cfg.Epochs, cfg.BatchSize = []int{8, 8}, []int{16}, 2, 16
	stage := &Stage{Cfg: cfg}
	res, err := stage.Run(context.Background(), stages.Env{OutDir: out, Inputs: map[string]string{stages.Encode: enc}})
	if err != nil {
		fmt.Println(err)
		return
	}
	hist, _ := ReadHistory(out)
	m, err := LoadModel(filepath.Join(out, ModelDir))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	fmt.Println(stage.Name(), "epochs:", res.Summary["epochs"], "history rows:", len(hist))
	fmt.Println("genres:", m.Meta().Genres)
	// Output:
	// train epochs: 2 history rows: 2
	// genres: [Horror Romance Action Documentary]
}
