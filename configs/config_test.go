package configs_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/configs"
)

func TestLoadFailures(t *testing.T) {
	tests := []struct {
		file string
		set  []string
		want []string // every line must appear, in any order
	}{
		{"unknown-key.yaml", nil, []string{`testdata/unknown-key.yaml:7: /train/learning_rat: unknown key "learning_rat"`}},
		{"wrong-type.yaml", nil, []string{
			`testdata/wrong-type.yaml:5: /scrape/timeout: must be a duration such as "30s", got str "soon"`,
			`testdata/wrong-type.yaml:7: /train/epochs: must be an integer, got str "many"`,
		}},
		{"out-of-range.yaml", nil, []string{
			"testdata/out-of-range.yaml:5: /scrape/parallelism: must be in 1..256, got 0",
			"testdata/out-of-range.yaml:8: /train/optimizer/learning_rate: must be > 0 and <= 1, got -1",
			"testdata/out-of-range.yaml:9: /train/dropout: must be in [0, 1), got 1.5",
			"testdata/out-of-range.yaml:11: /encode/split: train+validation+test must sum to 1, got 1.1",
		}},
		// A value of the wrong type does not hide the other problems.
		{"type-and-range.yaml", nil, []string{
			"testdata/type-and-range.yaml:5: /scrape/parallelism: must be in 1..256, got 0",
			`testdata/type-and-range.yaml:6: /scrape/timeout: must be a duration such as "30s", got str "soon"`,
			"testdata/type-and-range.yaml:8: /train/epochs: must be an integer, got 1e9",
			"testdata/type-and-range.yaml:9: /train/batch_size: must be in 1..4096, got 0",
			"testdata/type-and-range.yaml:10: /train/dropout: must be in [0, 1), got 1.5",
			"testdata/type-and-range.yaml:12: /train/optimizer/learning_rate: must be > 0 and <= 1, got -1",
			`testdata/type-and-range.yaml:13: /train/loss: must be "softmax_ce" or "sigmoid_bce", got "hinge"`,
			`testdata/type-and-range.yaml:14: /train/device: must be "auto", "cpu" or "gpu", got "tpu"`,
			"testdata/type-and-range.yaml:16: /encode/split: train+validation+test must sum to 1, got 1.1",
		}},
		{"ok.yaml", []string{"train.epochs=zero", "train.dropout=2"}, []string{
			`--set train.epochs=zero: /train/epochs: must be an integer, got str "zero"`,
			"--set train.dropout=2: /train/dropout: must be in [0, 1), got 2",
		}},
		{"missing-required.yaml", nil, []string{
			"testdata/missing-required.yaml: /name: required",
			"testdata/missing-required.yaml: /scrape/csv: required",
		}},
		{"bad-yaml.yaml", nil, []string{"testdata/bad-yaml.yaml:5: mapping values are not allowed in this context"}},
		{"wrong-version.yaml", nil, []string{"testdata/wrong-version.yaml:1: /version: must be 1"}},
		{"child.yaml", nil, []string{"testdata/child.yaml:6: /train/dropout: must be in [0, 1), got 2"}},
		{"ok.yaml", []string{"train.epochs=zero"}, []string{`--set train.epochs=zero: /train/epochs: must be an integer, got str "zero"`}},
		{"ok.yaml", []string{"train.nope=1"}, []string{`--set train.nope=1: /train/nope: unknown key "nope"`}},
		{"ok.yaml", []string{"train.optimizer.learning_rate=-1"}, []string{"--set train.optimizer.learning_rate=-1: /train/optimizer/learning_rate: must be > 0"}},
		// A problem found by validation names the --set, not the file's line.
		{"ok.yaml", []string{"train.epochs=-1"}, []string{"--set train.epochs=-1: /train/epochs: must be in 1..10000, got -1"}},
		{"ok.yaml", []string{"train.epochs=2.5"}, []string{"--set train.epochs=2.5: /train/epochs: must be an integer, got 2.5"}},
		{"ok.yaml", []string{"extends=x.yaml"}, []string{"--set extends=x.yaml: extends cannot be set"}},
		{"ok.yaml", []string{"scrape.max_body_bytes=1073741824"}, []string{"/scrape/max_body_bytes: must be in 1..67108864"}},
		{"ok.yaml", []string{"scrape.max_line_bytes=1073741824"}, []string{"/scrape/max_line_bytes: must be in 1024..67108864"}},
		{"ok.yaml", []string{"scrape.max_line_bytes=10"}, []string{"/scrape/max_line_bytes: must be in 1024..67108864"}},
		{"ok.yaml", []string{"scrape.max_line_bytes=4096", "scrape.max_field_bytes=8192"}, []string{"/scrape/max_field_bytes: must be in 64..max_line_bytes (4096), got 8192"}},
		{"non-integer.yaml", nil, []string{
			"testdata/non-integer.yaml:6: /scrape/parallelism: must be an integer, got 4.0",
			"testdata/non-integer.yaml:8: /train/epochs: must be an integer, got 2.5",
		}},
		{"ok.yaml", []string{"novalue"}, []string{"--set novalue: want path=value"}},
		{"ok.yaml", []string{"train.backbone=resnet"}, []string{`--set train.backbone=resnet: /train/backbone: must be one of "none", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", got "resnet"`}},
		{"ok.yaml", []string{"train.fine_tune=2"}, []string{"--set train.fine_tune=2: /train/fine_tune: needs a backbone, got 2 with backbone none"}},
		{"ok.yaml", []string{"train.backbone=efficientnet_lite0", "train.fine_tune=19"}, []string{"--set train.fine_tune=19: /train/fine_tune: must be in 0..18"}},
		{"ok.yaml", []string{"train.backbone=efficientnet_lite0", "train.standardize=true"}, []string{"--set train.standardize=true: /train/standardize: must be false with a backbone"}},
		{"ok.yaml", []string{"train.backbone=efficientnet_lite2", "train.fine_tune=24"}, []string{"--set train.fine_tune=24: /train/fine_tune: must be in 0..23 (layers of efficientnet_lite2)"}},
		{"ok.yaml", []string{"train.backbone=efficientnet_lite1", "train.standardize=true"}, []string{"--set train.standardize=true: /train/standardize: must be false with a backbone"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+strings.Join(tt.set, ","), func(t *testing.T) {
			_, err := configs.Load(filepath.Join("testdata", tt.file), tt.set)
			var ce *configs.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *configs.Error, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%s", w, err)
				}
			}
			// One entry per problem: the CLI prints "N problem(s)".
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d: %q", len(ce.Problems), len(tt.want), ce.Problems)
			}
		})
	}
}

func TestLoadExtendsAndSet(t *testing.T) {
	l, err := configs.Load("testdata/ok.yaml", []string{"train.optimizer.learning_rate=0.01", "/encode/genres=[Horror, Action]", "train.augment.flip=true"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Train.Epochs != 3 || l.Train.Optimizer.LearningRate != 0.01 || !l.Train.Augment.Flip {
		t.Errorf("overrides not applied: %+v", l.Train)
	}
	if !reflect.DeepEqual(l.Encode.Genres, []string{"Horror", "Action"}) {
		t.Errorf("genres = %v", l.Encode.Genres)
	}
	if want, _ := filepath.Abs("testdata/movies.csv"); l.Scrape.CSV != want && l.Scrape.CSV != "testdata/movies.csv" {
		t.Errorf("csv not resolved relative to its file: %q", l.Scrape.CSV)
	}
	if l.Train.BatchSize != 32 {
		t.Errorf("default batch size lost: %d", l.Train.BatchSize)
	}
}

// TestLoadBackbones: each pretrained backbone loads through --set with
// fine_tune up to its own layer count.
func TestLoadBackbones(t *testing.T) {
	for _, tt := range []struct {
		backbone string
		fineTune int
	}{
		{"efficientnet_lite0", 18},
		{"efficientnet_lite1", 23},
		{"efficientnet_lite2", 0},
		{"efficientnet_lite2", 23},
	} {
		set := []string{"train.backbone=" + tt.backbone, "train.fine_tune=" + strconv.Itoa(tt.fineTune)}
		l, err := configs.Load("testdata/ok.yaml", set)
		if err != nil {
			t.Errorf("%v: %v", set, err)
			continue
		}
		if l.Train.Backbone != tt.backbone || l.Train.FineTune != tt.fineTune {
			t.Errorf("%v: backbone %q fine_tune %d", set, l.Train.Backbone, l.Train.FineTune)
		}
	}
}

// base.yaml documents every field at its default; it must not drift from the code.
func TestBaseYAMLIsDefaults(t *testing.T) {
	l, err := configs.Load("base.yaml", []string{"scrape.csv=x.csv"})
	if err != nil {
		t.Fatal(err)
	}
	got := l.Config
	want := configs.Default()
	want.Name, want.Description = got.Name, got.Description
	got.Scrape.CSV = ""
	nilEmptySlices(reflect.ValueOf(&got).Elem())
	nilEmptySlices(reflect.ValueOf(&want).Elem())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("base.yaml differs from configs.Default():\n got %+v\nwant %+v", got, want)
	}
}

func TestShippedConfigsValidate(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 5 {
		t.Fatalf("expected the shipped configs, found %v", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			set := []string{}
			if f == "base.yaml" {
				set = append(set, "scrape.csv=x.csv")
			}
			if _, err := configs.Load(f, set); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestGridCells(t *testing.T) {
	l, err := configs.Load("paper-grid.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cells := l.Cells()
	if len(cells) != 25 {
		t.Fatalf("cells = %d, want 25", len(cells))
	}
	c := cells[5] // second shrink, first lr
	if c.Config.Encode.Image.ShrinkPercent != 40 || c.Config.Train.Optimizer.LearningRate != 0.001 || c.Key != "40/0.001" {
		t.Errorf("cell 5 = %+v", c.Key)
	}
	if c.Config.Grid != nil {
		t.Error("cell keeps its grid")
	}
	if _, ok := l.Grid.Reference["40/0.0001"]; !ok {
		t.Error("reference key format differs from GridKey")
	}
}

// nilEmptySlices makes `[]` in YAML and a nil default compare equal.
func nilEmptySlices(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() {
				nilEmptySlices(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			nilEmptySlices(v.Elem())
		}
	}
}
