package stages

import "strconv"

// Index formats a list index for a problem path, e.g. "/genres/" + Index(2).
func Index(i int) string { return strconv.Itoa(i) }
