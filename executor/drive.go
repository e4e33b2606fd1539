package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postergenre/postergenre/internal/atomicfile"
)

// SubmissionFile is runs/<id>/submission.json: where each cell of a run
// handed to an executor went and how it stands (written on every change).
const SubmissionFile = "submission.json"

// Submission is the record of a run's cells on an executor.
type Submission struct {
	Executor string    `json:"executor"`
	RunID    string    `json:"run"`
	Config   string    `json:"config"`
	Started  time.Time `json:"started"`
	Jobs     []string  `json:"jobs"`
	Detached bool      `json:"detached,omitempty"`
	// Collector is the job that gathers a detached run's cells.
	Collector string       `json:"collector,omitempty"`
	Cells     []CellRecord `json:"cells"`
}

// CellRecord is one cell of a submission.
type CellRecord struct {
	Index    int       `json:"index"`
	Key      string    `json:"key"`
	Name     string    `json:"name"` // the cell's config name (its folder in the run)
	Phase    Phase     `json:"phase"`
	Node     string    `json:"node,omitempty"`
	Error    string    `json:"error,omitempty"`
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one submission of a cell.
type Attempt struct {
	Job       string    `json:"job"`
	Resume    bool      `json:"resume,omitempty"`
	Raw       string    `json:"state,omitempty"` // the executor's last state
	Node      string    `json:"node,omitempty"`
	Submitted time.Time `json:"submitted"`
	// Started and Ended are the executor's (1 s resolution on Slurm).
	Started time.Time `json:"started,omitempty"`
	Ended   time.Time `json:"ended,omitempty"`
	// Noticed is when the submitter saw the attempt end.
	Noticed time.Time `json:"noticed,omitempty"`
	// recordSeen is when the submitter first found the cell's own record
	// while the executor still had the task running.
	recordSeen time.Time
}

// final reports whether a cell is settled for good.
func (c *CellRecord) final() bool {
	return c.Phase == Done || c.Phase == Failed || c.Phase == Cancelled
}

func (c *CellRecord) last() *Attempt { return &c.Attempts[len(c.Attempts)-1] }

// Driver submits a batch's cells to an executor and waits for them.
type Driver struct {
	Ex    Executor
	Batch *Batch
	// Resume makes the first submission continue interrupted trainings
	// (`run --resume`); resubmissions always do.
	Resume bool
	// MaxRequeues is how many times a cell is resubmitted after an
	// interruption (cancelled, out of time, node lost, preempted).
	MaxRequeues int
	Poll        time.Duration
	Log         *slog.Logger
	Now         func() time.Time
	// Outcome reads what cell i's own process recorded when it ended
	// (status ok/failed/cancelled and its error); ok is false when the
	// process left no record (it crashed, or was killed).
	Outcome func(i int) (status, msg string, ok bool)

	sub Submission
}

// Start submits every cell as one job and records the submission.
func (d *Driver) Start(ctx context.Context) (*Submission, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	b := d.Batch
	d.sub = Submission{Executor: d.Ex.Name(), RunID: b.RunID, Config: b.Config.Name, Started: d.Now().UTC()}
	all := make([]int, len(b.Cells))
	for i, c := range b.Cells {
		all[i] = i
		d.sub.Cells = append(d.sub.Cells, CellRecord{Index: i, Key: c.Key, Name: c.Config.Name, Phase: Pending})
	}
	if err := d.submit(ctx, all, d.Resume); err != nil {
		return nil, err
	}
	return &d.sub, nil
}

// submit starts cells as one job and adds an attempt to each.
func (d *Driver) submit(ctx context.Context, cells []int, resume bool) error {
	at := d.Now().UTC()
	job, err := d.Ex.Submit(ctx, d.Batch, cells, resume)
	if err != nil {
		return fmt.Errorf("%s: submit cells %v: %w", d.Ex.Name(), cells, err)
	}
	d.sub.Jobs = append(d.sub.Jobs, job)
	for _, i := range cells {
		c := &d.sub.Cells[i]
		c.Phase, c.Node = Pending, ""
		c.Attempts = append(c.Attempts, Attempt{Job: job, Resume: resume, Submitted: at})
	}
	d.Log.Info("cells submitted", "executor", d.Ex.Name(), "job", job, "cells", len(cells), "resume", resume)
	return d.save()
}

// Detach arranges for the run to be collected without this process.
func (d *Driver) Detach(ctx context.Context) error {
	dt, ok := d.Ex.(Detacher)
	if !ok {
		return fmt.Errorf("executor %s cannot run detached", d.Ex.Name())
	}
	id, err := dt.Collect(ctx, d.Batch, d.sub.Jobs)
	if err != nil {
		return err
	}
	d.sub.Detached, d.sub.Collector = true, id
	return d.save()
}

// Wait polls until every cell is done, has failed or was given up on,
// resubmitting interrupted cells with --resume up to MaxRequeues times. A
// cancelled ctx cancels every job still running and returns ctx's error.
func (d *Driver) Wait(ctx context.Context) error {
	for {
		if err := d.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return d.cancel(ctx.Err())
			}
			d.Log.Warn("could not read the cells' states; retrying", "err", err)
		}
		if d.settled() {
			return nil
		}
		if err := d.sleep(ctx); err != nil {
			return d.cancel(err)
		}
	}
}

// How the submitter notices a cell's end before the next poll: a running
// cell's process writes its record just before it exits, so while one has
// appeared the executor is asked again every recordCheck — for at most
// fastPollFor per cell, which bounds the extra queries (squeue) should a
// process hang after writing it.
const (
	recordCheck = 100 * time.Millisecond
	fastPollFor = 10 * time.Second
)

// sleep waits until the next poll: Poll, or less once a running cell has
// recorded its end (collecting it need not wait out the poll interval,
// which is seconds so as not to load the cluster's controller).
func (d *Driver) sleep(ctx context.Context) error {
	deadline := d.Now().Add(d.Poll)
	step := min(d.Poll, recordCheck)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(step):
		}
		if !d.Now().Before(deadline) || d.cellEnding() {
			return nil
		}
	}
}

// cellEnding reports whether a running cell's process has written its
// record (within fastPollFor of first seeing it).
func (d *Driver) cellEnding() bool {
	now := d.Now()
	for i := range d.sub.Cells {
		c := &d.sub.Cells[i]
		if c.Phase != Running {
			continue
		}
		a := c.last()
		if a.recordSeen.IsZero() {
			if _, _, ok := d.Outcome(c.Index); !ok {
				continue
			}
			a.recordSeen = now
		}
		if now.Sub(a.recordSeen) < fastPollFor {
			return true
		}
	}
	return false
}

func (d *Driver) settled() bool {
	for i := range d.sub.Cells {
		if !d.sub.Cells[i].final() {
			return false
		}
	}
	return true
}

// poll reads the states of every job with unsettled cells and acts on them.
func (d *Driver) poll(ctx context.Context) error {
	states := map[int]TaskState{}
	for _, job := range d.activeJobs() {
		ts, err := d.Ex.States(ctx, d.Batch, job)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Index >= 0 && t.Index < len(d.sub.Cells) && d.sub.Cells[t.Index].last().Job == job {
				states[t.Index] = t
			}
		}
	}
	var retry []int
	changed := false
	for i := range d.sub.Cells {
		c := &d.sub.Cells[i]
		t, ok := states[i]
		if c.final() || !ok {
			continue
		}
		a := c.last()
		if t.Raw == a.Raw && t.Node == a.Node {
			continue
		}
		changed = true
		a.Raw, a.Node, a.Started, a.Ended = t.Raw, t.Node, t.Start, t.End
		if t.Node != "" {
			c.Node = t.Node
		}
		if d.settle(c, t) {
			retry = append(retry, i)
		}
		d.Log.Info("cell", "cell", c.Key, "state", c.Phase, "executor_state", t.Raw, "node", c.Node, "job", a.Job, "attempt", len(c.Attempts))
	}
	if len(retry) > 0 {
		return d.submit(ctx, retry, true)
	}
	if changed {
		return d.save()
	}
	return nil
}

// settle moves a cell to its attempt's phase; true when it is to be resubmitted.
func (d *Driver) settle(c *CellRecord, t TaskState) bool {
	a := c.last()
	switch t.Phase {
	case Pending, Running:
		c.Phase = t.Phase
		return false
	}
	a.Noticed = d.Now().UTC()
	status, msg, recorded := d.Outcome(c.Index)
	switch {
	case t.Phase == Done && recorded && status == "ok":
		c.Phase = Done
	case t.Phase == Interrupted && len(c.Attempts) <= d.MaxRequeues:
		c.Phase = Interrupted
		return true
	case t.Phase == Interrupted:
		c.Phase, c.Error = Cancelled, fmt.Sprintf("%s %d time(s), last %s on %s: out of requeues (executor.slurm.max_requeues=%d)", "interrupted", len(c.Attempts), t.Raw, t.Node, d.MaxRequeues)
	case recorded:
		c.Phase, c.Error = Failed, fmt.Sprintf("%s (%s on %s)", msg, t.Raw, t.Node)
	default:
		c.Phase, c.Error = Failed, fmt.Sprintf("%s on %s without a cell record%s", t.Raw, t.Node, d.outputHint(c))
	}
	return false
}

// outputHint names a failed task's output file and its last line.
func (d *Driver) outputHint(c *CellRecord) string {
	on, ok := d.Ex.(interface {
		TaskOutput(b *Batch, job string, i int) string
	})
	if !ok {
		return ""
	}
	path := on.TaskOutput(d.Batch, c.last().Job, c.Index)
	b, err := os.ReadFile(path)
	if err != nil {
		return "; output " + path
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return fmt.Sprintf("; output %s: %s", path, lines[len(lines)-1])
}

// activeJobs are the jobs whose latest attempt of some cell is unsettled.
func (d *Driver) activeJobs() []string {
	var jobs []string
	for i := range d.sub.Cells {
		c := &d.sub.Cells[i]
		if !c.final() && !slices.Contains(jobs, c.last().Job) {
			jobs = append(jobs, c.last().Job)
		}
	}
	return jobs
}

// cancel stops every job with unsettled cells after ctx ended.
func (d *Driver) cancel(cause error) error {
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	var errs []error
	for _, job := range d.activeJobs() {
		if err := d.Ex.Cancel(ctx, job); err != nil {
			errs = append(errs, err)
		}
		d.Log.Info("cancelled", "executor", d.Ex.Name(), "job", job)
	}
	for i := range d.sub.Cells {
		if c := &d.sub.Cells[i]; !c.final() {
			c.Phase, c.Error = Cancelled, "the run was cancelled"
		}
	}
	errs = append(errs, d.save())
	return errors.Join(append([]error{cause}, errs...)...)
}

// Submission is the record as it stands.
func (d *Driver) Submission() *Submission { return &d.sub }

func (d *Driver) save() error {
	b, err := json.MarshalIndent(d.sub, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Batch.RunDir(), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(d.Batch.RunDir(), SubmissionFile), append(b, '\n'), 0o644)
}

// ReadSubmission reads a run folder's submission.json (fs.ErrNotExist for
// a run that ran locally).
func ReadSubmission(runDir string) (*Submission, error) {
	b, err := os.ReadFile(filepath.Join(runDir, SubmissionFile))
	if err != nil {
		return nil, err
	}
	var s Submission
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, SubmissionFile), err)
	}
	return &s, nil
}

// Summary counts cells by phase, for a progress or status line.
func (s *Submission) Summary() string {
	counts := map[Phase]int{}
	for _, c := range s.Cells {
		counts[c.Phase]++
	}
	var parts []string
	for _, p := range []Phase{Pending, Running, Interrupted, Done, Failed, Cancelled} {
		if counts[p] > 0 {
			parts = append(parts, strconv.Itoa(counts[p])+" "+string(p))
		}
	}
	return strings.Join(parts, ", ")
}
