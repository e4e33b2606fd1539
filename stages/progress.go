package stages

// Progress shows how far a long step of a stage is: a bar that fits the
// terminal when the pipeline runs on one, periodic log lines (with numbers,
// not strings) otherwise. Stages never draw anything themselves.
type Progress interface {
	// Start begins a task of total units (0 when unknown), e.g.
	// Start("scrape", rows) or Start("epoch 3/12", batches).
	Start(name string, total int64) Task
}

// Task is one running progress display. Its methods are safe for
// concurrent use (scrape's workers call Add from many goroutines).
type Task interface {
	// Add counts n more units done.
	Add(n int64)
	// Note sets a short status shown after the counts, e.g. "loss 0.412"
	// or "downloaded 310 failed 4"; keep it under ~30 characters.
	Note(s string)
	// Done ends the display (the bar is completed and left on its line).
	Done()
}

// StartTask starts a task on p, or a no-op task when p is nil (tests, and
// callers that do not want progress).
func StartTask(p Progress, name string, total int64) Task {
	if p == nil {
		return nopTask{}
	}
	return p.Start(name, total)
}

type nopTask struct{}

func (nopTask) Add(int64)   {}
func (nopTask) Note(string) {}
func (nopTask) Done()       {}
