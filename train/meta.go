package train

// Meta is model.json in a model folder: everything prediction needs to
// rebuild the graph and restore the weights, and where they came from.
type Meta struct {
	Format      int      `json:"format"` // 1
	Genres      []string `json:"genres"` // output columns, in order
	Height      int      `json:"height"`
	Width       int      `json:"width"`
	Channels    int      `json:"channels"`
	ConvFilters []int    `json:"conv_filters"`
	Dense       []int    `json:"dense"`
	Dropout     float64  `json:"dropout"`
	BatchNorm   bool     `json:"batch_norm"`
	Loss        string   `json:"loss"` // softmax_ce | sigmoid_bce: Predict returns softmax or sigmoid probabilities
	// Preprocessing: x/255, then (x-Mean)/Std per channel when Standardize.
	Standardize bool       `json:"standardize"`
	Mean        [3]float32 `json:"mean"`
	// ImageFit and ImageFilter repeat how encode resized posters (from its
	// manifest), so prediction prepares an image exactly as training saw it.
	ImageFit    string     `json:"image_fit"`
	ImageFilter string     `json:"image_filter"`
	Std         [3]float32 `json:"std"`
	// Fit and Filter are how encode resized posters (PrepareImage's
	// arguments), copied from its manifest so prediction prepares alike.
	Fit    string `json:"fit,omitempty"`
	Filter string `json:"filter,omitempty"`
	// Threshold tuned on validation (maximises micro-F1) for multi-label decisions.
	Threshold float64 `json:"threshold"`
	// BestEpoch is the epoch whose weights the model folder holds.
	BestEpoch int `json:"best_epoch"`
	// Provenance.
	ConfigSHA256     string `json:"config_sha256"`
	ManifestSHA256   string `json:"manifest_sha256"` // the encode manifest trained on
	TFVersion        string `json:"tf_version"`
	Device           string `json:"device"`            // the device training ran on
	CheckpointPrefix string `json:"checkpoint_prefix"` // relative to the model folder
}

// EpochStats is one line of history.jsonl (and one row of history.csv).
type EpochStats struct {
	Epoch           int     `json:"epoch"` // 1-based
	LearningRate    float64 `json:"learning_rate"`
	TrainLoss       float64 `json:"train_loss"`
	TrainPaperAcc   float64 `json:"train_paper_accuracy"`
	ValLoss         float64 `json:"val_loss"`
	ValPaperAcc     float64 `json:"val_paper_accuracy"`
	ValTop3Hit      float64 `json:"val_top3_hit"`
	ValMacroAUC     float64 `json:"val_macro_auc"`
	ImagesPerSecond float64 `json:"images_per_second"`
	Seconds         float64 `json:"seconds"`
	Best            bool    `json:"best"`
}

// Files and folders in the train stage's output folder.
const (
	ModelDir      = "model"       // model.json + best checkpoint: what predict and evaluate load
	MetaFile      = "model.json"  // inside ModelDir
	CheckpointDir = "checkpoints" // last epoch's checkpoint incl. Adam slots and step, for --resume
	HistoryFile   = "history.jsonl"
	HistoryCSV    = "history.csv"
)
