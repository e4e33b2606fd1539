package trainconfig_test

import (
	"strings"
	"testing"

	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// TestBackboneValidate: every backbone name is accepted with fine_tune up to
// its own layer count; an unknown name is refused with the list of valid
// ones.
func TestBackboneValidate(t *testing.T) {
	for _, c := range []struct {
		backbone string
		fineTune int
		want     string // "" = valid, else a substring of the problem
	}{
		{"none", 0, ""},
		{"efficientnet_lite0", 0, ""},
		{"efficientnet_lite0", 18, ""},
		{"efficientnet_lite0", 19, "/train/fine_tune: must be in 0..18 (layers of efficientnet_lite0), got 19"},
		{"efficientnet_lite1", 23, ""},
		{"efficientnet_lite1", 24, "/train/fine_tune: must be in 0..23 (layers of efficientnet_lite1), got 24"},
		{"efficientnet_lite2", 0, ""},
		{"efficientnet_lite2", 23, ""},
		{"efficientnet_lite2", -1, "/train/fine_tune: must be in 0..23"},
		{"none", 2, "/train/fine_tune: needs a backbone"},
		{"efficientnet_lite3", 0, `/train/backbone: must be one of "none", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", got "efficientnet_lite3"`},
		{"EfficientNet_Lite2", 0, `/train/backbone: must be one of`},
	} {
		cfg := trainconfig.Default()
		cfg.Backbone, cfg.FineTune = c.backbone, c.fineTune
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("backbone %q fine_tune %d: %v, want %q", c.backbone, c.fineTune, err, c.want)
		}
	}
}
