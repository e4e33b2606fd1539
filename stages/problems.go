package stages

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a config, addressed by a JSON-pointer style
// path such as /train/learning_rate. The configs package adds file and line.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Problems collects every problem of a config so that Validate can report
// them all at once instead of stopping at the first.
type Problems []Problem

// Addf records a problem at path.
func (ps *Problems) Addf(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns nil when there are no problems.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
