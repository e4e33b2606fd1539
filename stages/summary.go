package stages

// SummaryKey names an entry of a Result.Summary that code outside the stage
// reads back from a stage manifest (serve's model card, run diffs). The
// stage that writes the entry declares its key as a constant of this type,
// so the writer and every reader spell it once, and reads go through the
// typed getters below rather than a type assertion on map[string]any.
type SummaryKey string

// Int is the entry as an int: an int as the stage wrote it, or a whole
// float64 as encoding/json reads it back from a manifest.
func (k SummaryKey) Int(sum map[string]any) (int, bool) {
	switch v := sum[string(k)].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		if v == float64(int(v)) {
			return int(v), true
		}
	}
	return 0, false
}

// Float is the entry as a float64 (an int is converted); false when it is
// missing, null or not a number.
func (k SummaryKey) Float(sum map[string]any) (float64, bool) { return Number(sum[string(k)]) }

// Number is v as a float64 when it is a number of any Go type a summary
// holds (int, int64, float32, float64): a stage that just ran hands over
// its own types, one read back from a manifest float64.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// Text is the entry as a string; false when it is missing or not a string.
func (k SummaryKey) Text(sum map[string]any) (string, bool) {
	s, ok := sum[string(k)].(string)
	return s, ok
}
