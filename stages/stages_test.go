package stages_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/stages/stagestest"
)

func TestOrderAndInputs(t *testing.T) {
	if len(stages.Order) != 5 || len(stages.Inputs) != len(stages.Order) {
		t.Fatalf("Order %v, Inputs %v: want the five stages in both", stages.Order, stages.Inputs)
	}
	for i, name := range stages.Order {
		ins, ok := stages.Inputs[name]
		if !ok {
			t.Errorf("%s: no Inputs entry", name)
		}
		for _, in := range ins {
			j := slices.Index(stages.Order, in)
			if j < 0 || j >= i {
				t.Errorf("%s reads %s, which does not run before it (Order %v)", name, in, stages.Order)
			}
		}
		if i > 0 && len(ins) == 0 {
			t.Errorf("%s reads nothing: only the first stage may", name)
		}
	}
}

func TestProblems(t *testing.T) {
	var ps stages.Problems
	if err := ps.Err(); err != nil {
		t.Fatalf("no problems: Err() = %v, want nil", err)
	}
	ps.Addf("/train/epochs", "must be >= 1, got %d", 0)
	ps.Addf("/encode/genres/"+stages.Index(2), "unknown genre %q", "Horor")
	err := ps.Err()
	if err == nil {
		t.Fatal("two problems: Err() = nil")
	}
	want := "/train/epochs: must be >= 1, got 0\n/encode/genres/2: unknown genre \"Horor\""
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	var got stages.Problems
	if !errors.As(fmt.Errorf("config: %w", err), &got) || len(got) != 2 || got[1].Path != "/encode/genres/2" {
		t.Errorf("errors.As through a wrap: %v", got)
	}
}

func TestStartTask(t *testing.T) {
	// nil Progress: a task that does nothing and does not panic.
	task := stages.StartTask(nil, "scrape", 10)
	task.Add(3)
	task.Note("x")
	task.Done()

	var rec stagestest.Progress
	task = stages.StartTask(&rec, "epoch 1/2", 40)
	task.Add(30)
	task.Add(10)
	task.Note("loss 0.5")
	task.Done()
	want := []stagestest.TaskRecord{{Name: "epoch 1/2", Total: 40, Added: 40, Notes: []string{"loss 0.5"}, Done: true}}
	if got := rec.Tasks(); !reflect.DeepEqual(got, want) {
		t.Errorf("tasks %+v, want %+v", got, want)
	}
}

// TestLogsAreNumbers: off a terminal, progress is log records whose rate
// and counts are JSON numbers (a string rate broke log queries).
func TestLogsAreNumbers(t *testing.T) {
	var buf bytes.Buffer
	p := stages.LogProgress{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), Every: 5 * time.Millisecond}
	task := p.Start("encode", 10)
	for i := 0; i < 10; i++ {
		task.Add(1)
		time.Sleep(2 * time.Millisecond)
	}
	task.Note("shard 1")
	task.Done()
	task.Done() // twice is harmless
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["msg"] != "progress done" || last["done"] != 10.0 || last["total"] != 10.0 || last["note"] != "shard 1" {
		t.Errorf("last record: %v", last)
	}
	if _, ok := last["rate_per_s"].(float64); !ok {
		t.Errorf("rate_per_s is %T, want a number", last["rate_per_s"])
	}
}

func TestFinite(t *testing.T) {
	for _, x := range []float64{0, -1.5, 0.25, math.MaxFloat64} {
		if p := stages.Finite(x); p == nil || *p != x {
			t.Errorf("Finite(%v) = %v", x, p)
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if p := stages.Finite(x); p != nil {
			t.Errorf("Finite(%v) = %v, want nil", x, *p)
		}
	}
}

func TestMetricJSONLeavesUnknownsOut(t *testing.T) {
	b, err := json.Marshal(stages.Metric{Key: "macro_auc", Label: "Macro AUC", Value: 0.7, Lo: stages.Finite(0.6), Hi: stages.Finite(math.NaN())})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"ci_low":0.6`) || strings.Contains(s, "ci_high") || strings.Contains(s, "baseline") {
		t.Errorf("JSON %s: want ci_low, no ci_high (NaN), no baseline", s)
	}
}

func TestSummaryKey(t *testing.T) {
	const (
		rows      stages.SummaryKey = "rows"
		threshold stages.SummaryKey = "threshold"
		name      stages.SummaryKey = "baseline"
		missing   stages.SummaryKey = "missing"
	)
	written := map[string]any{"rows": 1234, "threshold": 0.35, "baseline": "prior", "nothing": nil}
	// A manifest round trip turns ints into float64: the getters read both.
	b, err := json.Marshal(written)
	if err != nil {
		t.Fatal(err)
	}
	var read map[string]any
	if err := json.Unmarshal(b, &read); err != nil {
		t.Fatal(err)
	}
	for _, sum := range []map[string]any{written, read} {
		if n, ok := rows.Int(sum); !ok || n != 1234 {
			t.Errorf("rows.Int(%v) = %d, %v", sum, n, ok)
		}
		if f, ok := rows.Float(sum); !ok || f != 1234 {
			t.Errorf("rows.Float(%v) = %v, %v", sum, f, ok)
		}
		if f, ok := threshold.Float(sum); !ok || f != 0.35 {
			t.Errorf("threshold.Float = %v, %v", f, ok)
		}
		if n, ok := threshold.Int(sum); ok {
			t.Errorf("threshold.Int = %d, true: 0.35 is not an int", n)
		}
		if s, ok := name.Text(sum); !ok || s != "prior" {
			t.Errorf("baseline.Text = %q, %v", s, ok)
		}
		if _, ok := rows.Text(sum); ok {
			t.Error("rows.Text: ok for a number")
		}
		if _, ok := missing.Float(sum); ok {
			t.Error("missing.Float: ok")
		}
		if _, ok := stages.SummaryKey("nothing").Int(sum); ok {
			t.Error("null.Int: ok")
		}
	}
}

func ExampleProblems() {
	var ps stages.Problems
	ps.Addf("/train/learning_rate", "must be > 0, got %g", -1.0)
	ps.Addf("/scrape/parallelism", "must be in 1..256, got %d", 0)
	fmt.Println(ps.Err())
	// Output:
	// /train/learning_rate: must be > 0, got -1
	// /scrape/parallelism: must be in 1..256, got 0
}
