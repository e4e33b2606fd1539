package metrics

import (
	"encoding/json"
	"math"
	"strconv"
)

// Num is a metric value that may be undefined (NaN: an AUC without a
// positive, an accuracy over no row). It is the one encoding of a missing
// metric in every file the pipeline writes: NaN and ±Inf as JSON null, and
// null read back as NaN (encoding/json refuses NaN outright).
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}
