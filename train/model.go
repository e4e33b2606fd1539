package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"path/filepath"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/internal/tfsession"
	"github.com/postergenre/postergenre/train/efficientnet"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// predictBatch is how many images Predict feeds per session run.
const predictBatch = 64

// Model is a trained network loaded for inference. It is safe for
// concurrent use (TensorFlow sessions are).
type Model struct {
	meta Meta
	// net and sess are the network; in a seed ensemble, member 1's (the
	// poster detector reads its features), and more holds the others.
	net  *netGraph
	sess *tf.Session
	more []memberNet
	// heads, in an ensemble on one frozen backbone, are the other members'
	// heads alone, fed member 1's features: Predict runs the backbone
	// once for all members (ensemble.go).
	heads []memberNet
	sc    *scaler
	det   *detector // nil: no calibrated poster detector
	// precision the session runs at.
	precision tfsession.Precision
}

func readMeta(dir string) (Meta, error) {
	var m Meta
	return m, readJSON(filepath.Join(dir, MetaFile), &m)
}

// readJSON reads the JSON file at path into v; a syntax error names the file.
func readJSON(path string, v any) error {
	raw, err := regular.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadModel loads a train output's model folder (model.json + checkpoint):
// it rebuilds the inference graph from the metadata and restores the
// weights. The session runs at the precision model.json records (the one
// training used).
func LoadModel(dir string) (*Model, error) {
	return LoadModelPrecision(dir, "")
}

// LoadModelPrecision is LoadModel with the inference precision overridden
// ("float32" or "bfloat16"; "" keeps model.json's).
func LoadModelPrecision(dir, precision string) (*Model, error) {
	return loadModel(dir, precision, false)
}

// loadModel is LoadModelPrecision; calibrating builds the detector
// backbone of a network without one whenever its weights are installed
// (otherwise only when model.json's detector names it).
func loadModel(dir, precision string, calibrating bool) (*Model, error) {
	meta, err := readMeta(dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	// TensorFlow reads the checkpoint itself, beyond any context: a named
	// pipe there would block it for good.
	if err := regular.CheckTree(dir); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if precision == "" {
		precision = meta.Precision
	}
	prec, err := tfsession.ParsePrecision(precision)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	if meta.Format != 1 && meta.Format != 2 {
		return nil, fmt.Errorf("load model %s: unsupported format %d", dir, meta.Format)
	}
	dw, err := detectorWeights(meta, calibrating)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m := &Model{meta: meta, sc: newScaler(meta.Preprocessing), precision: prec}
	if meta.Format == 2 {
		err = m.openMembers(dir, dw)
	} else {
		m.net, m.sess, err = openNet(dir, meta, prec, dw)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	if m.det, err = loadDetector(dir, meta.PosterDetector); err != nil {
		m.Close()
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, nil
}

// openNet rebuilds the inference graph of the single model in dir (meta is
// its model.json) and restores its weights, in a session at prec. dw, when
// set, are the poster detector's backbone weights.
func openNet(dir string, meta Meta, prec tfsession.Precision, dw *efficientnet.Weights) (*netGraph, *tf.Session, error) {
	if meta.Format != 1 {
		return nil, nil, fmt.Errorf("load model %s: unsupported format %d", dir, meta.Format)
	}
	if meta.CheckpointPrefix == "" {
		return nil, nil, fmt.Errorf("load model %s: model.json names no checkpoint", dir)
	}
	spec := netSpec{
		Height: meta.Height, Width: meta.Width, Channels: 3, Genres: len(meta.Genres),
		ConvFilters: meta.ConvFilters, Dense: meta.Dense, Dropout: meta.Dropout, BatchNorm: meta.BatchNorm,
		Loss: meta.Loss, Backbone: meta.Backbone, FineTune: meta.FineTune, TTAFlip: meta.TTAFlip, DetectorWeights: dw,
		ConcatBackbone: meta.ConcatBackbone,
	}
	var err error
	if spec.GradCAMConv, err = parseGradCAMLayer(meta.GradCAMLayer, len(spec.ConvFilters)); err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	if spec.hasBackbone() {
		if spec.Weights, err = loadModelWeights(meta.Backbone, meta.WeightsPath, meta.WeightsSHA256); err != nil {
			return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
		}
		if meta.ConcatBackbone != "" {
			if spec.ConcatWeights, err = loadModelWeights(meta.ConcatBackbone, meta.ConcatWeightsPath, meta.ConcatWeightsSHA256); err != nil {
				return nil, nil, fmt.Errorf("load model %s: concat_backbone: %w", dir, err)
			}
		}
	}
	net, err := buildGraph(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	sess, err := restoreSession(dir, meta, net, prec)
	if err != nil {
		return nil, nil, err
	}
	return net, sess, nil
}

// restoreSession opens a session on net at prec and restores the model
// weights of the checkpoint model.json (meta) in dir names.
func restoreSession(dir string, meta Meta, net *netGraph, prec tfsession.Precision) (*tf.Session, error) {
	opts, err := tfsession.Settings{Precision: prec}.Options()
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	sess, err := tf.NewSession(net.graph, opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: session: %w", dir, err)
	}
	p, err := tf.NewTensor(filepath.Join(dir, meta.CheckpointPrefix))
	if err != nil {
		sess.Close()
		return nil, err
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{net.prefix: p}, nil, []*tf.Operation{net.restoreModel}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("load model %s: restore %s: %w", dir, meta.CheckpointPrefix, err)
	}
	return sess, nil
}

// detectorWeights returns the EfficientNet-Lite0 weights the poster
// detector of a network without a backbone uses: those model.json's
// detector names (an error when they are missing), or, calibrating, the
// installed ones if any (nil otherwise: the network's own features).
func detectorWeights(meta Meta, calibrating bool) (*efficientnet.Weights, error) {
	if meta.Backbone != "" && meta.Backbone != trainconfig.BackboneNone {
		return nil, nil
	}
	d := meta.PosterDetector
	switch {
	case calibrating:
		w, _, err := loadBackboneWeights(trainconfig.BackboneEfficientNetLite0, "")
		if errors.Is(err, ErrNoWeights) {
			return nil, nil
		}
		return w, err
	case d != nil && d.Backbone != "":
		w, _, err := loadBackboneWeights(d.Backbone, "")
		if err != nil {
			return nil, fmt.Errorf("poster detector: %w", err)
		}
		return w, nil
	}
	return nil, nil
}

// Precision is the numeric precision the model's session runs at.
func (m *Model) Precision() tfsession.Precision { return m.precision }

// Meta returns the model's metadata.
func (m *Model) Meta() Meta { return m.meta }

// Predict returns per-image probabilities (softmax or sigmoid per
// Meta.Loss) over Meta.Genres for n images, each Height*Width*3 bytes of
// uint8 HWC RGB, concatenated in pixels. An ensemble's are the mean of its
// members'.
func (m *Model) Predict(pixels []byte, n int) ([][]float32, error) {
	if len(m.heads) > 0 {
		return predictBatches(m.net, m.sc, pixels, n, m.predictShared)
	}
	out, err := predictWith(m.sess, m.net, m.sc, pixels, n)
	if err != nil || len(m.more) == 0 {
		return out, err
	}
	all := [][][]float32{out}
	for _, o := range m.more {
		p, err := predictWith(o.sess, o.net, m.sc, pixels, n)
		if err != nil {
			return nil, err
		}
		all = append(all, p)
	}
	return meanRows(all), nil
}

// PredictImage prepares a decoded poster as the encode stage prepared the
// training posters (model.json's Preprocess: size, fit and filter) and
// returns its probabilities: the one path from a poster to a prediction.
func (m *Model) PredictImage(img image.Image) ([]float32, error) {
	out, err := m.Predict(m.meta.Preprocess.Image(img), 1)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Close releases the sessions.
func (m *Model) Close() error {
	var errs []error
	if m.sess != nil {
		errs = append(errs, m.sess.Close())
	}
	for _, o := range append(m.more, m.heads...) {
		errs = append(errs, o.sess.Close())
	}
	return errors.Join(errs...)
}

// predictWith runs net's session sess on the images in pixels.
func predictWith(sess *tf.Session, net *netGraph, sc *scaler, pixels []byte, n int) ([][]float32, error) {
	return predictBatches(net, sc, pixels, n, func(xt *tf.Tensor) ([][]float32, error) {
		res, err := sess.Run(map[tf.Output]*tf.Tensor{net.images: xt}, []tf.Output{net.probs}, nil)
		if err != nil {
			return nil, err
		}
		return res[0].Value().([][]float32), nil
	})
}

// predictBatches scales the n images in pixels (the input of net) and
// feeds them to run predictBatch at a time, returning its rows in order.
func predictBatches(net *netGraph, sc *scaler, pixels []byte, n int, run func(xt *tf.Tensor) ([][]float32, error)) ([][]float32, error) {
	per := net.spec.Height * net.spec.Width * 3
	if n < 0 || len(pixels) != n*per {
		return nil, fmt.Errorf("predict: %d bytes for %d images of %d×%d×3", len(pixels), n, net.spec.Height, net.spec.Width)
	}
	out := make([][]float32, 0, n)
	x := make([]float32, 0, min(n, predictBatch)*per)
	for i := 0; i < n; i += predictBatch {
		j := min(i+predictBatch, n)
		x = sc.convert(x[:0], pixels[i*per:j*per])
		xt, err := tf.NewTensor(x)
		if err != nil {
			return nil, err
		}
		rows, err := run(xt)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		out = append(out, rows...)
	}
	return out, nil
}
