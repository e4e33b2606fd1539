package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/internal/tfsession"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train/efficientnet"
)

// The trainer's jobs, one file each: session.go (session options and
// device), resume.go, schedule.go (learning rate), selection.go (best epoch
// and early stopping), epoch.go (one pass over a split), progress.go,
// checkpoint.go (checkpoints and the model folder), history.go. This file
// sets a run up and loops over the epochs.

// trainer holds one training run's session and state.
type trainer struct {
	cfg      Config
	env      stages.Env
	log      *slog.Logger
	ds       *dataset
	net      *netGraph
	sess     *tf.Session
	device   string
	sc       *scaler
	cw       *tf.Tensor // class weights feed, nil for "none"
	sel      selection
	state    ckptState
	history  []EpochStats
	cfgSHA   string
	meta     Meta
	stopped  bool
	trainLen int // rows in the training split (-1 unknown)
	// The pretrained backbone (nil without one), where its weights were
	// found, and the cached features of its frozen part (cachedFeatures;
	// nil: the whole graph runs per step).
	weights     *efficientnet.Weights
	weightsPath string
	// concat, concatPath: train.concat_backbone's weights (nil without).
	concat     *efficientnet.Weights
	concatPath string
	feats      *featureSet
	// bestProbs are the validation probabilities of the best epoch (tests
	// compare them with LoadModel's; an ensemble averages its members'),
	// bestLabels their labels.
	bestProbs, bestLabels []float32
	role                  memberRole
}

// memberRole is how a trainer takes part in a seed ensemble; the zero
// value trains a model alone.
type memberRole struct {
	label string         // "member 2/3 ": names the member in progress tasks
	share *backboneShare // what the members share; nil alone
}

// backboneShare is what a seed ensemble's members share: the backbone's
// weights, where they were found and the frozen part's features, loaded by
// the first member and reused by the others (the seed changes none of
// them).
type backboneShare struct {
	weights    *efficientnet.Weights
	path       string
	concat     *efficientnet.Weights
	concatPath string
	feats      *featureSet
}

// configSHA256 hashes the train section as JSON (Hashed: ensemble 1 is
// left out, as before the field existed).
func configSHA256(cfg Config) string {
	raw, _ := json.Marshal(cfg.Hashed())
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// newTrainer validates, opens the data, builds the graph and the session
// and either initialises or restores the variables.
func newTrainer(ctx context.Context, cfg Config, env stages.Env) (*trainer, error) {
	return openTrainer(ctx, cfg, env, memberRole{})
}

// openTrainer is newTrainer for a trainer in role.
func openTrainer(ctx context.Context, cfg Config, env stages.Env, role memberRole) (_ *trainer, err error) {
	var ps stages.Problems
	cfg.Validate("/train", &ps)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	encDir := env.Inputs[stages.Encode]
	if encDir == "" {
		return nil, errors.New("train: no encode output among the inputs")
	}
	ds, err := openDataset(encDir)
	if err != nil {
		return nil, err
	}
	t := &trainer{cfg: cfg, env: env, log: log, ds: ds, sel: newSelection(cfg.EarlyStopping),
		cfgSHA: configSHA256(cfg), trainLen: ds.count(encode.SplitTrain), role: role}
	if err := t.setupBackbone(ctx); err != nil {
		return nil, err
	}
	if t.net, err = buildGraph(t.netSpec()); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var threads int
	if t.sess, t.device, threads, err = openSession(t.net.graph, cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			t.sess.Close()
		}
	}()
	log.Info("tensorflow", "version", tf.Version(), "device", t.device, "threads", threads)
	if cfg.Precision == string(tfsession.BFloat16) && t.device == "CPU" && !tfsession.NativeBFloat16() {
		// TensorFlow rewrites the graph all the same and emulates the type:
		// measured 544 against 885 images/s for float32 on the paper net.
		log.Warn("bfloat16 on a CPU without native bfloat16 (no AVX512_BF16 or AMX): TensorFlow emulates it, slower than float32 here")
	}
	if err := t.start(ctx); err != nil {
		return nil, err
	}
	t.sc = newScaler(t.preprocessing())
	if cfg.ClassWeights == "balanced" {
		w := balancedWeights(ds.man)
		log.Info("class weights", "genres", ds.man.Genres, "weights", w)
		if t.cw, err = tf.NewTensor(w); err != nil {
			return nil, err
		}
	}
	t.meta = t.newMeta()
	return t, nil
}

// netSpec is the training graph's spec.
func (t *trainer) netSpec() netSpec {
	m, cfg := t.ds.man, t.cfg
	s := netSpec{
		Height: m.Height, Width: m.Width, Channels: 3, Genres: len(m.Genres),
		ConvFilters: cfg.ConvFilters, Dense: cfg.Dense, Dropout: cfg.Dropout, BatchNorm: cfg.BatchNorm,
		Loss: cfg.Loss, Seed: cfg.Seed, Optimizer: cfg.Optimizer, Training: true,
		LabelSmoothing: cfg.LabelSmoothing, WeightDecay: cfg.WeightDecay, EMADecay: cfg.EMADecay, TTAFlip: cfg.TTAFlip,
	}
	if t.feats != nil {
		// The mirrors come from the cache (tta_flip: evaluate averages).
		s.TTAFlip = false
	}
	switch {
	case t.feats != nil && t.feats.cut == 0:
		s.ConvFilters, s.BatchNorm, s.FeatureInput = nil, false, true
		s.Height, s.Width, s.Channels = 1, 1, t.feats.dim
	case cfg.HasBackbone():
		s.ConvFilters, s.BatchNorm = nil, false
		s.Backbone, s.FineTune, s.Weights = cfg.Backbone, cfg.FineTune, t.weights
		s.ConcatBackbone, s.ConcatWeights = cfg.ConcatBackbone, t.concat
		s.BackboneLRScale = cfg.BackboneLRScale
		if t.feats != nil {
			s.Cut = t.feats.cut
			s.Height, s.Width, s.Channels = t.feats.shape[0], t.feats.shape[1], t.feats.shape[2]
		}
	}
	return s
}

// start makes the output folders and resumes, or else initialises the
// variables and (with Standardize) the channel statistics.
func (t *trainer) start(ctx context.Context) error {
	for _, d := range []string{CheckpointDir, ModelDir} {
		if err := os.MkdirAll(filepath.Join(t.env.OutDir, d), 0o755); err != nil {
			return err
		}
	}
	resumed, err := t.tryResume()
	if err != nil || resumed {
		return err
	}
	if _, err := t.sess.Run(nil, nil, []*tf.Operation{t.net.initOp}); err != nil {
		return fmt.Errorf("train: init variables: %w", err)
	}
	t.state = ckptState{BestValue: metrics.Num(math.NaN()), Std: [3]float32{1, 1, 1}}
	if t.cfg.Standardize {
		if t.state.Mean, t.state.Std, err = t.ds.channelStats(ctx, encode.SplitTrain); err != nil {
			return fmt.Errorf("train: standardize: %w", err)
		}
	}
	return nil
}

// preprocessing is the input description model.json records: encode's
// resize from the manifest and this run's pixel scaling.
func (t *trainer) preprocessing() Preprocessing {
	if t.cfg.HasBackbone() {
		return Preprocessing{Preprocess: t.ds.man.Preprocess(), Input: InputRaw, Std: [3]float32{1, 1, 1}}
	}
	return Preprocessing{Preprocess: t.ds.man.Preprocess(), Standardize: t.cfg.Standardize, Mean: t.state.Mean, Std: t.state.Std}
}

func (t *trainer) newMeta() Meta {
	cfg := t.cfg
	m := Meta{
		Format: 1, Genres: t.ds.man.Genres, Channels: 3,
		ConvFilters: cfg.ConvFilters, Dense: cfg.Dense, Dropout: cfg.Dropout, BatchNorm: cfg.BatchNorm, Loss: cfg.Loss,
		Preprocessing: t.preprocessing(), Threshold: 0.5,
		ConfigSHA256: t.cfgSHA, ManifestSHA256: t.ds.manifestSHA, TFVersion: tf.Version(), Device: t.device,
		TTAFlip: cfg.TTAFlip, Precision: cfg.Precision, GradCAMLayer: GradCAMLayer(cfg.ConvFilters),
	}
	if cfg.HasBackbone() {
		m.ConvFilters, m.BatchNorm = nil, false
		m.Backbone, m.FineTune, m.GradCAMLayer = cfg.Backbone, cfg.FineTune, GradCAMLayer(nil)
		m.WeightsSHA256, m.WeightsLicense, m.WeightsPath = t.weights.SHA256, weightsLicense(cfg.Backbone), t.weightsPath
		if t.concat != nil {
			m.ConcatBackbone, m.ConcatWeightsSHA256, m.ConcatWeightsPath = cfg.ConcatBackbone, t.concat.SHA256, t.concatPath
			m.ConcatWeightsLicense = weightsLicense(cfg.ConcatBackbone)
		}
	}
	return m
}

// setupBackbone loads and checks the backbone's weights and, where it can,
// the features of its frozen part on the training splits
// (cachedFeatures). In an ensemble the first member loads both and the
// others reuse them.
func (t *trainer) setupBackbone(ctx context.Context) error {
	cfg, m := t.cfg, t.ds.man
	if !cfg.HasBackbone() {
		return nil
	}
	if m.Channels != 3 {
		return fmt.Errorf("train: backbone %s needs RGB input, the encode output has %d channels", cfg.Backbone, m.Channels)
	}
	share := t.role.share
	if share == nil {
		share = &backboneShare{}
	}
	if share.weights == nil {
		if err := t.loadWeights(share); err != nil {
			return err
		}
	}
	t.weights, t.weightsPath = share.weights, share.path
	t.concat, t.concatPath = share.concat, share.concatPath
	if share.feats == nil {
		var err error
		if share.feats, err = t.cachedFeatures(ctx); err != nil {
			return err
		}
	}
	t.feats = share.feats
	return nil
}

// cachedFeatures returns the features training reads instead of the
// images, or nil when the whole graph must run per step. The frozen part
// is cached: the whole backbone when frozen (pooled features), else
// everything below the fine-tuned layers; with augment.flip the training
// posters' mirrors too, with tta_flip the validation posters' (the
// validation pass then averages both, as the whole graph does). Images
// that change per epoch otherwise (shift, brightness) rule it out, and so
// do fine-tuning every layer (nothing frozen to cache) and an entry larger
// than maxFeatureCacheBytes.
func (t *trainer) cachedFeatures(ctx context.Context) (*featureSet, error) {
	cfg := t.cfg
	a := cfg.Augment
	if a.ShiftPx != 0 || a.Brightness != 0 || cfg.FineTune >= t.weights.Variant.Layers() {
		return nil, nil
	}
	key, shape := t.featureKeyFor(cfg.FineTune, a.Flip || cfg.TTAFlip)
	if b := key.bytes(t.ds.man.Splits); b > maxFeatureCacheBytes {
		t.log.Info("frozen part not cached: too large, the whole graph runs per step", "cut", key.Cut,
			"bytes", b, "limit", int64(maxFeatureCacheBytes))
		return nil, nil
	}
	return t.loadFeatures(ctx, key, shape)
}

// loadWeights loads the backbone's weights into share and says where they
// were found.
func (t *trainer) loadWeights(share *backboneShare) error {
	cfg, m := t.cfg, t.ds.man
	w, path, err := loadAbsWeights(cfg.Backbone, cfg.Weights)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if cfg.ConcatBackbone != "" {
		cw, cpath, err := loadAbsWeights(cfg.ConcatBackbone, "")
		if err != nil {
			return fmt.Errorf("train: concat_backbone: %w", err)
		}
		t.log.Info("concatenated backbone", "name", cfg.ConcatBackbone, "weights", cpath, "sha256", cw.SHA256)
		share.concat, share.concatPath = cw, cpath
	}
	if size := w.Variant.ImageSize; m.Height != size || m.Width != size {
		t.log.Warn("encode size is not the backbone's", "backbone", cfg.Backbone, "width", m.Width, "height", m.Height,
			"recommended", fmt.Sprintf("%d×%d", size, size))
	}
	t.log.Info("backbone", "name", cfg.Backbone, "fine_tune", cfg.FineTune, "weights", path, "sha256", w.SHA256)
	share.weights, share.path = w, path
	return nil
}

// loadAbsWeights is loadBackboneWeights with the path made absolute:
// model.json records it, and LoadModel may run from another folder.
func loadAbsWeights(backbone, path string) (*efficientnet.Weights, string, error) {
	w, p, err := loadBackboneWeights(backbone, path)
	if err != nil {
		return nil, "", err
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return w, p, nil
}

// balancedWeights is N/(G·count) per genre over the training split (1 for a
// genre with no examples).
func balancedWeights(m encode.Manifest) []float32 {
	counts := m.GenreCounts[encode.SplitTrain]
	n := float64(m.Splits[encode.SplitTrain])
	g := float64(len(m.Genres))
	w := make([]float32, len(m.Genres))
	for i, name := range m.Genres {
		w[i] = 1
		if c := counts[name]; c > 0 && n > 0 {
			w[i] = float32(n / (g * float64(c)))
		}
	}
	return w
}

func (t *trainer) close() error { return t.sess.Close() }

// loop trains until the configured epochs or early stopping.
func (t *trainer) loop(ctx context.Context) error {
	if t.sel.exhausted(t.state) {
		t.stopped = true
		return nil
	}
	events := t.openEvents()
	defer events.close()
	for epoch := t.state.Epoch + 1; epoch <= t.cfg.Epochs; epoch++ {
		st, err := t.runEpoch(ctx, epoch)
		if err != nil {
			return err
		}
		t.logEpoch(st)
		events.write(st)
		if t.sel.exhausted(t.state) {
			t.log.Info("early stopping", "epoch", epoch, "best_epoch", t.state.BestEpoch, "metric", t.sel.metric)
			t.stopped = true
			break
		}
	}
	return nil
}

// runEpoch trains one epoch, scores the validation split, keeps the model
// when it is the best so far, then checkpoints and appends the history.
func (t *trainer) runEpoch(ctx context.Context, epoch int) (EpochStats, error) {
	lr := lrAt(t.cfg, epoch)
	start := time.Now()
	tr, err := t.trainEpoch(ctx, epoch, lr)
	if err != nil {
		return EpochStats{}, err
	}
	// With ema_decay, validation and the kept model use the averaged
	// weights; the live ones are put back before the checkpoint.
	if err := t.emaSwap(true); err != nil {
		return EpochStats{}, err
	}
	probs, labels, vloss, err := t.evaluate(ctx, encode.SplitValidation)
	if err != nil {
		return EpochStats{}, err
	}
	vm := validationMetrics(probs, labels, len(t.ds.man.Genres))
	st := EpochStats{
		Epoch: epoch, LearningRate: lr, TrainLoss: metrics.Num(tr.loss), TrainPaperAcc: metrics.Num(tr.paperAcc),
		ValLoss: metrics.Num(vloss), ValPaperAcc: metrics.Num(vm.PaperAcc), ValTop3Hit: metrics.Num(vm.TopKHit),
		ValMacroAUC: metrics.Num(vm.MacroAUC), ImagesPerSecond: float64(tr.images) / tr.seconds,
	}
	if t.sel.observe(&t.state, epoch, t.sel.value(st), len(probs) == 0) {
		st.Best = true
		if err := t.saveBest(epoch, vm.Threshold); err != nil {
			return EpochStats{}, err
		}
		t.bestProbs, t.bestLabels = probs, labels
	}
	if err := t.emaSwap(false); err != nil {
		return EpochStats{}, err
	}
	st.Seconds = time.Since(start).Seconds()
	t.state.Epoch = epoch
	if err := t.checkpoint(); err != nil {
		return EpochStats{}, err
	}
	t.history = append(t.history, st)
	return st, t.writeHistory()
}

// emaSwap loads the averaged weights (in=true, after backing up the live
// ones) or restores the live ones; without ema_decay it does nothing.
func (t *trainer) emaSwap(in bool) error {
	if t.net.emaBackup == nil {
		return nil
	}
	targets := [][]*tf.Operation{{t.net.emaRestore}}
	if in {
		targets = [][]*tf.Operation{{t.net.emaBackup}, {t.net.emaSwapIn}}
	}
	for _, ops := range targets {
		if _, err := t.sess.Run(nil, nil, ops); err != nil {
			return fmt.Errorf("train: ema weights: %w", err)
		}
	}
	return nil
}

func (t *trainer) logEpoch(st EpochStats) {
	t.log.Info("epoch", "epoch", st.Epoch, "of", t.cfg.Epochs, "lr", st.LearningRate,
		"loss", round4(st.TrainLoss), "acc", round4(st.TrainPaperAcc),
		"val_loss", round4(st.ValLoss), "val_acc", round4(st.ValPaperAcc),
		"val_top3", round4(st.ValTop3Hit), "val_auc", round4(st.ValMacroAUC),
		"img_s", math.Round(st.ImagesPerSecond), "best", st.Best)
}

func round4(v metrics.Num) float64 { return math.Round(float64(v)*1e4) / 1e4 }

// SummaryTrainRows is the key of the stage's Result.Summary that serve's
// model card reads back: the rows the model trained on.
const SummaryTrainRows stages.SummaryKey = "train_rows"

// summary is the stage result. An undefined metric is nil, which the
// summary's JSON writes as null, as metrics.Num does everywhere else.
func (t *trainer) summary() stages.Result {
	s := map[string]any{
		"epochs":         t.state.Epoch,
		"steps":          t.state.Step,
		"best_epoch":     t.state.BestEpoch,
		"early_stopped":  t.stopped,
		"device":         t.device,
		"threshold":      t.meta.Threshold,
		"tf_version":     tf.Version(),
		"selection":      t.sel.metric,
		"manifest_sha":   t.ds.manifestSHA,
		"config_sha":     t.cfgSHA,
		"best_val_value": summaryValue(t.state.BestValue),
	}
	s[string(SummaryTrainRows)] = t.trainLen
	if h, ok := t.bestStats(); ok {
		s["val_paper_accuracy"] = summaryValue(h.ValPaperAcc)
		s["val_macro_auc"] = summaryValue(h.ValMacroAUC)
		s["val_top3_hit"] = summaryValue(h.ValTop3Hit)
		s["val_loss"] = summaryValue(h.ValLoss)
	}
	return stages.Result{Summary: s}
}

// bestStats is the history line of the kept epoch, if there is one.
func (t *trainer) bestStats() (EpochStats, bool) {
	for _, h := range t.history {
		if h.Epoch == t.state.BestEpoch {
			return h, true
		}
	}
	return EpochStats{}, false
}

// summaryValue is a metric as the summary holds it: a float64, or nil when
// undefined (pipeline reads summary numbers as float64).
func summaryValue(v metrics.Num) any {
	if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f
	}
	return nil
}
