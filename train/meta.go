package train

import (
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/metrics"
)

// Meta is model.json in a model folder: everything prediction needs to
// rebuild the graph and restore the weights, and where they came from.
type Meta struct {
	Format      int      `json:"format"` // 1, or 2 for a seed ensemble (Members; older loaders refuse it)
	Genres      []string `json:"genres"` // output columns, in order
	Channels    int      `json:"channels"`
	ConvFilters []int    `json:"conv_filters"`
	Dense       []int    `json:"dense"`
	Dropout     float64  `json:"dropout"`
	BatchNorm   bool     `json:"batch_norm"`
	Loss        string   `json:"loss"` // softmax_ce | sigmoid_bce: Predict returns softmax or sigmoid probabilities
	// Backbone is the pretrained network in place of the conv stack (empty
	// for the conv stack; ConvFilters is then empty), FineTune its top
	// layers that were trained (their weights are in the checkpoint; the
	// rest come from the weights file, which must have WeightsSHA256).
	// WeightsPath is where training found them; LoadModel looks there
	// first, then where `make deps` installs them.
	Backbone       string `json:"backbone,omitempty"`
	FineTune       int    `json:"fine_tune,omitempty"`
	WeightsSHA256  string `json:"weights_sha256,omitempty"`
	WeightsLicense string `json:"weights_license,omitempty"`
	WeightsPath    string `json:"weights_path,omitempty"`
	// ConcatBackbone is the second frozen backbone whose pooled features
	// the head reads after Backbone's (train.concat_backbone), with its
	// weights' sha256, licence and where training found them, as for
	// Backbone.
	ConcatBackbone       string `json:"concat_backbone,omitempty"`
	ConcatWeightsSHA256  string `json:"concat_weights_sha256,omitempty"`
	ConcatWeightsLicense string `json:"concat_weights_license,omitempty"`
	ConcatWeightsPath    string `json:"concat_weights_path,omitempty"`
	// TTAFlip: probabilities are the mean of the image's and its mirror's.
	TTAFlip bool `json:"tta_flip,omitempty"`
	// GradCAMLayer is the feature map the heatmaps weigh: "convN" (conv
	// layer N's ReLU before its pooling) for the paper network, "head" for
	// a backbone (explain.go). Empty in a model written before it was
	// recorded; LoadModel then uses today's choice, which needs no
	// retraining (Grad-CAM reads the trained weights as they are).
	GradCAMLayer string `json:"gradcam_layer,omitempty"`
	// Precision the model was trained with ("" = float32); LoadModel runs
	// inference with it unless told otherwise.
	Precision string `json:"precision,omitempty"`
	// Preprocessing is how a poster becomes the network's input. Its fields
	// stay at the top level of model.json (width, height, fit, filter,
	// standardize, mean, std), as before it was grouped.
	Preprocessing
	// Threshold tuned on validation (maximises micro-F1 over
	// metrics.Grid(), as the evaluate stage does) for multi-label decisions.
	Threshold float64 `json:"threshold"`
	// PosterDetector is the poster-or-not detector and its calibration
	// (detector.go); absent in models trained before it existed.
	PosterDetector *PosterDetector `json:"poster_detector,omitempty"`
	// BestEpoch is the epoch whose weights the model folder holds (in an
	// ensemble, member 1's; each member's is in Members).
	BestEpoch int `json:"best_epoch"`
	// Members, in a seed ensemble (train.ensemble > 1; format 2), are its
	// models: the probabilities are the mean of theirs, and Threshold is
	// tuned on that mean. Each is a whole model folder of its own inside
	// this one; the architecture and preprocessing fields above are
	// theirs (they share them), CheckpointPrefix is empty.
	Members []Member `json:"members,omitempty"`
	// Provenance.
	ConfigSHA256     string `json:"config_sha256"`
	ManifestSHA256   string `json:"manifest_sha256"` // the encode manifest trained on
	TFVersion        string `json:"tf_version"`
	Device           string `json:"device"`            // the device training ran on
	CheckpointPrefix string `json:"checkpoint_prefix"` // relative to the model folder
}

// Member is one model of a seed ensemble, as model.json lists it.
type Member struct {
	Seed int64 `json:"seed"`
	// Dir is the member's model folder (model.json + checkpoint), relative
	// to the ensemble's; LoadModel loads it alone too.
	Dir       string  `json:"dir"`
	BestEpoch int     `json:"best_epoch"`
	Threshold float64 `json:"threshold"` // tuned on the member's own validation probabilities
	// Validation is the member's kept epoch's validation metrics.
	ValLoss     metrics.Num `json:"val_loss"`
	ValPaperAcc metrics.Num `json:"val_paper_accuracy"`
	ValTop3Hit  metrics.Num `json:"val_top3_hit"`
	ValMacroAUC metrics.Num `json:"val_macro_auc"`
}

// Preprocessing is the one description of a model's input: the encode
// stage's resize (copied from its manifest; encode.Preprocess.Image applies
// it to a decoded poster) and the scaling of its uint8 pixels (x/255, then
// (x-Mean)/Std per channel when Standardize; or, with Input "raw", the
// 0..255 values as they are, for a backbone that scales its own input;
// newScaler applies it). Training,
// evaluate (through the shards) and predict all go through these two.
//
// A model.json written before fit and filter were recorded has them empty:
// encode.Preprocess.WithDefaults reads that as encodeconfig's defaults, which
// is what encode used then.
type Preprocessing struct {
	encode.Preprocess
	// Input is "" (x/255, then Standardize) or InputRaw (0..255 as is).
	Input       string     `json:"input,omitempty"`
	Standardize bool       `json:"standardize"`
	Mean        [3]float32 `json:"mean"`
	Std         [3]float32 `json:"std"`
}

// EpochStats is one line of history.jsonl (and one row of history.csv). A
// metric that is undefined (no validation rows, an AUC without positives)
// is NaN, written as null (metrics.Num).
type EpochStats struct {
	Epoch           int         `json:"epoch"` // 1-based
	LearningRate    float64     `json:"learning_rate"`
	TrainLoss       metrics.Num `json:"train_loss"`
	TrainPaperAcc   metrics.Num `json:"train_paper_accuracy"`
	ValLoss         metrics.Num `json:"val_loss"`
	ValPaperAcc     metrics.Num `json:"val_paper_accuracy"`
	ValTop3Hit      metrics.Num `json:"val_top3_hit"`
	ValMacroAUC     metrics.Num `json:"val_macro_auc"`
	ImagesPerSecond float64     `json:"images_per_second"`
	Seconds         float64     `json:"seconds"`
	Best            bool        `json:"best"`
}

// Files and folders in the train stage's output folder.
const (
	ModelDir      = "model"         // model.json + best checkpoint: what predict and evaluate load
	MetaFile      = "model.json"    // inside ModelDir
	CheckpointDir = "checkpoints"   // last epoch's checkpoint incl. Adam slots and step, for --resume
	HistoryFile   = "history.jsonl" // in an ensemble, member 1's
	HistoryCSV    = "history.csv"
	// MembersDir holds a seed ensemble's members' training folders,
	// MembersDir/member-N, each laid out as a single model's output.
	MembersDir = "members"
)
