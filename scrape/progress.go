package scrape

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// progress counts finished rows and shows them: a one-line bar redrawn at
// most 5 times a second on a terminal, else a log line every interval.
type progress struct {
	total      int
	done       atomic.Int64 // rows finished (any outcome)
	downloaded atomic.Int64
	failed     atomic.Int64
	start      time.Time
	stop       chan struct{}
	stopped    chan struct{}
}

func startProgress(total int, w io.Writer, logger *slog.Logger, every time.Duration) *progress {
	p := &progress{total: total, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	interval := every
	if w != nil {
		interval = 200 * time.Millisecond
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
				if w != nil {
					fmt.Fprintf(w, "\r%s\x1b[K", p.line())
				} else if logger != nil {
					logger.Info("scrape progress", p.attrs()...)
				}
			case <-p.stop:
				if w != nil {
					fmt.Fprintf(w, "\r%s\x1b[K\n", p.line())
				}
				return
			}
		}
	}()
	return p
}

func (p *progress) finish() {
	close(p.stop)
	<-p.stopped
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

func (p *progress) line() string {
	done, rate, eta := p.rate()
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = int(done * width / int64(p.total))
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	return fmt.Sprintf("scrape [%s] %d/%d  downloaded %d  failed %d  %.1f/s  ETA %s",
		bar, done, p.total, p.downloaded.Load(), p.failed.Load(), rate, eta)
}

func (p *progress) attrs() []any {
	done, rate, eta := p.rate()
	return []any{"done", done, "total", p.total, "downloaded", p.downloaded.Load(),
		"failed", p.failed.Load(), "rate_per_s", fmt.Sprintf("%.1f", rate), "eta", eta.String()}
}
