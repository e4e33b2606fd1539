package trainconfig

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/stages"
)

// TestIdentity: a config without a backbone hashes as before the backbone
// fields existed (none of them in its JSON), the backbone and fine-tuning
// change the identity, and the weights' location does not.
func TestIdentity(t *testing.T) {
	js := func(c Config) string {
		b, err := json.Marshal(c.Identity())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	plain := Default()
	for _, k := range []string{"Backbone", "FineTune", "Weights"} {
		if strings.Contains(js(plain), `"`+k+`"`) {
			t.Errorf("identity of a config without a backbone names %s: %s", k, js(plain))
		}
	}
	bb := plain
	bb.Backbone = BackboneEfficientNetLite0
	ft := bb
	ft.FineTune = 2
	moved := bb
	moved.Weights = "/elsewhere/efficientnet-lite0.pth"
	if js(bb) == js(plain) || js(ft) == js(bb) {
		t.Error("backbone or fine_tune does not change the identity")
	}
	if js(moved) != js(bb) {
		t.Error("the weights' location changes the identity")
	}
}

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
		cfg := Default()
		cfg.Backbone, cfg.FineTune = c.backbone, c.fineTune
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("backbone %q fine_tune %d: %v, want %q", c.backbone, c.fineTune, err, c.want)
		}
	}
}
