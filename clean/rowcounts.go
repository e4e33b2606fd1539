package clean

import "github.com/postergenre/postergenre/stages"

var _ stages.RowAccounter = (*Stage)(nil)

// RowCountKeys names the summary entry that counts rejected rows by reason.
func (*Stage) RowCountKeys() []string { return []string{"rejects"} }
