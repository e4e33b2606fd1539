package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate"
)

// fakeRun makes a run folder with a config, an empty run record and, unless
// preds is nil, the given bytes as evaluate's predictions.parquet.
func fakeRun(t *testing.T, preds []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(filepath.Join(dir, "evaluate"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("version: 1\nname: x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"steps": []}`), 0o644)
	if preds != nil {
		os.WriteFile(filepath.Join(dir, "evaluate", "predictions.parquet"), preds, 0o644)
	}
	return dir
}

// TestDiffUnreadablePredictions: a predictions.parquet that is there but
// cannot be read is an error (exit 1, naming the file), not "absent".
func TestDiffUnreadablePredictions(t *testing.T) {
	dir := t.TempDir()
	rows := []evaluate.PredictionRow{
		{ImdbID: 1, Split: encode.SplitTest, Title: "One", Year: 2001, Label: []float32{1, 0}, Probabilities: []float32{0.7, 0.3}},
		{ImdbID: 2, Split: encode.SplitTest, Title: "Two", Year: 2002, Label: []float32{0, 1}, Probabilities: []float32{0.2, 0.8}},
	}
	if err := evaluate.WritePredictions(dir, []string{"A", "B"}, rows); err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, evaluate.PredictionsFile))
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i>>3)
	}
	tests := []struct {
		name  string
		preds []byte
		code  int
		want  string
	}{
		{"valid", valid, cli.ExitOK, ""},
		{"absent", nil, cli.ExitOK, "intervals need predictions.parquet"},
		{"truncated", valid[:len(valid)/2], cli.ExitFailed, "predictions.parquet"},
		{"random", random, cli.ExitFailed, "predictions.parquet"},
		{"empty", []byte{}, cli.ExitFailed, "predictions.parquet"},
	}
	a := fakeRun(t, valid)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fakeRun(t, tt.preds)
			code, out, errs := run(t, "diff", a, b, "--log-format", "text")
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Errorf("exit %d (want %d), want %q in:\n%s%s", code, tt.code, tt.want, out, errs)
			}
			if tt.code == cli.ExitFailed && !strings.Contains(errs, "unreadable") {
				t.Errorf("stderr does not say unreadable: %s", errs)
			}
		})
	}
}
