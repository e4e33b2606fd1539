package encode

import "github.com/postergenre/postergenre/encode/encodeconfig"

// The config types are defined in encodeconfig, apart from the implementation,
// so that the configs package can load YAML without linking this stage.
type (
	Config = encodeconfig.Config
	Split  = encodeconfig.Split
	Image  = encodeconfig.Image
)
