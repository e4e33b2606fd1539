package pipeline

import (
	"slices"
	"testing"
)

// TestDiffFlat: changed, added and removed keys are differences; a key
// one record lacks and the other holds at its zero value (a field added
// since, left at its default) is not.
func TestDiffFlat(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b map[string]string
		want []string
	}{
		{"same", map[string]string{"train.epochs": "50"}, map[string]string{"train.epochs": "50"}, nil},
		{"changed", map[string]string{"train.epochs": "50"}, map[string]string{"train.epochs": "3"}, []string{"train.epochs"}},
		{"added at zero", map[string]string{}, map[string]string{"train.inter_op_threads": "0", "train.concat_backbone": ""}, nil},
		{"removed at zero", map[string]string{"train.deterministic": "false"}, map[string]string{}, nil},
		{"added non-zero", map[string]string{}, map[string]string{"train.inter_op_threads": "1"}, []string{"train.inter_op_threads"}},
		{"set to zero", map[string]string{"train.fine_tune": "8"}, map[string]string{"train.fine_tune": "0"}, []string{"train.fine_tune"}},
	} {
		var got []string
		for _, ch := range diffFlat(c.a, c.b) {
			got = append(got, ch.Key)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: changed %v, want %v", c.name, got, c.want)
		}
	}
}
