package trainconfig_test

import (
	"strings"
	"testing"

	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train/trainconfig"
)

func TestPrecisionValidate(t *testing.T) {
	for _, c := range []struct {
		precision string
		ok        bool
	}{{"", true}, {"float32", true}, {"bfloat16", true}, {"float16", false}, {"bf16", false}} {
		cfg := trainconfig.Default()
		cfg.Precision = c.precision
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if c.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "/train/precision")) {
			t.Errorf("precision %q: %v", c.precision, err)
		}
	}
}
