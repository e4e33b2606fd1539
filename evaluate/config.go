package evaluate

import "github.com/postergenre/postergenre/evaluate/evaluateconfig"

// The config types are defined in evaluateconfig, apart from the implementation,
// so that the configs package can load YAML without linking this stage.
type (
	Config = evaluateconfig.Config
)
