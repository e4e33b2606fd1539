package main

import (
	"bytes"
	"strings"
	"testing"
)

// The variants without an input gradient time the first layer only; asked
// for another layer they must say so, not panic inside op.Gradients.
func TestFirstOnlyVariants(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{args: []string{"-h", "8", "-w", "8", "-cin", "8", "-cout", "4", "-variants", "patches"}, want: `variant "patches" times the first layer only`},
		{args: []string{"-h", "8", "-w", "8", "-cin", "8", "-cout", "4", "-variants", "conv,onehot"}, want: `variant "onehot" times the first layer only`},
		{args: []string{"-h", "8", "-w", "8", "-cin", "3", "-cout", "4", "-variants", "turbo"}, want: `unknown variant "turbo"`},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != 2 {
			t.Errorf("run(%v) = %d, want 2 (stderr %q)", c.args, code, errb.String())
		}
		if !strings.Contains(errb.String(), c.want) {
			t.Errorf("run(%v): stderr %q, want it to contain %q", c.args, errb.String(), c.want)
		}
	}
}
