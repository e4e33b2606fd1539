package stages

import (
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

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

// LogProgress is the Progress for where no one watches a terminal (cron, a
// pipe, a stage used as a library): a "progress" record to Logger (nil:
// none) every Every (10s when 0), with the counts and rate as numbers, and
// one when the task is done. Its ticker goroutine ends with Done.
type LogProgress struct {
	Logger *slog.Logger
	Every  time.Duration
}

// Start begins a logged task.
func (l LogProgress) Start(name string, total int64) Task {
	every := l.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	t := &logTask{log: l.Logger, name: name, total: total, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(t.stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				t.emit("progress")
			case <-t.stop:
				t.emit("progress done")
				return
			}
		}
	}()
	return t
}

type logTask struct {
	log     *slog.Logger
	name    string
	total   int64
	done    atomic.Int64
	note    atomic.Pointer[string]
	start   time.Time
	once    sync.Once
	stop    chan struct{}
	stopped chan struct{}
}

func (t *logTask) Add(n int64)   { t.done.Add(n) }
func (t *logTask) Note(s string) { t.note.Store(&s) }
func (t *logTask) Done() {
	t.once.Do(func() {
		close(t.stop)
		<-t.stopped
	})
}

func (t *logTask) emit(msg string) {
	if t.log == nil {
		return
	}
	done := t.done.Load()
	el := time.Since(t.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	attrs := []any{"task", t.name, "done", done, "rate_per_s", math.Round(rate*10) / 10}
	if t.total > 0 {
		attrs = append(attrs, "total", t.total)
		if rate > 0 && done < t.total {
			attrs = append(attrs, "eta_s", math.Round(float64(t.total-done)/rate))
		}
	}
	if n := t.note.Load(); n != nil && *n != "" {
		attrs = append(attrs, "note", *n)
	}
	t.log.Info(msg, attrs...)
}
