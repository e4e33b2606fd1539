package pipeline_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
)

func TestSelectCells(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "g.yaml")
	os.WriteFile(file, []byte("version: 1\nname: g\nscrape:\n  csv: x.csv\ngrid:\n  shrink_percent: [30, 40]\n  learning_rate: [0.001, 0.0001]\n"), 0o644)
	cfg, err := configs.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		sel     string
		want    []string
		wantErr bool
	}{
		{"", []string{"30/0.001", "30/0.0001", "40/0.001", "40/0.0001"}, false},
		{"0", []string{"30/0.001"}, false},
		{"3", []string{"40/0.0001"}, false},
		{"40/0.001", []string{"40/0.001"}, false},
		{"4", nil, true},
		{"-1", nil, true},
		{"50/0.001", nil, true},
	}
	for _, c := range cases {
		cells, err := pipeline.SelectCells(cfg, c.sel)
		var ce *pipeline.CellError
		if c.wantErr {
			if !errors.As(err, &ce) {
				t.Errorf("--cell %q: want a CellError, got %v", c.sel, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("--cell %q: %v", c.sel, err)
			continue
		}
		var keys []string
		for _, cell := range cells {
			keys = append(keys, cell.Key)
		}
		if len(keys) != len(c.want) || (len(keys) > 0 && keys[0] != c.want[0]) || keys[len(keys)-1] != c.want[len(c.want)-1] {
			t.Errorf("--cell %q: cells %v, want %v", c.sel, keys, c.want)
		}
	}
}
