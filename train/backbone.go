package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/train/efficientnet"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// The pretrained backbone (train.backbone: efficientnet_lite0, _lite1 or
// _lite2): where its weights are found, and its two places in a graph — the
// whole network on the images, or (frozen, features cached) nothing at all,
// the head reading the 1280 features from the feed.

// InputRaw is Preprocessing.Input for a backbone model: the network takes
// the pixels as 0..255 floats and scales them itself ((x−127)/128, what the
// TF-converted EfficientNet-Lite weights were trained with; the ImageNet
// normalisation of these weights).
const InputRaw = "raw"

// ErrNoWeights is returned when the backbone's weights are not installed.
var ErrNoWeights = errors.New("backbone weights not installed: run `make deps` (scripts/weights-deps.sh installs them into .deps/weights) or set train.weights")

// weightsCandidates lists where the installed weights of v may be, best
// first: beside the binary (bin/../.deps/weights/...) and in the working
// folder or any folder above it (the project root for `go test` and `go run`).
func weightsCandidates(v efficientnet.Variant) []string {
	var out []string
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			out = append(out, filepath.Join(filepath.Dir(exe), "..", v.WeightsPath))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			out = append(out, filepath.Join(dir, v.WeightsPath))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return out
}

// resolveWeights returns the weights file of v to use: path when set (it
// must exist), else the first installed copy weightsCandidates finds.
func resolveWeights(v efficientnet.Variant, path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("train.weights: %w", err)
		}
		return path, nil
	}
	cands := weightsCandidates(v)
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return filepath.Clean(c), nil
		}
	}
	return "", fmt.Errorf("%w (looked for %s beside the binary and in the working folder and above)", ErrNoWeights, v.WeightsPath)
}

// backboneVariant is the EfficientNet-Lite variant train.backbone names.
func backboneVariant(backbone string) (efficientnet.Variant, error) {
	v, ok := efficientnet.VariantNamed(backbone)
	if !ok {
		return v, fmt.Errorf("unknown backbone %q (want one of %s)", backbone, efficientnet.VariantNames())
	}
	return v, nil
}

// loadBackboneWeights resolves, reads and checks the weights of backbone:
// their sha256 must be the pinned one (a different file is a different
// network, whatever its shapes).
func loadBackboneWeights(backbone, path string) (*efficientnet.Weights, string, error) {
	v, err := backboneVariant(backbone)
	if err != nil {
		return nil, "", err
	}
	p, err := resolveWeights(v, path)
	if err != nil {
		return nil, "", err
	}
	w, err := efficientnet.Load(p, v)
	if err != nil {
		return nil, "", err
	}
	if w.SHA256 != v.WeightsSHA256 {
		return nil, "", fmt.Errorf("%s: sha256 %s, want %s (the %s weights; reinstall with `make deps`)", p, w.SHA256, v.WeightsSHA256, v.Package)
	}
	return w, p, nil
}

// hasBackbone reports whether spec names a pretrained backbone.
func (s netSpec) hasBackbone() bool {
	return s.Backbone != "" && s.Backbone != trainconfig.BackboneNone
}

// effNet is an EfficientNet-Lite variant as the network's backbone. Its
// forward pass is the same in training and inference (batch norm stays in
// inference mode with the pretrained statistics, no dropout), so it is
// built once per input, on the first call, and both passes share it; a
// pass on another input (tta_flip's mirrors) reads the same variables.
// Fine-tuned weights become model variables, trained by Adam (at
// BackboneLRScale times the rate) and saved in the checkpoints.
type effNet struct {
	b        *builder
	w        *efficientnet.Weights
	fineTune int
	// cut > 0: the input is the activation entering layer cut, not the
	// images (a training graph fed the cached prefix, features.go).
	cut int

	// passes are the built passes by input (the images; their mirrors
	// with tta_flip), all reading the same variables; vars are those.
	passes []effPass
	vars   []efficientnet.Variable
	last   int // index of the latest call's pass
}

// effPass is the network built on one input.
type effPass struct {
	x, out tf.Output
	maps   []tf.Output
}

func (e *effNet) dim() int { return efficientnet.Features }

func (e *effNet) featureMaps() []tf.Output {
	if len(e.passes) == 0 {
		return nil
	}
	return e.passes[e.last].maps
}

func (e *effNet) features(s *op.Scope, x tf.Output, _ bool) (tf.Output, []bnUpdate) {
	for i, p := range e.passes {
		if p.x == x {
			e.last = i
			return p.out, nil
		}
	}
	m, err := e.w.BuildFrom(e.b.s.SubScope("backbone"), x, e.cut, efficientnet.Options{FineTune: e.fineTune, Reuse: e.vars})
	if err != nil {
		s.UpdateErr("efficientnet", err)
		return x, nil
	}
	for _, v := range m.Variables {
		e.b.vars = append(e.b.vars, &variable{name: v.Name, handle: v.Handle, read: v.Read, dtype: tf.Float,
			init: v.Init, model: true, train: true, backbone: true})
	}
	e.vars = append(e.vars, m.Variables...)
	e.passes = append(e.passes, effPass{x: x, out: m.Features, maps: append(append([]tf.Output(nil), m.StageMaps...), m.FeatureMap)})
	e.last = len(e.passes) - 1
	return m.Features, nil
}

// concatNet is two frozen backbones on the same input, the head reading
// their pooled features side by side (train.concat_backbone). Grad-CAM and
// the poster detector read the first one's maps: with both frozen, the
// first backbone's maps explain the part of the logits that flows
// through its features.
type concatNet struct{ first, second *effNet }

func (c concatNet) dim() int { return c.first.dim() + c.second.dim() }

func (c concatNet) featureMaps() []tf.Output { return c.first.featureMaps() }

func (c concatNet) features(s *op.Scope, x tf.Output, training bool) (tf.Output, []bnUpdate) {
	a, _ := c.first.features(s, x, training)
	b, _ := c.second.features(s, x, training)
	return concatFeatures(s, a, b), nil
}

// concatFeatures puts two backbones' pooled features [N,1280] side by
// side, [N,2560]: the one layout the feature cache (features.go) and the
// whole graph (concatNet) share.
func concatFeatures(s *op.Scope, a, b tf.Output) tf.Output {
	cs := s.SubScope("concat_features")
	return op.ConcatV2(cs, []tf.Output{a, b}, op.Const(cs.SubScope("axis"), int32(1)))
}

// featureInput is the backbone of the head-only training graph: the feed
// already holds the frozen backbone's features (flattened [N*dim]), so the
// head's variables — named as in the full graph — train on them, and the
// full graph (effNet) restores them.
type featureInput struct{ n int }

func (f featureInput) dim() int { return f.n }

func (featureInput) featureMaps() []tf.Output { return nil }

func (f featureInput) features(s *op.Scope, x tf.Output, _ bool) (tf.Output, []bnUpdate) {
	return op.Reshape(uniq(s), x, op.Const(uniq(s), []int64{-1, int64(f.n)})), nil
}

// weightsLicense is model.json's licence line for a backbone.
func weightsLicense(backbone string) string {
	if v, ok := efficientnet.VariantNamed(backbone); ok {
		return v.License()
	}
	return ""
}

// loadModelWeights finds the weights of a model's backbone (or its
// concat_backbone): where training found them (trainedPath) if that file
// is still there, else the installed copy; either way the sha256 must be
// the one model.json records.
func loadModelWeights(backbone, trainedPath, sha string) (*efficientnet.Weights, error) {
	path := ""
	if trainedPath != "" {
		if _, err := os.Stat(trainedPath); err == nil {
			path = trainedPath
		}
	}
	w, p, err := loadBackboneWeights(backbone, path)
	if err != nil {
		return nil, err
	}
	if sha != "" && w.SHA256 != sha {
		return nil, fmt.Errorf("%s: sha256 %s, but the model was trained on weights %s", p, w.SHA256, sha)
	}
	return w, nil
}
