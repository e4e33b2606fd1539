package configs_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/stages"
)

// writeFiles writes name → YAML text under a new folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// problems is Load's *configs.Error's list; the test fails on any other
// outcome.
func problems(t *testing.T, file string, set ...string) []string {
	t.Helper()
	_, err := configs.Load(file, set)
	var ce *configs.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load(%s, %v): want *configs.Error, got %v", file, set, err)
	}
	return ce.Problems
}

func TestLoadFileErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"empty.yaml": "",
		"a.yaml":     "version: 1\nname: a\nextends: b.yaml\n",
		"b.yaml":     "version: 1\nname: b\nextends: a.yaml\n",
		"self.yaml":  "version: 1\nname: self\nextends: self.yaml\n",
		"gone.yaml":  "version: 1\nname: gone\nextends: nowhere.yaml\n",
	})
	for _, tc := range []struct{ file, want string }{
		{"empty.yaml", "empty.yaml: empty config"},
		{"a.yaml", "a.yaml: extends cycle"},
		{"self.yaml", "self.yaml: extends cycle"},
		{"gone.yaml", "read config"},
		{"missing.yaml", "read config"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ps := problems(t, filepath.Join(dir, tc.file))
			if len(ps) != 1 || !strings.Contains(ps[0], tc.want) {
				t.Errorf("problems %q, want one containing %q", ps, tc.want)
			}
		})
	}
}

// A child overrides its base field by field; lists are replaced, not
// merged; a data path is relative to the file that names it.
func TestExtendsLayering(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"base/base.yaml": `version: 1
name: base
scrape:
  csv: data/movies.csv
  parallelism: 8
encode:
  genres: [Horror, Romance, Action]
train:
  epochs: 7
  batch_size: 16
`,
		"child.yaml": `version: 1
name: child
extends: base/base.yaml
encode:
  genres: [Drama]
train:
  epochs: 2
`,
		"moved.yaml": `version: 1
name: moved
extends: base/base.yaml
scrape:
  csv: here.csv
`,
	})
	l, err := configs.Load(filepath.Join(dir, "child.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "child" || l.Train.Epochs != 2 || l.Train.BatchSize != 16 || l.Scrape.Parallelism != 8 {
		t.Errorf("layering: name %q epochs %d batch %d parallelism %d", l.Name, l.Train.Epochs, l.Train.BatchSize, l.Scrape.Parallelism)
	}
	if !reflect.DeepEqual(l.Encode.Genres, []string{"Drama"}) {
		t.Errorf("genres %v: a child's list replaces the base's", l.Encode.Genres)
	}
	if want := filepath.Join(dir, "base", "data", "movies.csv"); l.Scrape.CSV != want {
		t.Errorf("csv %q, want the base's relative path under the base's folder %q", l.Scrape.CSV, want)
	}
	if l.Extends != "" {
		t.Errorf("Extends %q kept after loading", l.Extends)
	}
	m, err := configs.Load(filepath.Join(dir, "moved.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "here.csv"); m.Scrape.CSV != want {
		t.Errorf("csv %q, want the child's relative path under the child's folder %q", m.Scrape.CSV, want)
	}
}

func TestSetPathsAndValues(t *testing.T) {
	wd, _ := os.Getwd()
	for _, tc := range []struct {
		set   []string
		check func(l *configs.Loaded) bool
	}{
		{[]string{"train.epochs=9"}, func(l *configs.Loaded) bool { return l.Train.Epochs == 9 }},
		{[]string{"/train/epochs=9"}, func(l *configs.Loaded) bool { return l.Train.Epochs == 9 }},
		{[]string{"train/epochs=9"}, func(l *configs.Loaded) bool { return l.Train.Epochs == 9 }},
		{[]string{"train.epochs=4", "train.epochs=5"}, func(l *configs.Loaded) bool { return l.Train.Epochs == 5 }}, // the last wins
		{[]string{"train.augment.flip=true"}, func(l *configs.Loaded) bool { return l.Train.Augment.Flip }},
		{[]string{"scrape.timeout=45s"}, func(l *configs.Loaded) bool { return l.Scrape.Timeout.Seconds() == 45 }},
		{[]string{"encode.genres=[Drama, Comedy]"}, func(l *configs.Loaded) bool {
			return reflect.DeepEqual(l.Encode.Genres, []string{"Drama", "Comedy"})
		}},
		{[]string{"name=other-name"}, func(l *configs.Loaded) bool { return l.Name == "other-name" }},
		// A relative CSV from the command line is relative to the working folder.
		{[]string{"scrape.csv=some/movies.csv"}, func(l *configs.Loaded) bool {
			return l.Scrape.CSV == filepath.Join(wd, "some", "movies.csv")
		}},
		{[]string{"scrape.csv=https://example.org/movies.csv"}, func(l *configs.Loaded) bool {
			return l.Scrape.CSV == "https://example.org/movies.csv"
		}},
	} {
		t.Run(strings.Join(tc.set, " "), func(t *testing.T) {
			l, err := configs.Load("testdata/ok.yaml", tc.set)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(l) {
				t.Errorf("--set %v not applied: %+v", tc.set, l.Config)
			}
		})
	}
}

// Every problem is reported at once, located and in file order; a problem
// under a path without a line of its own is located at its nearest parent.
func TestValidateLocatesAndOrders(t *testing.T) {
	dir := writeFiles(t, map[string]string{"c.yaml": `version: 1
name: Bad Name
scrape:
  csv: movies.csv
train:
  epochs: 0
grid:
  shrink_percent: [40, 0]
  learning_rate: [2]
`})
	file := filepath.Join(dir, "c.yaml")
	ps := problems(t, file)
	want := []string{
		file + `:2: /name: must be lowercase letters, digits, '.', '_' or '-', got "Bad Name"`,
		file + ":6: /train/epochs: must be in 1..10000, got 0",
		file + ":8: /grid/shrink_percent/1: must be in (0, 400], got 0",
		file + ":9: /grid/learning_rate/0: must be > 0 and <= 1, got 2",
	}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(ps, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateSections(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings, one per problem
	}{
		{"empty grid", "scrape:\n  csv: m.csv\ngrid: {}\n", []string{"/grid: must list shrink_percent and/or learning_rate"}},
		{"demo without csv", "demo:\n  posters: 50\n", nil},
		{"demo too small", "demo:\n  posters: 5\n", []string{"/demo/posters: must be in 20..100000, got 5"}},
		{"no csv", "", []string{"/scrape/csv: required"}},
		{"era split", "scrape:\n  csv: m.csv\nencode:\n  split:\n    method: era\n    test_from: 2013\n", nil},
		{"era split without its year", "scrape:\n  csv: m.csv\nencode:\n  split:\n    method: era\n", []string{"/encode/split/test_from: must be the first test year (1900..2100)"}},
		{"unknown split", "scrape:\n  csv: m.csv\nencode:\n  split:\n    method: decade\n", []string{`/encode/split/method: must be "paper", "hash" or "era", got "decade"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"c.yaml": "version: 1\nname: c\n" + tc.yaml})
			_, err := configs.Load(filepath.Join(dir, "c.yaml"), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				return
			}
			var ce *configs.Error
			if !errors.As(err, &ce) || len(ce.Problems) != len(tc.want) {
				t.Fatalf("want %d problems, got %v", len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(ce.Problems[i], w) {
					t.Errorf("problem %q lacks %q", ce.Problems[i], w)
				}
			}
		})
	}
}

// A stage's fingerprint follows exactly the fields that decide its output.
func TestSectionHash(t *testing.T) {
	base := configs.Default()
	for _, tc := range []struct {
		name    string
		stage   string
		edit    func(*configs.Config)
		changes bool
	}{
		{"train field", stages.Train, func(c *configs.Config) { c.Train.Epochs++ }, true},
		{"other section", stages.Train, func(c *configs.Config) { c.Encode.ShardRows++ }, false},
		{"encode field", stages.Encode, func(c *configs.Config) { c.Encode.LabelMode = "first" }, true},
		// scrape is a ConfigIdentifier: how posters are fetched changes nothing.
		{"scrape parallelism", stages.Scrape, func(c *configs.Config) { c.Scrape.Parallelism++ }, false},
		{"scrape max_pixels", stages.Scrape, func(c *configs.Config) { c.Scrape.MaxPixels++ }, true},
		{"name", stages.Evaluate, func(c *configs.Config) { c.Name = "renamed" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := configs.Default()
			tc.edit(&c)
			if changed := c.SectionHash(tc.stage) != base.SectionHash(tc.stage); changed != tc.changes {
				t.Errorf("%s hash changed: %v, want %v", tc.stage, changed, tc.changes)
			}
		})
	}
	if got := base.Section("nope"); got != nil {
		t.Errorf("Section of an unknown stage: %v", got)
	}
	for _, st := range stages.Order {
		if base.Section(st) == nil || len(base.SectionHash(st)) != 64 {
			t.Errorf("%s: no section or hash", st)
		}
	}
}

// The resolved config, rendered as YAML, loads back to the same config.
func TestYAMLRoundTrip(t *testing.T) {
	// An absolute CSV: a relative one is relative to the file naming it.
	l, err := configs.Load("paper-grid.yaml", []string{"train.epochs=4", "scrape.csv=/data/MovieGenre.csv"})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{"resolved.yaml": string(l.YAML())})
	back, err := configs.Load(filepath.Join(dir, "resolved.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Config, l.Config) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", back.Config, l.Config)
	}
}

func TestCellsWithoutOrWithPartialGrid(t *testing.T) {
	c := configs.Default()
	c.Name = "x"
	if cells := c.Cells(); len(cells) != 1 || cells[0].Key != "" || cells[0].Config.Name != "x" {
		t.Errorf("no grid: %+v", cells)
	}
	c.Encode.Image.Width, c.Encode.Image.Height = 150, 200
	c.Grid = &configs.Grid{LearningRate: []float64{1e-3, 1e-4}}
	cells := c.Cells()
	if len(cells) != 2 {
		t.Fatalf("%d cells, want 2", len(cells))
	}
	for i, lr := range []float64{1e-3, 1e-4} {
		cc := cells[i]
		if cc.LR != lr || cc.Shrink != c.Encode.Image.ShrinkPercent || cc.Config.Train.Optimizer.LearningRate != lr ||
			cc.Config.Encode.Image.Width != 0 || cc.Config.Grid != nil || cc.Key != configs.GridKey(cc.Shrink, lr) {
			t.Errorf("cell %d: %+v", i, cc)
		}
	}
	if cells[1].Config.Name != "x-s40-lr0.0001" {
		t.Errorf("cell name %q", cells[1].Config.Name)
	}
	if c.Train.Optimizer.LearningRate == 1e-3 || c.Grid == nil {
		t.Error("Cells changed the config it expands")
	}
}

func TestGridKey(t *testing.T) {
	for _, tc := range []struct {
		shrink, lr float64
		want       string
	}{{40, 1e-4, "40/0.0001"}, {62.5, 0.001, "62.5/0.001"}, {100, 1e-7, "100/1e-07"}} {
		if got := configs.GridKey(tc.shrink, tc.lr); got != tc.want {
			t.Errorf("GridKey(%g, %g) = %q, want %q", tc.shrink, tc.lr, got, tc.want)
		}
	}
}
