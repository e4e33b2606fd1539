package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	"golang.org/x/sync/errgroup"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/tfsession"
	"github.com/postergenre/postergenre/stages"
)

// LatestFile in CheckpointDir names the last complete checkpoint; it is
// written after the checkpoint files, so its presence means they are whole.
const LatestFile = "latest.json"

// gcEvery is how many training steps pass between forced garbage
// collections: tensors hold C memory that only Go finalizers release.
const gcEvery = 25

// ErrNoGPU is returned when device "gpu" is requested and TensorFlow sees none.
var ErrNoGPU = errors.New("device gpu requested but TensorFlow sees no GPU")

// ckptState is latest.json: where training stands after a completed epoch.
type ckptState struct {
	Epoch     int        `json:"epoch"`  // last completed epoch
	Prefix    string     `json:"prefix"` // checkpoint prefix inside CheckpointDir
	Step      int64      `json:"step"`
	BestEpoch int        `json:"best_epoch"`
	BestValue nanFloat   `json:"best_value"` // NaN (no defined value yet) is stored as null
	BadEpochs int        `json:"bad_epochs"` // epochs since the best, for early stopping
	Mean      [3]float32 `json:"mean"`
	Std       [3]float32 `json:"std"`
}

// nanFloat is a float64 whose NaN survives a JSON round trip as null:
// encoding/json refuses NaN, and a tiny validation split can leave a metric
// (e.g. AUC without positives) undefined.
type nanFloat float64

func (f nanFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func (f *nanFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = nanFloat(math.NaN())
		return nil
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*f = nanFloat(v)
	return err
}

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
	state    ckptState
	history  []EpochStats
	cfgSHA   string
	meta     Meta
	stopped  bool
	trainLen int // rows in the training split (-1 unknown)
	// bestProbs are the validation probabilities of the best epoch (tests
	// compare them with LoadModel's).
	bestProbs []float32
}

// sessionOptions sets the thread pools, the precision and, for device
// "cpu", hides GPUs (internal/tfsession builds the ConfigProto).
func sessionOptions(cfg Config) (*tf.SessionOptions, int, error) {
	threads := cfg.Threads
	if cfg.Deterministic {
		threads = 1
	}
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	opts, err := tfsession.Settings{IntraOp: threads, InterOp: threads, CPUOnly: cfg.Device == "cpu",
		Precision: tfsession.Precision(cfg.Precision)}.Options()
	if err != nil {
		return nil, 0, err
	}
	return opts, threads, nil
}

// pickDevice checks the requested device against what the session sees and
// names the device training runs on. TensorFlow's default placement puts
// ops on a GPU when one is visible.
func pickDevice(sess *tf.Session, want string) (string, error) {
	ds, err := sess.ListDevices()
	if err != nil {
		return "", fmt.Errorf("list devices: %w", err)
	}
	var names []string
	gpu := ""
	for _, d := range ds {
		names = append(names, d.Name)
		if strings.EqualFold(d.Type, "GPU") && gpu == "" {
			gpu = d.Name
		}
	}
	switch {
	case want == "gpu" && gpu == "":
		return "", fmt.Errorf("%w (devices: %s); install the GPU build with TF_VARIANT=gpu make deps", ErrNoGPU, strings.Join(names, ", "))
	case want != "cpu" && gpu != "":
		return "GPU " + gpu, nil
	}
	return "CPU", nil
}

// configSHA256 hashes the train section as JSON.
func configSHA256(cfg Config) string {
	raw, _ := json.Marshal(cfg)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// newTrainer validates, opens the data, builds the graph and the session
// and either initialises or restores the variables.
func newTrainer(ctx context.Context, cfg Config, env stages.Env) (_ *trainer, err error) {
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
	t := &trainer{cfg: cfg, env: env, log: log, ds: ds, cfgSHA: configSHA256(cfg), trainLen: ds.count(encode.SplitTrain)}
	m := ds.man
	t.net, err = buildGraph(netSpec{
		Height: m.Height, Width: m.Width, Channels: 3, Genres: len(m.Genres),
		ConvFilters: cfg.ConvFilters, Dense: cfg.Dense, Dropout: cfg.Dropout, BatchNorm: cfg.BatchNorm,
		Loss: cfg.Loss, Seed: cfg.Seed, Optimizer: cfg.Optimizer, Training: true,
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	opts, threads, err := sessionOptions(cfg)
	if err != nil {
		return nil, err
	}
	t.sess, err = tf.NewSession(t.net.graph, opts)
	if err != nil {
		return nil, fmt.Errorf("train: session: %w", err)
	}
	defer func() {
		if err != nil {
			t.sess.Close()
		}
	}()
	if t.device, err = pickDevice(t.sess, cfg.Device); err != nil {
		return nil, err
	}
	log.Info("tensorflow", "version", tf.Version(), "device", t.device, "threads", threads)

	for _, d := range []string{CheckpointDir, ModelDir} {
		if err := os.MkdirAll(filepath.Join(env.OutDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	resumed, err := t.tryResume()
	if err != nil {
		return nil, err
	}
	if !resumed {
		if _, err := t.sess.Run(nil, nil, []*tf.Operation{t.net.initOp}); err != nil {
			return nil, fmt.Errorf("train: init variables: %w", err)
		}
		t.state = ckptState{BestValue: nanFloat(math.NaN()), Std: [3]float32{1, 1, 1}}
		if cfg.Standardize {
			if t.state.Mean, t.state.Std, err = ds.channelStats(ctx, encode.SplitTrain); err != nil {
				return nil, fmt.Errorf("train: standardize: %w", err)
			}
		}
	}
	t.sc = newScaler(cfg.Standardize, t.state.Mean, t.state.Std)
	if cfg.ClassWeights == "balanced" {
		w := balancedWeights(m)
		log.Info("class weights", "genres", m.Genres, "weights", w)
		if t.cw, err = tf.NewTensor(w); err != nil {
			return nil, err
		}
	}
	t.meta = Meta{
		Format: 1, Genres: m.Genres, Height: m.Height, Width: m.Width, Channels: 3,
		ConvFilters: cfg.ConvFilters, Dense: cfg.Dense, Dropout: cfg.Dropout, BatchNorm: cfg.BatchNorm,
		Loss: cfg.Loss, Standardize: cfg.Standardize, Mean: t.state.Mean, Std: t.state.Std, Fit: m.Fit, Filter: m.Filter,
		ConfigSHA256: t.cfgSHA, ManifestSHA256: ds.manifestSHA, TFVersion: tf.Version(), Device: t.device,
	}
	return t, nil
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

// tryResume restores the previous attempt's last checkpoint when asked to.
func (t *trainer) tryResume() (bool, error) {
	if !t.env.Resume {
		return false, nil
	}
	if t.env.Prev == "" {
		t.log.Warn("resume requested but there is no previous output; starting over")
		return false, nil
	}
	prevCk := filepath.Join(t.env.Prev, CheckpointDir)
	raw, err := os.ReadFile(filepath.Join(prevCk, LatestFile))
	if errors.Is(err, os.ErrNotExist) {
		t.log.Warn("resume requested but the previous output has no checkpoint; starting over", "prev", t.env.Prev)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var st ckptState
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, fmt.Errorf("train: resume: %s: %w", LatestFile, err)
	}
	if err := t.runWithPrefix(t.net.restoreAll, filepath.Join(prevCk, st.Prefix)); err != nil {
		return false, fmt.Errorf("train: resume: restore %s: %w", st.Prefix, err)
	}
	t.state = st
	// The best model so far and the history come along.
	if err := copyDir(filepath.Join(t.env.Prev, ModelDir), filepath.Join(t.env.OutDir, ModelDir)); err != nil {
		return false, fmt.Errorf("train: resume: %w", err)
	}
	hist, err := ReadHistory(t.env.Prev)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("train: resume: %w", err)
	}
	for _, h := range hist {
		if h.Epoch <= st.Epoch {
			t.history = append(t.history, h)
		}
	}
	// Our own output must be resumable too, even if no epoch completes.
	if err := t.checkpoint(); err != nil {
		return false, err
	}
	if err := t.writeHistory(); err != nil {
		return false, err
	}
	t.log.Info("resumed", "from", prevCk, "epoch", st.Epoch, "step", st.Step, "best_epoch", st.BestEpoch)
	return true, nil
}

func (t *trainer) runWithPrefix(target *tf.Operation, prefix string) error {
	p, err := tf.NewTensor(prefix)
	if err != nil {
		return err
	}
	_, err = t.sess.Run(map[tf.Output]*tf.Tensor{t.net.prefix: p}, nil, []*tf.Operation{target})
	return err
}

func (t *trainer) close() error { return t.sess.Close() }

// lrAt is the learning rate for a 1-based epoch: linear warm-up, then the schedule.
func lrAt(cfg Config, epoch int) float64 {
	base := cfg.Optimizer.LearningRate
	w := cfg.WarmupEpochs
	if epoch <= w {
		return base * float64(epoch) / float64(w+1)
	}
	e := epoch - w - 1 // 0-based epoch after warm-up
	switch cfg.Schedule {
	case "cosine":
		span := max(cfg.Epochs-w, 1)
		return base * 0.5 * (1 + math.Cos(math.Pi*float64(e)/float64(span)))
	case "step":
		return base * math.Pow(cfg.StepFactor, float64(e/max(cfg.StepEvery, 1)))
	}
	return base
}

// better reports whether v improves on best for metric (NaN never improves;
// anything improves on a NaN best).
func better(metric string, v, best float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if math.IsNaN(best) {
		return true
	}
	if metric == "val_loss" {
		return v < best
	}
	return v > best
}

func metricOf(metric string, s EpochStats) float64 {
	switch metric {
	case "val_paper_accuracy":
		return s.ValPaperAcc
	case "val_macro_auc":
		return s.ValMacroAUC
	case "val_top3_hit":
		return s.ValTop3Hit
	}
	return s.ValLoss
}

// loop trains until the configured epochs or early stopping.
func (t *trainer) loop(ctx context.Context) error {
	cfg := t.cfg
	if p := cfg.EarlyStopping.Patience; p > 0 && t.state.BadEpochs >= p {
		t.stopped = true
		return nil
	}
	for epoch := t.state.Epoch + 1; epoch <= cfg.Epochs; epoch++ {
		lr := lrAt(cfg, epoch)
		start := time.Now()
		loss, acc, n, trainSecs, err := t.trainEpoch(ctx, epoch, lr)
		if err != nil {
			return err
		}
		probs, labels, vloss, err := t.evaluate(ctx, encode.SplitValidation)
		if err != nil {
			return err
		}
		G := len(t.ds.man.Genres)
		st := EpochStats{
			Epoch: epoch, LearningRate: lr, TrainLoss: loss, TrainPaperAcc: acc,
			ValLoss: vloss, ImagesPerSecond: float64(n) / trainSecs,
		}
		if nv := len(probs) / G; nv > 0 {
			st.ValPaperAcc = float64(paperHits(probs, labels, G)) / float64(nv)
			st.ValTop3Hit = topKHit(probs, labels, G, 3)
			st.ValMacroAUC = macroAUC(probs, labels, G)
		} else {
			st.ValLoss, st.ValPaperAcc, st.ValTop3Hit, st.ValMacroAUC = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		}
		v := metricOf(cfg.EarlyStopping.Metric, st)
		// Without validation rows every epoch is "best": the model is the last one.
		if better(cfg.EarlyStopping.Metric, v, float64(t.state.BestValue)) || (math.IsNaN(v) && len(probs) == 0) {
			st.Best = true
			t.state.BestEpoch, t.state.BestValue, t.state.BadEpochs = epoch, nanFloat(v), 0
			if err := t.saveBest(epoch, probs, labels); err != nil {
				return err
			}
		} else {
			t.state.BadEpochs++
		}
		st.Seconds = time.Since(start).Seconds()
		t.state.Epoch = epoch
		if err := t.checkpoint(); err != nil {
			return err
		}
		t.history = append(t.history, st)
		if err := t.writeHistory(); err != nil {
			return err
		}
		t.log.Info("epoch", "epoch", epoch, "of", cfg.Epochs, "lr", lr,
			"loss", round4(st.TrainLoss), "acc", round4(st.TrainPaperAcc),
			"val_loss", round4(st.ValLoss), "val_acc", round4(st.ValPaperAcc),
			"val_top3", round4(st.ValTop3Hit), "val_auc", round4(st.ValMacroAUC),
			"img_s", math.Round(st.ImagesPerSecond), "best", st.Best)
		if p := cfg.EarlyStopping.Patience; p > 0 && t.state.BadEpochs >= p {
			t.log.Info("early stopping", "epoch", epoch, "best_epoch", t.state.BestEpoch, "metric", cfg.EarlyStopping.Metric)
			t.stopped = true
			break
		}
	}
	return nil
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// trainEpoch runs one pass over the training split while a goroutine
// prepares the next batches.
func (t *trainer) trainEpoch(ctx context.Context, epoch int, lr float64) (loss, acc float64, n int, secs float64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *batch, 2)
	bt := &batcher{ds: t.ds, sc: t.sc, size: t.cfg.BatchSize, augment: t.cfg.Augment, buffer: t.cfg.ShuffleBuffer, seed: t.cfg.Seed}
	var g errgroup.Group
	g.Go(func() error { return bt.run(ctx, encode.SplitTrain, true, epoch, t.cfg.MaxStepsPerEpoch, ch) })
	drain := func(e error) (float64, float64, int, float64, error) {
		cancel()
		for range ch {
		}
		if werr := g.Wait(); werr != nil && !errors.Is(werr, context.Canceled) && e == nil {
			e = werr
		}
		return 0, 0, 0, 0, e
	}
	lrT, err := tf.NewTensor(float32(lr))
	if err != nil {
		return drain(err)
	}
	G := len(t.ds.man.Genres)
	total := -1
	if t.trainLen >= 0 {
		total = (t.trainLen + t.cfg.BatchSize - 1) / t.cfg.BatchSize
		if m := t.cfg.MaxStepsPerEpoch; m > 0 {
			total = min(total, m)
		}
	}
	start := time.Now()
	var sumLoss float64
	hits, steps := 0, 0
	lastBar := time.Time{}
	for b := range ch {
		feeds := map[tf.Output]*tf.Tensor{t.net.images: b.x, t.net.labels: b.y, t.net.lr: lrT}
		if t.cw != nil {
			feeds[t.net.classWeights] = t.cw
		}
		out, err := t.sess.Run(feeds, []tf.Output{t.net.trainLoss, t.net.trainProb}, []*tf.Operation{t.net.trainOp})
		if err != nil {
			return drain(fmt.Errorf("train: epoch %d step %d: %w", epoch, steps+1, err))
		}
		l := float64(out[0].Value().(float32))
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return drain(fmt.Errorf("train: epoch %d step %d: loss is %v", epoch, steps+1, l))
		}
		probs := flat2(out[1].Value().([][]float32))
		sumLoss += l * float64(b.n)
		hits += paperHits(probs, b.labels, G)
		n += b.n
		steps++
		t.state.Step++
		if steps%gcEvery == 0 {
			runtime.GC()
		}
		if t.env.Progress != nil && (time.Since(lastBar) > 300*time.Millisecond || steps == total) {
			lastBar = time.Now()
			progressBar(t.env.Progress, epoch, t.cfg.Epochs, steps, total, n, sumLoss/float64(n), time.Since(start))
		}
		if err := ctx.Err(); err != nil {
			return drain(err)
		}
	}
	if err := g.Wait(); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("train: reading training data: %w", err)
	}
	if t.env.Progress != nil {
		fmt.Fprintln(t.env.Progress)
	}
	if n == 0 {
		return 0, 0, 0, 0, errors.New("train: the training split is empty")
	}
	return sumLoss / float64(n), float64(hits) / float64(n), n, time.Since(start).Seconds(), nil
}

func progressBar(w io.Writer, epoch, epochs, step, total, images int, loss float64, elapsed time.Duration) {
	const width = 24
	ips := 0.0
	if elapsed > 0 {
		ips = float64(images) / elapsed.Seconds()
	}
	bar, eta := "", ""
	if total > 0 {
		done := min(width*step/total, width)
		bar = "[" + strings.Repeat("=", done) + strings.Repeat(" ", width-done) + "] "
		left := time.Duration(float64(elapsed) / float64(max(step, 1)) * float64(max(total-step, 0)))
		eta = " ETA " + left.Round(time.Second).String()
	}
	fmt.Fprintf(w, "\repoch %d/%d %s%d/%d loss %.4f %.0f img/s%s   ", epoch, epochs, bar, step, total, loss, ips, eta)
}

func flat2(v [][]float32) []float32 {
	if len(v) == 0 {
		return nil
	}
	out := make([]float32, 0, len(v)*len(v[0]))
	for _, r := range v {
		out = append(out, r...)
	}
	return out
}

// evaluate runs the inference pass over a split and returns the flat
// probabilities, labels and the mean (unweighted) loss.
func (t *trainer) evaluate(ctx context.Context, split string) (probs, labels []float32, loss float64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *batch, 2)
	bt := &batcher{ds: t.ds, sc: t.sc, size: max(t.cfg.BatchSize, 64)}
	var g errgroup.Group
	g.Go(func() error { return bt.run(ctx, split, false, 0, 0, ch) })
	var sum float64
	n := 0
	for b := range ch {
		if err != nil {
			continue
		}
		out, rerr := t.sess.Run(map[tf.Output]*tf.Tensor{t.net.images: b.x, t.net.labels: b.y},
			[]tf.Output{t.net.probs, t.net.evalLoss}, nil)
		if rerr != nil {
			err = fmt.Errorf("train: evaluate %s: %w", split, rerr)
			cancel()
			continue
		}
		probs = append(probs, flat2(out[0].Value().([][]float32))...)
		labels = append(labels, b.labels...)
		sum += float64(out[1].Value().(float32)) * float64(b.n)
		n += b.n
	}
	if werr := g.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("train: reading %s data: %w", split, werr)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	if n == 0 {
		return nil, nil, math.NaN(), nil
	}
	return probs, labels, sum / float64(n), nil
}

// saveBest writes the current weights to ModelDir with model.json (written
// last), then removes the previous best.
func (t *trainer) saveBest(epoch int, probs, labels []float32) error {
	dir := filepath.Join(t.env.OutDir, ModelDir)
	prefix := fmt.Sprintf("ckpt-epoch-%04d", epoch)
	if err := t.runWithPrefix(t.net.saveModel, filepath.Join(dir, prefix)); err != nil {
		return fmt.Errorf("train: save model: %w", err)
	}
	old := t.meta.CheckpointPrefix
	if old == "" {
		if prev, err := readMeta(dir); err == nil {
			old = prev.CheckpointPrefix
		}
	}
	m := t.meta
	m.BestEpoch = epoch
	m.CheckpointPrefix = prefix
	m.Threshold = 0.5
	if len(probs) > 0 {
		m.Threshold, _ = bestThreshold(probs, labels)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, MetaFile), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	t.meta = m
	t.bestProbs = probs
	if old != "" && old != prefix {
		removePrefix(dir, old)
	}
	return nil
}

// checkpoint saves every variable (Adam slots and step included) under a new
// prefix, then latest.json, then removes the older checkpoint.
func (t *trainer) checkpoint() error {
	dir := filepath.Join(t.env.OutDir, CheckpointDir)
	old := ""
	if raw, err := os.ReadFile(filepath.Join(dir, LatestFile)); err == nil {
		var st ckptState
		if json.Unmarshal(raw, &st) == nil {
			old = st.Prefix
		}
	}
	t.state.Prefix = fmt.Sprintf("epoch-%04d", t.state.Epoch)
	if err := t.runWithPrefix(t.net.saveAll, filepath.Join(dir, t.state.Prefix)); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	raw, err := json.MarshalIndent(t.state, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, LatestFile), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if old != "" && old != t.state.Prefix {
		removePrefix(dir, old)
	}
	return nil
}

// removePrefix deletes a checkpoint's files (prefix.index, prefix.data-*).
func removePrefix(dir, prefix string) {
	files, _ := filepath.Glob(filepath.Join(dir, prefix+".*"))
	for _, f := range files {
		os.Remove(f)
	}
}

// writeHistory rewrites history.jsonl and history.csv atomically.
func (t *trainer) writeHistory() error {
	var js, csv strings.Builder
	csv.WriteString("epoch,learning_rate,train_loss,train_paper_accuracy,val_loss,val_paper_accuracy,val_top3_hit,val_macro_auc,images_per_second,seconds,best\n")
	for _, h := range t.history {
		raw, err := json.Marshal(jsonSafe(h))
		if err != nil {
			return err
		}
		js.Write(raw)
		js.WriteByte('\n')
		fmt.Fprintf(&csv, "%d,%g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.2f,%t\n", h.Epoch, h.LearningRate, h.TrainLoss,
			h.TrainPaperAcc, h.ValLoss, h.ValPaperAcc, h.ValTop3Hit, h.ValMacroAUC, h.ImagesPerSecond, h.Seconds, h.Best)
	}
	if err := atomicfile.WriteFile(filepath.Join(t.env.OutDir, HistoryFile), []byte(js.String()), 0o644); err != nil {
		return fmt.Errorf("train: history: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(t.env.OutDir, HistoryCSV), []byte(csv.String()), 0o644); err != nil {
		return fmt.Errorf("train: history: %w", err)
	}
	return nil
}

// jsonSafe replaces NaN/Inf (which encoding/json rejects) by -1.
func jsonSafe(h EpochStats) EpochStats {
	fix := func(v *float64) {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			*v = -1
		}
	}
	for _, v := range []*float64{&h.TrainLoss, &h.TrainPaperAcc, &h.ValLoss, &h.ValPaperAcc, &h.ValTop3Hit, &h.ValMacroAUC, &h.ImagesPerSecond} {
		fix(v)
	}
	return h
}

// copyDir copies the regular files of src into dst (missing src is fine).
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		_, err = atomicfile.WriteFrom(filepath.Join(dst, e.Name()), in, 0o644)
		in.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// summary is the stage result.
func (t *trainer) summary() stages.Result {
	s := map[string]any{
		"epochs":         t.state.Epoch,
		"steps":          t.state.Step,
		"best_epoch":     t.state.BestEpoch,
		"early_stopped":  t.stopped,
		"device":         t.device,
		"threshold":      t.meta.Threshold,
		"tf_version":     tf.Version(),
		"selection":      t.cfg.EarlyStopping.Metric,
		"manifest_sha":   t.ds.manifestSHA,
		"config_sha":     t.cfgSHA,
		"train_rows":     t.trainLen,
		"best_val_value": jsonSafeFloat(float64(t.state.BestValue)),
	}
	for _, h := range t.history {
		if h.Epoch == t.state.BestEpoch {
			s["val_paper_accuracy"] = jsonSafeFloat(h.ValPaperAcc)
			s["val_macro_auc"] = jsonSafeFloat(h.ValMacroAUC)
			s["val_top3_hit"] = jsonSafeFloat(h.ValTop3Hit)
			s["val_loss"] = jsonSafeFloat(h.ValLoss)
		}
	}
	return stages.Result{Summary: s}
}

func jsonSafeFloat(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
