package executor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/executor"
)

// fake is an executor whose cells end as a script says: outcome[cell]
// lists the end state of each attempt ("done", "failed", "interrupted");
// a cell runs for one poll before it ends.
type fake struct {
	mu        sync.Mutex
	outcome   map[int][]executor.Phase
	jobs      map[string][]int
	resumed   map[string]bool
	polls     map[string]int
	cancelled []string
	attempt   map[int]int
}

func (f *fake) Name() string { return "fake" }

func (f *fake) Submit(ctx context.Context, b *executor.Batch, cells []int, resume bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := strconv.Itoa(len(f.jobs) + 100)
	f.jobs[id], f.resumed[id] = cells, resume
	return id, nil
}

func (f *fake) States(ctx context.Context, b *executor.Batch, job string) ([]executor.TaskState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls[job]++
	var out []executor.TaskState
	for _, i := range f.jobs[job] {
		if f.polls[job] == 1 {
			out = append(out, executor.TaskState{Index: i, Phase: executor.Running, Raw: "RUNNING", Node: "n" + strconv.Itoa(i%2+1)})
			continue
		}
		seq := f.outcome[i]
		n := f.attempt[i]
		if f.polls[job] == 2 {
			f.attempt[i]++
		}
		p := seq[min(n, len(seq)-1)]
		raw := map[executor.Phase]string{executor.Done: "COMPLETED", executor.Failed: "FAILED", executor.Interrupted: "CANCELLED"}[p]
		out = append(out, executor.TaskState{Index: i, Phase: p, Raw: raw, Node: "n" + strconv.Itoa(i%2+1)})
	}
	return out, nil
}

func (f *fake) Cancel(ctx context.Context, job string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, job)
	return nil
}

func newDriver(t *testing.T, f *fake, cells int) *executor.Driver {
	cfg := &configs.Loaded{Config: configs.Default()}
	cfg.Name = "g"
	b := &executor.Batch{Workdir: t.TempDir(), RunID: "r1", Config: cfg}
	for i := 0; i < cells; i++ {
		b.Cells = append(b.Cells, configs.Cell{Key: "40/" + strconv.Itoa(i)})
		b.Cells[i].Config.Name = "g-" + strconv.Itoa(i)
	}
	return &executor.Driver{Ex: f, Batch: b, MaxRequeues: 2, Poll: time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Outcome: func(i int) (string, string, bool) {
			switch f.outcome[i][len(f.outcome[i])-1] {
			case executor.Done:
				return "ok", "", true
			case executor.Failed:
				if i == 3 {
					return "", "", false // crashed: no record
				}
				return "failed", "train: loss is NaN", true
			}
			return "cancelled", "interrupted", true
		}}
}

func TestDriverSettlesEveryCell(t *testing.T) {
	I, D, F := executor.Interrupted, executor.Done, executor.Failed
	f := &fake{outcome: map[int][]executor.Phase{0: {D}, 1: {I, D}, 2: {F}, 3: {F}, 4: {I, I, I}},
		jobs: map[string][]int{}, resumed: map[string]bool{}, polls: map[string]int{}, attempt: map[int]int{}}
	d := newDriver(t, f, 5)
	if _, err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		phase    executor.Phase
		attempts int
	}{{D, 1}, {D, 2}, {F, 1}, {F, 1}, {executor.Cancelled, 3}}
	sub := d.Submission()
	for i, w := range want {
		c := sub.Cells[i]
		if c.Phase != w.phase || len(c.Attempts) != w.attempts {
			t.Errorf("cell %d: %s after %d attempt(s) (%s), want %s after %d", i, c.Phase, len(c.Attempts), c.Error, w.phase, w.attempts)
		}
		for j, a := range c.Attempts {
			if a.Resume != (j > 0) {
				t.Errorf("cell %d attempt %d: resume %v", i, j, a.Resume)
			}
		}
	}
	if c := sub.Cells[2]; c.Error != "train: loss is NaN (FAILED on n1)" {
		t.Errorf("failed cell's error: %q", c.Error)
	}
	if c := sub.Cells[3]; c.Error == "" {
		t.Error("a crashed cell has no error")
	}
	back, err := executor.ReadSubmission(filepath.Join(d.Batch.Workdir, "runs", "r1"))
	if err != nil || len(back.Cells) != 5 || back.Cells[1].Phase != D {
		t.Errorf("submission.json: %+v, %v", back, err)
	}
	if got := back.Summary(); got != "2 done, 2 failed, 1 cancelled" {
		t.Errorf("Summary = %q", got)
	}
}

func TestDriverCancel(t *testing.T) {
	f := &fake{outcome: map[int][]executor.Phase{0: {executor.Done}, 1: {executor.Done}},
		jobs: map[string][]int{}, resumed: map[string]bool{}, polls: map[string]int{}, attempt: map[int]int{}}
	d := newDriver(t, f, 2)
	if _, err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if len(f.cancelled) != 1 || f.cancelled[0] != "100" {
		t.Errorf("cancelled jobs %v, want [100]", f.cancelled)
	}
	for _, c := range d.Submission().Cells {
		if c.Phase != executor.Cancelled {
			t.Errorf("cell %d: %s", c.Index, c.Phase)
		}
	}
}

// TestDriverNoticesARecordedEnd: with an hour between polls, a running
// cell whose process has recorded its end is collected without waiting
// out the interval; a cell with no record waits for the next poll.
func TestDriverNoticesARecordedEnd(t *testing.T) {
	tests := []struct {
		name     string
		recorded bool
		wait     time.Duration // far below the poll interval, far above the record check
		wantErr  error
	}{
		{"record written: polled again at once", true, 5 * time.Second, nil},
		{"no record: waits for the poll", false, time.Second, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{outcome: map[int][]executor.Phase{0: {executor.Done}},
				jobs: map[string][]int{}, resumed: map[string]bool{}, polls: map[string]int{}, attempt: map[int]int{}}
			d := newDriver(t, f, 1)
			d.Poll = time.Hour
			d.Outcome = func(int) (string, string, bool) { return "ok", "", tc.recorded }
			if _, err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.wait)
			defer cancel()
			if err := d.Wait(ctx); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Wait = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && f.polls["100"] != 2 {
				t.Errorf("%d polls, want 2 (running, then done)", f.polls["100"])
			}
		})
	}
}
