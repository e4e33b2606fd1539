package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/configs"
)

// CellError is a --cell that names no cell of the config (a usage error).
type CellError struct{ Msg string }

func (e *CellError) Error() string { return e.Msg }

// SelectCells returns the cells of cfg that sel names: every cell for "",
// else the one whose key (configs.GridKey, "40/0.0001") or index (0..N-1
// in grid order, as a Slurm array task numbers them) is sel.
func SelectCells(cfg *configs.Loaded, sel string) ([]configs.Cell, error) {
	cells := cfg.Cells()
	if sel == "" {
		return cells, nil
	}
	if cfg.Grid == nil {
		return nil, &CellError{Msg: fmt.Sprintf("--cell %s: config %s has no grid", sel, cfg.Name)}
	}
	if i, err := strconv.Atoi(sel); err == nil {
		if i < 0 || i >= len(cells) {
			return nil, &CellError{Msg: fmt.Sprintf("--cell %d: config %s has cells 0..%d", i, cfg.Name, len(cells)-1)}
		}
		return cells[i : i+1], nil
	}
	keys := make([]string, len(cells))
	for i, c := range cells {
		if c.Key == sel {
			return cells[i : i+1], nil
		}
		keys[i] = c.Key
	}
	return nil, &CellError{Msg: fmt.Sprintf("--cell %s: no such cell of %s (cells: %s, or an index 0..%d)", sel, cfg.Name, strings.Join(keys, ", "), len(cells)-1)}
}

// validRunID keeps a given run id a single plain folder name.
func validRunID(id string) bool {
	if id == "" || id == "." || id == ".." || id == "latest" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
