package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws one epoch's progress bar on w (nil = none), at most every
// 300 ms and at the last step.
type progress struct {
	w             io.Writer
	epoch, epochs int
	total         int // steps in the epoch, -1 unknown
	start, last   time.Time
}

func newProgress(w io.Writer, epoch, epochs, total int) *progress {
	return &progress{w: w, epoch: epoch, epochs: epochs, total: total, start: time.Now()}
}

// step reports a finished step: the images so far and their mean loss.
func (p *progress) step(step, images int, loss float64) {
	if p.w == nil || (time.Since(p.last) <= 300*time.Millisecond && step != p.total) {
		return
	}
	p.last = time.Now()
	progressBar(p.w, p.epoch, p.epochs, step, p.total, images, loss, time.Since(p.start))
}

// done ends the bar's line.
func (p *progress) done() {
	if p.w != nil {
		fmt.Fprintln(p.w)
	}
}

func progressBar(w io.Writer, epoch, epochs, step, total, images int, loss float64, elapsed time.Duration) {
	const width = 24
	ips := 0.0
	if elapsed > 0 {
		ips = float64(images) / elapsed.Seconds()
	}
	bar, eta := "", ""
	if total > 0 {
		done := min(width*step/total, width)
		bar = "[" + strings.Repeat("=", done) + strings.Repeat(" ", width-done) + "] "
		left := time.Duration(float64(elapsed) / float64(max(step, 1)) * float64(max(total-step, 0)))
		eta = " ETA " + left.Round(time.Second).String()
	}
	fmt.Fprintf(w, "\repoch %d/%d %s%d/%d loss %.4f %.0f img/s%s   ", epoch, epochs, bar, step, total, loss, ips, eta)
}
