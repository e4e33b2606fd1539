// Package trainconfig holds the train section of a pipeline config: its type,
// defaults and validation. It imports nothing heavy, so loading a config
// never links the stage's implementation (for train, TensorFlow).
package trainconfig

import (
	"strconv"

	"github.com/postergenre/postergenre/stages"
)

// Config is the train section of a pipeline config.
type Config struct {
	// Architecture: the paper's mini-VGG by default.
	ConvFilters []int   `yaml:"conv_filters"` // 3×3 'valid' convs, each + ReLU + 2×2 max-pool (unused with a backbone)
	Dense       []int   `yaml:"dense"`        // hidden dense layers, each + ReLU + dropout
	Dropout     float64 `yaml:"dropout"`
	BatchNorm   bool    `yaml:"batch_norm"`
	// Loss: "softmax_ce" (the paper: softmax + categorical cross-entropy on
	// the multi-hot vector) or "sigmoid_bce" (independent sigmoid per genre).
	Loss string `yaml:"loss"`

	// Backbone replaces the conv stack: "none" (the conv stack) or one of
	// Backbones, "efficientnet_lite0", "_lite1" or "_lite2" (pretrained on
	// ImageNet, 1280 features into the dense head; its own (x−127)/128
	// input scaling, so Standardize is off).
	Backbone string `yaml:"backbone" json:",omitempty"`
	// FineTune is how many of the backbone's layers (18 in Lite0, 23 in
	// Lite1 and Lite2), from the top, are trained (0 = frozen: with no
	// augmentation the features are computed once and only the head trains).
	FineTune int `yaml:"fine_tune" json:",omitempty"`
	// BackboneLRScale multiplies the learning rate of the fine-tuned
	// backbone layers (a discriminative rate: the pretrained weights move
	// slower than the new head); in (0, 1], 1 = the head's rate. Only with
	// fine_tune > 0. 1 is left out of every hash (Hashed), so configs
	// written before the field existed keep their fingerprints.
	BackboneLRScale float64 `yaml:"backbone_lr_scale" json:",omitempty"`
	// Weights is the backbone's .pth; "" = the one `make deps` installs
	// (.deps/weights/..., found beside the binary or above the working
	// folder). Its sha256 must be the variant's pinned one
	// (efficientnet.Variant.WeightsSHA256).
	Weights string `yaml:"weights" json:",omitempty"`
	// ConcatBackbone, when set, is a second pretrained backbone run on the
	// same pixels beside Backbone: the head reads both pooled feature
	// vectors concatenated (1280 + 1280). Both stay frozen (fine_tune 0),
	// so their features are computed once and cached like one frozen
	// backbone's. Its weights are the installed ones (`make deps`), sha256
	// checked. "" (the default) is left out of every hash.
	ConcatBackbone string `yaml:"concat_backbone" json:",omitempty"`

	Optimizer Optimizer `yaml:"optimizer"`
	BatchSize int       `yaml:"batch_size"`
	Epochs    int       `yaml:"epochs"`
	// Schedule of the learning rate over epochs: "constant", "cosine" or "step".
	Schedule      string        `yaml:"schedule"`
	StepEvery     int           `yaml:"step_every"`    // epochs, for "step"
	StepFactor    float64       `yaml:"step_factor"`   // multiplier, for "step"
	WarmupEpochs  int           `yaml:"warmup_epochs"` // linear warm-up before the schedule
	EarlyStopping EarlyStopping `yaml:"early_stopping"`

	Augment Augment `yaml:"augment"`
	// ClassWeights: "none" or "balanced" (loss weighted by inverse genre frequency).
	ClassWeights string `yaml:"class_weights"`
	// Scaling of pixels: x/255, then optionally (x-mean)/std per channel
	// (computed on the training split when Standardize is true).
	Standardize bool `yaml:"standardize"`

	ShuffleBuffer int   `yaml:"shuffle_buffer"`
	Seed          int64 `yaml:"seed"`
	// Deterministic: single-threaded kernels and a fixed op seed, so two runs
	// give identical weights (tests).
	Deterministic bool `yaml:"deterministic"`
	// Threads for TensorFlow's intra-op pool; 0 = all cores.
	Threads int `yaml:"threads"`
	// InterOpThreads sizes TensorFlow's inter-op pool (how many ops may run
	// at once); 0 = the same as Threads. Omitted from the section hash when
	// 0, so configs written before it keep their fingerprints.
	InterOpThreads int `yaml:"inter_op_threads" json:",omitempty"`
	// Device: "auto", "cpu" or "gpu" (fails if no GPU is visible).
	Device string `yaml:"device"`
	// Precision of the heavy ops: "" or "float32" (the default), or
	// "bfloat16" (TensorFlow's oneDNN auto-mixed-precision rewrite; the
	// variables, Adam and the loss stay float32). Omitted from the section
	// hash when empty, so configs written before it keep their fingerprints.
	Precision string `yaml:"precision" json:",omitempty"`
	// LabelSmoothing ε mixes each training target with the uniform one, as
	// Keras' label_smoothing: y·(1-ε) + ε/G for softmax_ce (G genres) and
	// y·(1-ε) + ε/2 for sigmoid_bce. Training loss only: val_loss and the
	// metrics read the true labels. 0 = off.
	LabelSmoothing float64 `yaml:"label_smoothing" json:",omitempty"`
	// WeightDecay λ is decoupled weight decay (AdamW, Loshchilov & Hutter):
	// each step, before Adam's update, every kernel (conv and dense; not
	// biases or batch-norm parameters) shrinks by lr·λ·w. Not an L2 term in
	// the loss. 0 = off.
	WeightDecay float64 `yaml:"weight_decay" json:",omitempty"`
	// TTAFlip averages the probabilities of each image and its horizontal
	// mirror at inference: validation during training, evaluate and predict
	// (model.json records it, so they all agree).
	TTAFlip bool `yaml:"tta_flip" json:",omitempty"`
	// EMADecay d keeps an exponential moving average of the trainable
	// weights, shadow ← d'·shadow + (1-d')·w after every step with
	// d' = min(d, (1+step)/(10+step)); validation, the kept model (and so
	// evaluate and predict) use the averaged weights, training continues on
	// the raw ones. 0 = off; typical 0.99–0.999.
	EMADecay float64 `yaml:"ema_decay" json:",omitempty"`
	// MaxStepsPerEpoch caps an epoch (0 = the whole training split); for smoke runs.
	MaxStepsPerEpoch int `yaml:"max_steps_per_epoch"`
	// Ensemble is how many models are trained, member i (0-based) with
	// seed Seed+i and otherwise the same config; the model's probabilities
	// are the mean of theirs (a frozen backbone's features are computed
	// once for all). 1 = one model, as before the field existed: Hashed
	// leaves it out of every hash then.
	Ensemble int `yaml:"ensemble" json:",omitempty"`
}

// Optimizer is Adam's settings.
type Optimizer struct {
	LearningRate float64 `yaml:"learning_rate"`
	Beta1        float64 `yaml:"beta1"`
	Beta2        float64 `yaml:"beta2"`
	Epsilon      float64 `yaml:"epsilon"`
}

// EarlyStopping stops when Metric on validation has not improved for Patience epochs (0 = off).
type EarlyStopping struct {
	Metric   string `yaml:"metric"` // val_loss, val_paper_accuracy, val_macro_auc, val_top3_hit
	Patience int    `yaml:"patience"`
}

// Augment describes training-time image augmentation (off by default, as the paper).
type Augment struct {
	Flip       bool    `yaml:"flip"`       // random horizontal flip
	ShiftPx    int     `yaml:"shift_px"`   // random shift up to this many pixels (edge-padded)
	Brightness float64 `yaml:"brightness"` // random brightness delta in ±this (of 1.0)
}

// Backbone names.
const (
	BackboneNone              = "none"
	BackboneEfficientNetLite0 = "efficientnet_lite0"
	BackboneEfficientNetLite1 = "efficientnet_lite1"
	BackboneEfficientNetLite2 = "efficientnet_lite2"
)

// Backbone is a pretrained backbone train.backbone may name.
type Backbone struct {
	Name string
	// Layers is how many layers fine_tune may train: the stem, the blocks
	// and the head conv (efficientnet.Variant.Layers; repeated here so that
	// configs need not link TensorFlow, and a test checks they agree).
	Layers int
}

// Backbones lists the pretrained backbones, smallest first.
func Backbones() []Backbone {
	return []Backbone{
		{Name: BackboneEfficientNetLite0, Layers: 18},
		{Name: BackboneEfficientNetLite1, Layers: 23},
		{Name: BackboneEfficientNetLite2, Layers: 23},
	}
}

// backboneNamed returns the backbone called name.
func backboneNamed(name string) (Backbone, bool) {
	for _, b := range Backbones() {
		if b.Name == name {
			return b, true
		}
	}
	return Backbone{}, false
}

// backboneChoices is every valid train.backbone value, quoted, for errors.
func backboneChoices() string {
	s := strconv.Quote(BackboneNone)
	for _, b := range Backbones() {
		s += ", " + strconv.Quote(b.Name)
	}
	return s
}

// validateConcat checks concat_backbone against a valid backbone.
func (c Config) validateConcat(prefix string, ps *stages.Problems) {
	switch _, ok := backboneNamed(c.ConcatBackbone); {
	case c.ConcatBackbone == "":
	case !ok:
		ps.Addf(prefix+"/concat_backbone", "must be \"\" or one of the backbones other than %s, got %q", c.Backbone, c.ConcatBackbone)
	case c.ConcatBackbone == c.Backbone:
		ps.Addf(prefix+"/concat_backbone", "must differ from backbone (%s): the same features twice add nothing", c.Backbone)
	case c.FineTune != 0:
		ps.Addf(prefix+"/concat_backbone", "concatenates frozen features: needs fine_tune 0, got %d", c.FineTune)
	}
}

// HasBackbone reports whether a pretrained backbone replaces the conv stack.
func (c Config) HasBackbone() bool { return c.Backbone != "" && c.Backbone != BackboneNone }

// identity is Config without its methods, for Identity's JSON.
type identity Config

// Hashed is the section as its hashes read it (Identity, and model.json's
// config_sha256): ensemble 1 and backbone_lr_scale 1, the defaults, are
// left out (omitempty), so a config written before the fields existed
// keeps its fingerprint and its trained model.
func (c Config) Hashed() Config {
	if c.Ensemble == 1 {
		c.Ensemble = 0
	}
	if c.BackboneLRScale == 1 {
		c.BackboneLRScale = 0
	}
	return c
}

// Identity is what of the section decides the trained model, and so the
// train stage's fingerprint (stages.ConfigIdentifier): everything but where
// the weights file is (its sha256 is pinned, so its location changes
// nothing). Without a backbone the three backbone fields are left out
// (omitempty), so configs written before they existed keep their
// fingerprints and their trained models.
func (c Config) Identity() any {
	c = c.Hashed()
	if c.Backbone == BackboneNone {
		c.Backbone = ""
	}
	c.Weights = ""
	return identity(c)
}

var _ stages.ConfigIdentifier = Config{}

// Default is the train section's defaults: the paper's setup.
func Default() Config {
	return Config{
		ConvFilters:   []int{32, 32, 32, 64},
		Dense:         []int{64, 32},
		Dropout:       0.5,
		Loss:          "softmax_ce",
		Backbone:      BackboneNone,
		Optimizer:     Optimizer{LearningRate: 1e-4, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7},
		BatchSize:     32,
		Epochs:        50,
		Schedule:      "constant",
		StepFactor:    0.5,
		EarlyStopping: EarlyStopping{Metric: "val_loss"},
		ClassWeights:  "none",
		ShuffleBuffer: 4096,
		Seed:          1,
		Device:        "auto",
		Ensemble:      1,
		// BackboneLRScale 1: fine-tuned layers at the head's rate.
		BackboneLRScale: 1,
	}
}

// Validate appends every problem of the section, with paths under prefix.
func (c Config) Validate(prefix string, ps *stages.Problems) {
	c.validateModel(prefix, ps)
	c.validateSchedule(prefix, ps)
	c.validateRegularization(prefix, ps)
	c.validateRuntime(prefix, ps)
}

// validateModel checks the network: backbone, layers, dropout and loss.
func (c Config) validateModel(prefix string, ps *stages.Problems) {
	if bb, ok := backboneNamed(c.Backbone); ok {
		if c.FineTune < 0 || c.FineTune > bb.Layers {
			ps.Addf(prefix+"/fine_tune", "must be in 0..%d (layers of %s), got %d", bb.Layers, c.Backbone, c.FineTune)
		}
		if c.BackboneLRScale <= 0 || c.BackboneLRScale > 1 {
			ps.Addf(prefix+"/backbone_lr_scale", "must be in (0, 1], got %g", c.BackboneLRScale)
		} else if c.BackboneLRScale != 1 && c.FineTune == 0 {
			ps.Addf(prefix+"/backbone_lr_scale", "scales the fine-tuned layers' rate: needs fine_tune > 0, got %g with fine_tune 0", c.BackboneLRScale)
		}
		if c.Standardize {
			ps.Addf(prefix+"/standardize", "must be false with a backbone: it scales its input as it was trained ((x-127)/128)")
		}
		c.validateConcat(prefix, ps)
	} else if c.Backbone == BackboneNone || c.Backbone == "" {
		if len(c.ConvFilters) == 0 {
			ps.Addf(prefix+"/conv_filters", "must list at least one layer")
		}
		if c.FineTune != 0 {
			ps.Addf(prefix+"/fine_tune", "needs a backbone, got %d with backbone none", c.FineTune)
		}
		if c.ConcatBackbone != "" {
			ps.Addf(prefix+"/concat_backbone", "needs a backbone to concatenate with, got %q with backbone none", c.ConcatBackbone)
		}
	} else {
		ps.Addf(prefix+"/backbone", "must be one of %s, got %q", backboneChoices(), c.Backbone)
	}
	for i, f := range c.ConvFilters {
		if f < 1 || f > 1024 {
			ps.Addf(prefix+"/conv_filters/"+stages.Index(i), "must be in 1..1024, got %d", f)
		}
	}
	for i, d := range c.Dense {
		if d < 1 || d > 8192 {
			ps.Addf(prefix+"/dense/"+stages.Index(i), "must be in 1..8192, got %d", d)
		}
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		ps.Addf(prefix+"/dropout", "must be in [0, 1), got %g", c.Dropout)
	}
	if c.Loss != "softmax_ce" && c.Loss != "sigmoid_bce" {
		ps.Addf(prefix+"/loss", `must be "softmax_ce" or "sigmoid_bce", got %q`, c.Loss)
	}
}

// validateSchedule checks the optimizer and how long and how fast it runs:
// batch size, epochs, learning-rate schedule, warm-up and early stopping.
func (c Config) validateSchedule(prefix string, ps *stages.Problems) {
	o := c.Optimizer
	if o.LearningRate <= 0 || o.LearningRate > 1 {
		ps.Addf(prefix+"/optimizer/learning_rate", "must be > 0 and <= 1, got %g", o.LearningRate)
	}
	if o.Beta1 < 0 || o.Beta1 >= 1 {
		ps.Addf(prefix+"/optimizer/beta1", "must be in [0, 1), got %g", o.Beta1)
	}
	if o.Beta2 < 0 || o.Beta2 >= 1 {
		ps.Addf(prefix+"/optimizer/beta2", "must be in [0, 1), got %g", o.Beta2)
	}
	if o.Epsilon <= 0 {
		ps.Addf(prefix+"/optimizer/epsilon", "must be > 0, got %g", o.Epsilon)
	}
	if c.BatchSize < 1 || c.BatchSize > 4096 {
		ps.Addf(prefix+"/batch_size", "must be in 1..4096, got %d", c.BatchSize)
	}
	if c.Epochs < 1 || c.Epochs > 10000 {
		ps.Addf(prefix+"/epochs", "must be in 1..10000, got %d", c.Epochs)
	}
	switch c.Schedule {
	case "constant", "cosine":
	case "step":
		if c.StepEvery < 1 {
			ps.Addf(prefix+"/step_every", `must be >= 1 with schedule "step", got %d`, c.StepEvery)
		}
		if c.StepFactor <= 0 || c.StepFactor > 1 {
			ps.Addf(prefix+"/step_factor", "must be in (0, 1], got %g", c.StepFactor)
		}
	default:
		ps.Addf(prefix+"/schedule", `must be "constant", "cosine" or "step", got %q`, c.Schedule)
	}
	if c.WarmupEpochs < 0 {
		ps.Addf(prefix+"/warmup_epochs", "must be >= 0, got %d", c.WarmupEpochs)
	}
	switch c.EarlyStopping.Metric {
	case "val_loss", "val_paper_accuracy", "val_macro_auc", "val_top3_hit":
	default:
		ps.Addf(prefix+"/early_stopping/metric", "must be one of val_loss, val_paper_accuracy, val_macro_auc, val_top3_hit, got %q", c.EarlyStopping.Metric)
	}
	if c.EarlyStopping.Patience < 0 {
		ps.Addf(prefix+"/early_stopping/patience", "must be >= 0, got %d", c.EarlyStopping.Patience)
	}
}

// validateRegularization checks augmentation, class weights, label
// smoothing, weight decay and the weight average.
func (c Config) validateRegularization(prefix string, ps *stages.Problems) {
	if c.Augment.ShiftPx < 0 || c.Augment.ShiftPx > 32 {
		ps.Addf(prefix+"/augment/shift_px", "must be in 0..32, got %d", c.Augment.ShiftPx)
	}
	if c.Augment.Brightness < 0 || c.Augment.Brightness > 1 {
		ps.Addf(prefix+"/augment/brightness", "must be in [0, 1], got %g", c.Augment.Brightness)
	}
	if c.ClassWeights != "none" && c.ClassWeights != "balanced" {
		ps.Addf(prefix+"/class_weights", `must be "none" or "balanced", got %q`, c.ClassWeights)
	}
	if c.LabelSmoothing < 0 || c.LabelSmoothing >= 1 {
		ps.Addf(prefix+"/label_smoothing", "must be in [0, 1), got %g", c.LabelSmoothing)
	}
	if c.WeightDecay < 0 || c.WeightDecay >= 1 {
		ps.Addf(prefix+"/weight_decay", "must be in [0, 1), got %g", c.WeightDecay)
	}
	if c.EMADecay != 0 && (c.EMADecay < 0.5 || c.EMADecay >= 1) {
		ps.Addf(prefix+"/ema_decay", "must be 0 (off) or in [0.5, 1), got %g", c.EMADecay)
	}
}

// validateRuntime checks how training runs: input shuffling, threads,
// device, precision, the per-epoch step cap and the ensemble's size.
func (c Config) validateRuntime(prefix string, ps *stages.Problems) {
	if c.ShuffleBuffer < 1 {
		ps.Addf(prefix+"/shuffle_buffer", "must be >= 1, got %d", c.ShuffleBuffer)
	}
	if c.Threads < 0 {
		ps.Addf(prefix+"/threads", "must be >= 0, got %d", c.Threads)
	}
	if c.InterOpThreads < 0 {
		ps.Addf(prefix+"/inter_op_threads", "must be >= 0, got %d", c.InterOpThreads)
	}
	if c.Device != "auto" && c.Device != "cpu" && c.Device != "gpu" {
		ps.Addf(prefix+"/device", `must be "auto", "cpu" or "gpu", got %q`, c.Device)
	}
	if c.Precision != "" && c.Precision != "float32" && c.Precision != "bfloat16" {
		ps.Addf(prefix+"/precision", `must be "float32" or "bfloat16", got %q`, c.Precision)
	}
	if c.MaxStepsPerEpoch < 0 {
		ps.Addf(prefix+"/max_steps_per_epoch", "must be >= 0, got %d", c.MaxStepsPerEpoch)
	}
	if c.Ensemble < 1 || c.Ensemble > MaxEnsemble {
		ps.Addf(prefix+"/ensemble", "must be in 1..%d (models trained with seeds seed, seed+1, ...), got %d", MaxEnsemble, c.Ensemble)
	}
}

// MaxEnsemble bounds train.ensemble: each member is a full training run
// and a session at inference.
const MaxEnsemble = 16
