package train

import "github.com/postergenre/postergenre/train/trainconfig"

// The config types are defined in trainconfig, apart from the implementation,
// so that the configs package can load YAML without linking this stage.
type (
	Config        = trainconfig.Config
	Optimizer     = trainconfig.Optimizer
	EarlyStopping = trainconfig.EarlyStopping
	Augment       = trainconfig.Augment
)
