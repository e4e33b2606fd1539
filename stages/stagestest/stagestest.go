// Package stagestest holds test doubles of the stage contract: a Progress
// that records what a stage shows, for tests of any stage.
package stagestest

import (
	"sync"

	"github.com/postergenre/postergenre/stages"
)

// Progress records every task a stage starts. Safe for concurrent use, as
// stages.Task must be.
type Progress struct {
	mu    sync.Mutex
	tasks []*Task
}

var _ stages.Progress = (*Progress)(nil)

// Start records a new task.
func (p *Progress) Start(name string, total int64) stages.Task {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &Task{p: p, name: name, total: total}
	p.tasks = append(p.tasks, t)
	return t
}

// TaskRecord is what a task saw: its name and total, the sum of its Adds,
// every note in order, and whether it was Done.
type TaskRecord struct {
	Name  string
	Total int64
	Added int64
	Notes []string
	Done  bool
}

// Tasks returns a copy of every task's record, in start order.
func (p *Progress) Tasks() []TaskRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TaskRecord, len(p.tasks))
	for i, t := range p.tasks {
		out[i] = TaskRecord{Name: t.name, Total: t.total, Added: t.added, Notes: append([]string(nil), t.notes...), Done: t.done}
	}
	return out
}

// Task is one recorded task.
type Task struct {
	p     *Progress
	name  string
	total int64
	added int64
	notes []string
	done  bool
}

// Add implements stages.Task.
func (t *Task) Add(n int64) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	t.added += n
}

// Note implements stages.Task.
func (t *Task) Note(s string) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	t.notes = append(t.notes, s)
}

// Done implements stages.Task.
func (t *Task) Done() {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	t.done = true
}
