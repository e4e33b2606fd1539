package tensorboard_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/internal/tensorboard"
)

// readBack lists tag,step,value lines as TensorBoard's own event reader
// (tensorboard.backend.event_processing.event_accumulator) sees them.
const readBack = `
import sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1]); acc.Reload()
for tag in sorted(acc.Tags()["tensors"] + acc.Tags()["scalars"]):
    for e in (acc.Tensors(tag) if tag in acc.Tags()["tensors"] else acc.Scalars(tag)):
        v = e.value if hasattr(e, "value") else __import__("tensorboard.util.tensor_util", fromlist=["x"]).make_ndarray(e.tensor_proto).item()
        print("%s,%d,%.3f" % (tag, e.step, v))
`

func TestScalarsReadByTensorBoard(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tb", "demo")
	w, err := tensorboard.NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	for step, v := range []float64{0.9, 0.5, 0.25} {
		if err := w.Scalars(int64(step+1), map[string]float64{"loss/train": v, "accuracy/val": 1 - v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Size() < 100 {
		t.Fatalf("event file too small: %v", err)
	}

	py := os.Getenv("PYTHON")
	if py == "" {
		t.Skip("PYTHON unset: the tensorboard read-back is skipped")
	}
	if err := exec.Command(py, "-c", "import tensorboard").Run(); err != nil {
		t.Skipf("%s has no tensorboard package (scripts/py-deps.sh installs it): %v", py, err)
	}
	out, err := exec.Command(py, "-c", readBack, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("tensorboard reader: %v\n%s", err, out)
	}
	want := "accuracy/val,1,0.100\naccuracy/val,2,0.500\naccuracy/val,3,0.750\nloss/train,1,0.900\nloss/train,2,0.500\nloss/train,3,0.250"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("read back:\n%s\nwant:\n%s", got, want)
	}
}
