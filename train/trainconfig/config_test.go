package trainconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/stages"
)

// TestIdentity: a config without a backbone and with one model hashes as
// before the backbone and ensemble fields existed (none of them in its
// JSON), the backbone, fine-tuning and a larger ensemble change the
// identity, and the weights' location does not.
func TestIdentity(t *testing.T) {
	js := func(c Config) string {
		b, err := json.Marshal(c.Identity())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	plain := Default()
	for _, k := range []string{"Backbone", "FineTune", "Weights", "Ensemble", "ConcatBackbone"} {
		if strings.Contains(js(plain), `"`+k+`"`) {
			t.Errorf("identity of a config without a backbone names %s: %s", k, js(plain))
		}
	}
	if raw, _ := json.Marshal(plain.Hashed()); strings.Contains(string(raw), `"Ensemble"`) {
		t.Errorf("the hashed section of one model names Ensemble: %s", raw)
	}
	ens := plain
	ens.Ensemble = 3
	if js(ens) == js(plain) || !strings.Contains(js(ens), `"Ensemble":3`) {
		t.Errorf("ensemble 3 does not change the identity: %s", js(ens))
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
	cat := bb
	cat.ConcatBackbone = BackboneEfficientNetLite2
	if js(cat) == js(bb) {
		t.Error("concat_backbone does not change the identity")
	}
	if js(moved) != js(bb) {
		t.Error("the weights' location changes the identity")
	}
}

// TestHashesUnchanged: the defaults (the paper's train section) hash as
// they did before train.ensemble existed, both as the stage's fingerprint
// (Identity) and as model.json's config_sha256 (Hashed), so adding a field
// reran nothing and orphaned no trained model. The sums were computed at
// the commit before the field.
func TestHashesUnchanged(t *testing.T) {
	sum := func(v any) string {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(raw)
		return hex.EncodeToString(h[:])
	}
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"identity", Default().Identity(), "51153618382d6c41b9b6b01a88f25c0a839e34af96e4a839369e55cbf7abf8ab"},
		{"config_sha256", Default().Hashed(), "4fa629c3c19fb7da71c9ee6ffc912b8af8033189e1ba456ddb2f707d596c603e"},
	} {
		if got := sum(c.v); got != c.want {
			t.Errorf("%s of the defaults: sha256 %s, was %s", c.name, got, c.want)
		}
	}
}

// TestBackboneValidate: every backbone name is accepted with fine_tune up to
// its own layer count; an unknown name is refused with the list of valid
// ones; concat_backbone needs a different, frozen backbone beside it.
func TestBackboneValidate(t *testing.T) {
	for _, c := range []struct {
		backbone string
		fineTune int
		concat   string
		want     string // "" = valid, else a substring of the problem
	}{
		{"none", 0, "", ""},
		{"efficientnet_lite0", 0, "", ""},
		{"efficientnet_lite0", 18, "", ""},
		{"efficientnet_lite0", 19, "", "/train/fine_tune: must be in 0..18 (layers of efficientnet_lite0), got 19"},
		{"efficientnet_lite1", 23, "", ""},
		{"efficientnet_lite1", 24, "", "/train/fine_tune: must be in 0..23 (layers of efficientnet_lite1), got 24"},
		{"efficientnet_lite2", 0, "", ""},
		{"efficientnet_lite2", 23, "", ""},
		{"efficientnet_lite2", -1, "", "/train/fine_tune: must be in 0..23"},
		{"none", 2, "", "/train/fine_tune: needs a backbone"},
		{"efficientnet_lite3", 0, "", `/train/backbone: must be one of "none", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", got "efficientnet_lite3"`},
		{"EfficientNet_Lite2", 0, "", `/train/backbone: must be one of`},
		{"efficientnet_lite0", 0, "efficientnet_lite2", ""},
		{"efficientnet_lite2", 0, "efficientnet_lite1", ""},
		{"efficientnet_lite0", 0, "efficientnet_lite0", "/train/concat_backbone: must differ from backbone (efficientnet_lite0)"},
		{"efficientnet_lite0", 3, "efficientnet_lite2", "/train/concat_backbone: concatenates frozen features: needs fine_tune 0, got 3"},
		{"efficientnet_lite0", 0, "lite2", `/train/concat_backbone: must be "" or one of the backbones other than efficientnet_lite0, got "lite2"`},
		{"none", 0, "efficientnet_lite2", "/train/concat_backbone: needs a backbone to concatenate with"},
	} {
		cfg := Default()
		cfg.Backbone, cfg.FineTune, cfg.ConcatBackbone = c.backbone, c.fineTune, c.concat
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("backbone %q fine_tune %d concat %q: %v, want %q", c.backbone, c.fineTune, c.concat, err, c.want)
		}
	}
}

// TestEnsembleValidate: train.ensemble is 1..16, a problem names the field.
func TestEnsembleValidate(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string // "" = valid
	}{
		{1, ""},
		{3, ""},
		{16, ""},
		{0, "/train/ensemble: must be in 1..16"},
		{-2, "/train/ensemble: must be in 1..16"},
		{17, "/train/ensemble: must be in 1..16 (models trained with seeds seed, seed+1, ...), got 17"},
	} {
		cfg := Default()
		cfg.Ensemble = c.n
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("ensemble %d: %v, want %q", c.n, err, c.want)
		}
	}
}

// TestBackboneLRScale: train.backbone_lr_scale is in (0, 1] and needs
// fine-tuned layers to scale; its default 1 leaves the hashes as they were
// (TestHashesUnchanged covers the defaults), another value changes them.
func TestBackboneLRScale(t *testing.T) {
	for _, c := range []struct {
		scale    float64
		fineTune int
		want     string // "" = valid
	}{
		{1, 0, ""},
		{1, 2, ""},
		{0.1, 2, ""},
		{0.1, 0, "/train/backbone_lr_scale: scales the fine-tuned layers' rate: needs fine_tune > 0"},
		{0, 2, "/train/backbone_lr_scale: must be in (0, 1], got 0"},
		{1.5, 2, "/train/backbone_lr_scale: must be in (0, 1], got 1.5"},
	} {
		cfg := Default()
		cfg.Backbone, cfg.FineTune, cfg.BackboneLRScale = BackboneEfficientNetLite0, c.fineTune, c.scale
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("backbone_lr_scale %g fine_tune %d: %v, want %q", c.scale, c.fineTune, err, c.want)
		}
	}
	js := func(c Config) string {
		raw, err := json.Marshal(c.Identity())
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	ft := Default()
	ft.Backbone, ft.FineTune = BackboneEfficientNetLite0, 2
	if strings.Contains(js(ft), "BackboneLRScale") {
		t.Errorf("identity with the default scale names it: %s", js(ft))
	}
	scaled := ft
	scaled.BackboneLRScale = 0.1
	if js(scaled) == js(ft) {
		t.Error("backbone_lr_scale 0.1 does not change the identity")
	}
}

// TestInterOpThreads: train.inter_op_threads is >= 0, a problem names the
// field, and any value other than 0 changes the identity (0 leaves the
// hashes as they were: TestHashesUnchanged covers the defaults).
func TestInterOpThreads(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string // "" = valid
	}{
		{0, ""},
		{1, ""},
		{4, ""},
		{-1, "/train/inter_op_threads: must be >= 0, got -1"},
	} {
		cfg := Default()
		cfg.InterOpThreads = c.n
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("inter_op_threads %d: %v, want %q", c.n, err, c.want)
		}
	}
	one := Default()
	one.InterOpThreads = 1
	a, _ := json.Marshal(Default().Identity())
	b, _ := json.Marshal(one.Identity())
	if string(a) == string(b) {
		t.Error("inter_op_threads 1 does not change the identity")
	}
}
