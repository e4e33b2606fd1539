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

func TestRegularisersValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*trainconfig.Config)
		path string // "" = valid
	}{
		{"defaults", func(*trainconfig.Config) {}, ""},
		{"all on", func(c *trainconfig.Config) {
			c.LabelSmoothing, c.WeightDecay, c.EMADecay, c.TTAFlip = 0.1, 0.01, 0.999, true
		}, ""},
		{"smoothing 1", func(c *trainconfig.Config) { c.LabelSmoothing = 1 }, "/train/label_smoothing"},
		{"smoothing negative", func(c *trainconfig.Config) { c.LabelSmoothing = -0.1 }, "/train/label_smoothing"},
		{"decay negative", func(c *trainconfig.Config) { c.WeightDecay = -1e-4 }, "/train/weight_decay"},
		{"decay 1", func(c *trainconfig.Config) { c.WeightDecay = 1 }, "/train/weight_decay"},
		{"ema 1", func(c *trainconfig.Config) { c.EMADecay = 1 }, "/train/ema_decay"},
		{"ema tiny", func(c *trainconfig.Config) { c.EMADecay = 0.1 }, "/train/ema_decay"},
	} {
		cfg := trainconfig.Default()
		c.edit(&cfg)
		var ps stages.Problems
		cfg.Validate("/train", &ps)
		err := ps.Err()
		if (c.path == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.path)) {
			t.Errorf("%s: %v, want problem at %q", c.name, err, c.path)
		}
	}
}
