package train

import (
	"fmt"
	"time"

	"github.com/postergenre/postergenre/stages"
)

// epochProgress shows one epoch through the pipeline's progress display (a bar
// on a terminal, log lines otherwise): a unit per training step, with the
// running loss as its note.
type epochProgress struct {
	task  stages.Task
	start time.Time
}

// newProgress starts epoch's task; label ("member 2/3 " in an ensemble,
// else "") leads its name.
func newProgress(p stages.Progress, label string, epoch, epochs, total int) *epochProgress {
	return &epochProgress{task: stages.StartTask(p, fmt.Sprintf("%sepoch %d/%d", label, epoch, epochs), int64(max(total, 0))), start: time.Now()}
}

// step reports a finished step and the mean loss of the images so far.
func (p *epochProgress) step(loss float64) {
	p.task.Add(1)
	p.task.Note(fmt.Sprintf("loss %.4f", loss))
}

// done ends the epoch's display.
func (p *epochProgress) done() { p.task.Done() }
