// Package buildinfo carries the program version and commit, set by the
// Makefile through -ldflags -X.
package buildinfo

var (
	Version = "dev"
	Commit  = "unknown"
)
