package pipeline

import "github.com/postergenre/postergenre/internal/textcap"

// MaxErrorText bounds an error text in run.json, log records and the run
// summary. Stage errors can quote their input (a CSV header, a server's
// answer); whatever a hostile input makes them, a record stays small.
const MaxErrorText = 1 << 10

// CapText returns s, or its first MaxErrorText bytes followed by
// "… (N bytes)" when it is longer (textcap.Cut).
func CapText(s string) string { return textcap.Cut(s, MaxErrorText) }
