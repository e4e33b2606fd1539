package scrape

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/postergenre/postergenre/stages"
)

// progress counts finished rows and shows them through the pipeline's
// stages.Progress (a bar on a terminal, log lines under cron). Without one
// (the stage used as a library, tests) it logs through
// stages.LogProgress every interval, as the pipeline does off a terminal.
type progress struct {
	downloaded atomic.Int64
	failed     atomic.Int64
	task       stages.Task
}

func startProgress(total int, shown stages.Progress, logger *slog.Logger, every time.Duration) *progress {
	if shown == nil {
		shown = stages.LogProgress{Logger: logger, Every: every}
	}
	return &progress{task: shown.Start("scrape", int64(total))}
}

// add records one finished row.
func (p *progress) add() {
	p.task.Note(p.note()) // before Add: the last Add completes the bar
	p.task.Add(1)
}

func (p *progress) finish() {
	p.task.Note(p.note())
	p.task.Done()
}

// note is the short status beside the bar, or in the log line.
func (p *progress) note() string {
	return fmt.Sprintf("ok %d failed %d", p.downloaded.Load(), p.failed.Load())
}
