package cli

import (
	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
)

// buildStages wires the five stages of a config: the one place that names
// their implementations (pipeline.Options.Build).
func buildStages(cfg configs.Config) map[string]stages.Stage { return stagesVerifying(false)(cfg) }

// stagesVerifying is buildStages for `--verify`, which also makes scrape
// read every stored poster rather than trust the store's digest cache.
func stagesVerifying(verify bool) func(configs.Config) map[string]stages.Stage {
	return func(cfg configs.Config) map[string]stages.Stage {
		return map[string]stages.Stage{
			stages.Scrape:   &scrape.Stage{Cfg: cfg.Scrape, Verify: verify},
			stages.Clean:    &clean.Stage{Cfg: cfg.Clean},
			stages.Encode:   &encode.Stage{Cfg: cfg.Encode},
			stages.Train:    &train.Stage{Cfg: cfg.Train},
			stages.Evaluate: &evaluate.Stage{Cfg: cfg.Evaluate},
		}
	}
}
