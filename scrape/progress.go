package scrape

import (
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/postergenre/postergenre/stages"
)

// progress counts finished rows and shows them through the pipeline's
// stages.Progress (a bar on a terminal, log lines under cron). Without one
// (the stage used as a library, tests) it logs "scrape progress" every
// interval itself.
type progress struct {
	total      int
	done       atomic.Int64 // rows finished (any outcome)
	downloaded atomic.Int64
	failed     atomic.Int64
	start      time.Time
	task       stages.Task // nil: log lines
	stop       chan struct{}
	stopped    chan struct{}
}

func startProgress(total int, shown stages.Progress, logger *slog.Logger, every time.Duration) *progress {
	p := &progress{total: total, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	if shown != nil {
		p.task = shown.Start("scrape", int64(total))
	}
	interval := every
	if p.task != nil {
		interval = 250 * time.Millisecond // only the note is refreshed
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.show(logger)
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// add records one finished row.
func (p *progress) add() {
	p.done.Add(1)
	if p.task != nil {
		p.task.Note(p.note()) // before Add: the last Add completes the bar
		p.task.Add(1)
	}
}

func (p *progress) show(logger *slog.Logger) {
	if p.task != nil {
		p.task.Note(p.note())
	} else if logger != nil {
		logger.Info("scrape progress", p.attrs()...)
	}
}

func (p *progress) finish() {
	close(p.stop)
	<-p.stopped
	if p.task != nil {
		p.task.Note(p.note())
		p.task.Done()
	}
}

// note is the short status beside the bar.
func (p *progress) note() string {
	return fmt.Sprintf("ok %d failed %d", p.downloaded.Load(), p.failed.Load())
}

func (p *progress) rate() (done int64, rate float64, eta time.Duration) {
	done = p.done.Load()
	el := time.Since(p.start).Seconds()
	if el > 0 {
		rate = float64(done) / el
	}
	if rate > 0 {
		eta = time.Duration(float64(int64(p.total)-done) / rate * float64(time.Second)).Round(time.Second)
	}
	return done, rate, eta
}

// attrs are the log line's: numbers as numbers (rate_per_s, eta_s).
func (p *progress) attrs() []any {
	done, rate, eta := p.rate()
	return []any{"done", done, "total", p.total, "downloaded", p.downloaded.Load(),
		"failed", p.failed.Load(), "rate_per_s", math.Round(rate*10) / 10, "eta_s", eta.Seconds()}
}
