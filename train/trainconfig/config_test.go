package trainconfig

import (
	"encoding/json"
	"strings"
	"testing"
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
