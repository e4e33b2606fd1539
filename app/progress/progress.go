// Package progress implements stages.Progress: on a terminal a bar from
// github.com/schollz/progressbar that fits the terminal's width and
// redraws one line in place; anywhere else (cron, a pipe) one log record
// every interval, with the rate as a number.
package progress

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/postergenre/postergenre/stages"
)

// Bars draws one bar at a time on w, a terminal. The pipeline runs one
// stage at a time, and each stage one long step at a time.
type Bars struct{ W io.Writer }

// Start begins a bar. The description is the task name and its note; the
// bar takes the width that is left on the terminal line.
func (b Bars) Start(name string, total int64) stages.Task {
	max := total
	if max <= 0 {
		max = -1 // a spinner
	}
	t := &bar{name: name}
	t.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(b.W),
		progressbar.OptionSetDescription(name),
		progressbar.OptionFullWidth(),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionOnCompletion(func() { io.WriteString(b.W, "\n") }),
	)
	return t
}

type bar struct {
	mu   sync.Mutex
	name string
	bar  *progressbar.ProgressBar
	done bool
}

func (t *bar) Add(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bar.Add64(n)
}

func (t *bar) Note(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == "" {
		t.bar.Describe(t.name)
		return
	}
	t.bar.Describe(t.name + " " + s)
}

func (t *bar) Done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	if t.bar.GetMax64() > 0 && !t.bar.IsFinished() {
		// Stopped short (items skipped, early stop): leave the line as it
		// stands, ended, rather than a bar claiming 100%.
		t.bar.Exit()
		return
	}
	t.bar.Finish()
}

// Logs writes a "progress" record to Logger every Every (10s when 0), and
// one when the task is done: stages.LogProgress, the one progress ticker,
// which a stage used without the CLI (scrape) starts itself.
type Logs = stages.LogProgress
