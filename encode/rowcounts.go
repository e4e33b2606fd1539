package encode

import "github.com/postergenre/postergenre/stages"

var _ stages.RowAccounter = (*Stage)(nil)

// RowCountKeys names the summary entries that count rows: rejected by
// reason, and kept by split.
func (*Stage) RowCountKeys() []string { return []string{"rejects", "splits"} }
