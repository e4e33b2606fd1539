package evaluate_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/evaluate/scoring"
)

var predGenres = []string{"Horror", "Romance", "Action"}

func scored() *scoring.Result {
	return &scoring.Result{
		Val: scoring.Scores{
			Rows: []scoring.Row{{ImdbID: 7, Title: "Seven (1995)", Year: 1995}},
			Y:    [][]bool{{true, false, true}},
			S:    [][]float64{{0.5, 0.25, 0.25}},
		},
		Test: scoring.Scores{
			Rows: []scoring.Row{{ImdbID: 11, Title: "Eleven", Year: 2001}, {ImdbID: 12, Title: "Twelve (2002)", Year: 2002}},
			Y:    [][]bool{{false, true, false}, {true, true, true}},
			S:    [][]float64{{0.125, 0.75, 0.125}, {0.5, 0.375, 0.125}},
		},
	}
}

func TestPredictionsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rows := evaluate.PredictionRows(scored())
	if err := evaluate.WritePredictions(dir, predGenres, rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, evaluate.PredictionsFile)
	back, err := parquet.ReadFile[evaluate.PredictionRow](path)
	if err != nil {
		t.Fatal(err)
	}
	want := []evaluate.PredictionRow{
		{ImdbID: 7, Split: "validation", Title: "Seven (1995)", Year: 1995, Label: []float32{1, 0, 1}, Probabilities: []float32{0.5, 0.25, 0.25}},
		{ImdbID: 11, Split: "test", Title: "Eleven", Year: 2001, Label: []float32{0, 1, 0}, Probabilities: []float32{0.125, 0.75, 0.125}},
		{ImdbID: 12, Split: "test", Title: "Twelve (2002)", Year: 2002, Label: []float32{1, 1, 1}, Probabilities: []float32{0.5, 0.375, 0.125}},
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("read back %+v\nwant %+v", back, want)
	}
	for _, tc := range []struct {
		split string
		want  []evaluate.PredictionRow
	}{{"", want}, {encode.SplitTest, want[1:]}, {encode.SplitValidation, want[:1]}, {encode.SplitTrain, nil}} {
		got, err := evaluate.ReadPredictions(dir, tc.split)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ReadPredictions(%q) = %+v, %v; want %+v", tc.split, got, err, tc.want)
		}
	}
	if _, err := evaluate.ReadPredictions(t.TempDir(), encode.SplitTest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadPredictions of a folder without the file: %v, want fs.ErrNotExist", err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := pf.Lookup("genres"); g != `["Horror","Romance","Action"]` {
		t.Errorf("genres metadata %q", g)
	}
}

// pyarrow reads the file as a table of plain columns with list<float>
// labels and probabilities, and the genres from the metadata.
func TestPredictionsReadInPyarrow(t *testing.T) {
	py := os.Getenv("PYTHON")
	if py == "" {
		t.Skip("PYTHON unset (make test sets it to .venv/bin/python with pyarrow)")
	}
	dir := t.TempDir()
	if err := evaluate.WritePredictions(dir, predGenres, evaluate.PredictionRows(scored())); err != nil {
		t.Fatal(err)
	}
	script := `import sys, json, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
genres = json.loads(t.schema.metadata[b"genres"])
print(json.dumps({"genres": genres, "rows": t.to_pylist(),
  "types": {f.name: str(f.type) for f in t.schema}}))`
	out, err := exec.Command(py, "-c", script, filepath.Join(dir, evaluate.PredictionsFile)).Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got struct {
		Genres []string
		Rows   []struct {
			ImdbID        int64     `json:"imdb_id"`
			Split         string    `json:"split"`
			Label         []float32 `json:"label"`
			Probabilities []float32 `json:"probabilities"`
		}
		Types map[string]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !reflect.DeepEqual(got.Genres, predGenres) || len(got.Rows) != 3 {
		t.Fatalf("pyarrow: %s", out)
	}
	for col, typ := range map[string]string{"imdb_id": "int64", "split": "string", "label": "list<element: float not null>", "probabilities": "list<element: float not null>"} {
		if got.Types[col] != typ {
			t.Errorf("%s: pyarrow type %q, want %q", col, got.Types[col], typ)
		}
	}
	r := got.Rows[2]
	if r.ImdbID != 12 || r.Split != "test" || !reflect.DeepEqual(r.Probabilities, []float32{0.5, 0.375, 0.125}) || !reflect.DeepEqual(r.Label, []float32{1, 1, 1}) {
		t.Errorf("row 2: %+v", r)
	}
}
