package clean

import "github.com/postergenre/postergenre/clean/cleanconfig"

// The config types are defined in cleanconfig, apart from the implementation,
// so that the configs package can load YAML without linking this stage.
type (
	Config = cleanconfig.Config
)
