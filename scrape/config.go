package scrape

import "github.com/postergenre/postergenre/scrape/scrapeconfig"

// The config types are defined in scrapeconfig, apart from the implementation,
// so that the configs package can load YAML without linking this stage.
type (
	Config  = scrapeconfig.Config
	Rewrite = scrapeconfig.Rewrite
)
