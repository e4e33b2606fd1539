package train

import (
	"errors"
	"fmt"
	"image"
	"math"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/internal/heatmap"
	"github.com/postergenre/postergenre/train/efficientnet"
)

// Why a genre, and is it a poster: Grad-CAM heatmaps (Selvaraju et al.
// 2017) and the features the poster detector (detector.go) measures, both
// computed in the inference session, in the same run as the probabilities.
//
// Grad-CAM for genre c: A is a convolutional feature map [h,w,K] (the
// paper network's next-to-last conv layer's ReLU before its pooling, see
// gradCAMConv; EfficientNet's head activations), α_k = mean over h,w of
// ∂logit_c/∂A_k, and the map is ReLU(Σ_k α_k A_k). The gradient is
// TensorFlow's (op.Gradients), from the logit — the score before softmax
// or sigmoid, as the paper defines it.

// gradCAMConv is the conv layer Grad-CAM weighs in a paper-style network of
// n conv layers: the one before the last. At 73×107 the last one's map is
// 9×5 cells, each seeing 38 of the poster's 73 pixels across, and its
// heatmaps spill over a quarter of the poster; the one before gives 23×14
// cells of 18 pixels. On the demo (app/cli TestDemoEndToEnd, whose genres
// are drawn in known quarters) that moves the heatmap's mass inside the
// drawn quarter from 0.56 to 0.60 for the test's model and from 0.45–0.63
// to 0.52–0.76 over three other training seeds; with one conv layer it is
// that layer.
func gradCAMConv(n int) int { return max(0, n-2) }

// GradCAMLayer names the map gradCAMConv picks for conv layers of filters
// ("conv2": conv layer 2's ReLU before its pooling, as the checkpoint names
// the layer), or "head" for a backbone (empty filters): model.json's
// gradcam_layer.
func GradCAMLayer(filters []int) string {
	if len(filters) == 0 {
		return "head"
	}
	return fmt.Sprintf("conv%d", gradCAMConv(len(filters)))
}

// parseGradCAMLayer is the conv index of model.json's gradcam_layer for a
// network of n conv layers ("" in a model written before it was recorded:
// gradCAMConv's).
func parseGradCAMLayer(name string, n int) (int, error) {
	if n == 0 {
		return 0, nil
	}
	if name == "" {
		return gradCAMConv(n), nil
	}
	var i int
	if _, err := fmt.Sscanf(name, "conv%d", &i); err != nil || i < 0 || i >= n || fmt.Sprintf("conv%d", i) != name {
		return 0, fmt.Errorf("gradcam_layer %q: want conv0..conv%d", name, n-1)
	}
	return i, nil
}

// ErrNoExplain is returned by Analyze for a model whose graph has no
// convolutional feature map to explain.
var ErrNoExplain = errors.New("this model has no convolutional feature map to explain")

// addExplain adds the Grad-CAM map and the detector features to an
// inference graph. maps are the backbone's feature maps, bottom to top
// (none for a head fed features); hidden is the last hidden layer's
// activations (zero without one).
//
// The detector's features are one block per layer: each lower map's
// per-channel spatial mean and standard deviation (the image statistics a
// layer sees: a flat colour, noise or a page of text moves them far from a
// poster's), the last map's per-channel mean, and hidden.
func (g *netGraph) addExplain(root *op.Scope, logits tf.Output, maps []tf.Output, hidden tf.Output) error {
	if len(maps) == 0 {
		return nil
	}
	fmap := maps[len(maps)-1]
	if !g.spec.hasBackbone() {
		if g.spec.GradCAMConv < 0 || g.spec.GradCAMConv >= len(maps) {
			return fmt.Errorf("grad-cam: conv layer %d of %d", g.spec.GradCAMConv, len(maps))
		}
		fmap = maps[g.spec.GradCAMConv]
	}
	s := root.SubScope("explain")
	g.camMap = fmap
	g.camSel = op.Placeholder(s.SubScope("genre"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, int64(g.spec.Genres))))
	score := op.Sum(uniq(s), op.Mul(uniq(s), logits, g.camSel), op.Const(uniq(s), []int32{0, 1}))
	grads := op.Gradients(s.SubScope("gradients"), []tf.Output{score}, []tf.Output{fmap})
	if err := root.Err(); err != nil {
		return fmt.Errorf("grad-cam gradients: %w", err)
	}
	spatial := op.Const(uniq(s), []int32{1, 2})
	alpha := op.Mean(uniq(s), grads[0], spatial, op.MeanKeepDims(true))
	g.cam = op.Relu(uniq(s), op.Sum(uniq(s), op.Mul(uniq(s), fmap, alpha), op.Const(uniq(s), []int32{3})))

	parts, dims, err := mapStats(s, maps)
	if err != nil {
		return err
	}
	g.embedDims = dims
	if hidden.Op != nil {
		k, err := channels(hidden)
		if err != nil {
			return err
		}
		parts = append(parts, hidden)
		g.embedDims = append(g.embedDims, k)
	}
	g.embed = op.ConcatV2(uniq(s), parts, op.Const(uniq(s), int32(1)))
	return root.Err()
}

// addDetectorBackbone replaces the detector's features with those of a
// frozen EfficientNet-Lite0 (ImageNet) on the raw pixels, for a network
// trained from scratch: its own features, learnt to tell four genres apart,
// do not separate posters from photographs, ImageNet's do. Same blocks as
// addExplain gives a backbone model: each stage's channel means and
// spreads, the head's means.
func (g *netGraph) addDetectorBackbone(root *op.Scope, w *efficientnet.Weights) error {
	s := root.SubScope("detector")
	g.rawImages = op.Placeholder(s.SubScope("raw_images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1)))
	x := op.Reshape(uniq(s), g.rawImages, op.Const(uniq(s), []int64{-1, int64(g.spec.Height), int64(g.spec.Width), 3}))
	m, err := w.Build(s.SubScope("backbone"), x, efficientnet.Options{Prefix: "detector"})
	if err != nil {
		return fmt.Errorf("detector backbone: %w", err)
	}
	parts, dims, err := mapStats(s, append(append([]tf.Output(nil), m.StageMaps...), m.FeatureMap))
	if err != nil {
		return err
	}
	g.embedDims = dims
	g.embed = op.ConcatV2(uniq(s), parts, op.Const(uniq(s), int32(1)))
	return root.Err()
}

// mapStats is the detector's blocks for feature maps, bottom to top: each
// lower map's per-channel spatial mean and standard deviation, the last
// map's per-channel mean.
func mapStats(s *op.Scope, maps []tf.Output) (parts []tf.Output, dims []int, err error) {
	spatial := op.Const(uniq(s), []int32{1, 2})
	for i, m := range maps {
		k, err := channels(m)
		if err != nil {
			return nil, nil, err
		}
		mean := op.Mean(uniq(s), m, spatial)
		if i == len(maps)-1 {
			return append(parts, mean), append(dims, k), nil
		}
		sq := op.Mean(uniq(s), op.Square(uniq(s), m), spatial)
		std := op.Sqrt(uniq(s), op.Maximum(uniq(s), op.Sub(uniq(s), sq, op.Square(uniq(s), mean)), op.Const(uniq(s), float32(0))))
		parts = append(parts, op.ConcatV2(uniq(s), []tf.Output{mean, std}, op.Const(uniq(s), int32(1))))
		dims = append(dims, 2*k)
	}
	return parts, dims, nil
}

// channels is the static size of a tensor's last dimension.
func channels(t tf.Output) (int, error) {
	shape, err := t.Shape().ToSlice()
	if err != nil || len(shape) == 0 || shape[len(shape)-1] < 1 {
		return 0, fmt.Errorf("explain: %s has no static channel count (%v)", t.Op.Name(), err)
	}
	return int(shape[len(shape)-1]), nil
}

// Heatmap is one genre's Grad-CAM map over the model's input.
type Heatmap = heatmap.Map

// Analysis is one poster's probabilities, its poster check and the
// requested heatmaps.
type Analysis struct {
	Probs []float32
	// Input is the poster as the model saw it: InputHeight×InputWidth×3
	// bytes of RGB (the overlay's background).
	Input []byte
	// Poster is nil when the model has no calibrated detector.
	Poster   *PosterCheck
	Heatmaps []Heatmap
}

// GenreIndex returns the index of genre in Meta.Genres, or -1.
func (m *Model) GenreIndex(genre string) int {
	for i, g := range m.meta.Genres {
		if g == genre {
			return i
		}
	}
	return -1
}

// CanExplain reports whether the model's graph has a feature map for
// Grad-CAM (every model loaded for inference does).
func (m *Model) CanExplain() bool { return m.net.cam.Op != nil }

// Analyze prepares a decoded poster as PredictImage does and returns its
// probabilities, the poster check (when the model has a detector) and a
// Grad-CAM heatmap for each genre index in explain, all from one session
// run: the image is fed once per explained genre (at least once).
func (m *Model) Analyze(img image.Image, explain []int) (*Analysis, error) {
	pix := m.meta.Preprocess.Image(img)
	out, err := m.analyzePixels(pix, explain)
	if err != nil {
		return nil, err
	}
	out.Input = pix
	return out, nil
}

// AnalyzePixels is Analyze for a poster already prepared (Height×Width×3
// bytes of RGB, as the encode stage's shards hold them).
func (m *Model) AnalyzePixels(pix []byte, explain []int) (*Analysis, error) {
	if len(pix) != m.meta.Height*m.meta.Width*3 {
		return nil, fmt.Errorf("analyze: %d bytes, want %d×%d×3", len(pix), m.meta.Width, m.meta.Height)
	}
	out, err := m.analyzePixels(pix, explain)
	if err != nil {
		return nil, err
	}
	out.Input = pix
	return out, nil
}

// Explain returns only the Grad-CAM heatmaps of the genre indices of
// prepared pixels (as Analysis.Input holds them): the second run of an
// explanation of the top genre, which needs no poster check again.
func (m *Model) Explain(pix []byte, genres []int) ([]Heatmap, error) {
	if len(genres) == 0 {
		return nil, nil
	}
	if len(pix) != m.meta.Height*m.meta.Width*3 {
		return nil, fmt.Errorf("explain: %d bytes, want %d×%d×3", len(pix), m.meta.Width, m.meta.Height)
	}
	a, err := m.run(pix, genres, false)
	if err != nil {
		return nil, err
	}
	return a.Heatmaps, nil
}

func (m *Model) analyzePixels(pix []byte, explain []int) (*Analysis, error) {
	return m.run(pix, explain, true)
}

// run feeds pix once per explained genre (at least once) and fetches the
// probabilities, the detector's features (check) and the maps. An
// ensemble's probabilities and raw maps are its members' means (the
// detector reads member 1's features).
func (m *Model) run(pix []byte, explain []int, check bool) (*Analysis, error) {
	net := m.net
	G := len(m.meta.Genres)
	for _, c := range explain {
		if c < 0 || c >= G {
			return nil, fmt.Errorf("explain: genre index %d out of 0..%d", c, G-1)
		}
	}
	if len(explain) > 0 && !m.CanExplain() {
		return nil, ErrNoExplain
	}
	n := max(1, len(explain))
	x := make([]float32, 0, n*len(pix))
	for range n {
		x = m.sc.convert(x, pix)
	}
	xt, err := tf.NewTensor(x)
	if err != nil {
		return nil, err
	}
	feeds := map[tf.Output]*tf.Tensor{net.images: xt}
	fetches := []tf.Output{net.probs}
	check = check && net.embed.Op != nil && m.det != nil
	if check {
		fetches = append(fetches, net.embed)
		if err := m.feedRaw(feeds, pix, n); err != nil {
			return nil, err
		}
	}
	var sel *tf.Tensor
	if len(explain) > 0 {
		if sel, err = camSelection(explain, G); err != nil {
			return nil, err
		}
		feeds[net.camSel] = sel
		fetches = append(fetches, net.cam)
	}
	// Without heatmaps an ensemble on a frozen backbone needs only member
	// 1's features for the other members' heads (ensemble.go).
	shared := len(explain) == 0 && len(m.heads) > 0
	if shared {
		fetches = append(fetches, net.feats...)
	}
	res, err := m.sess.Run(feeds, fetches, nil)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	a := &Analysis{Probs: res[0].Value().([][]float32)[0]}
	k := 1
	if check {
		a.Poster = m.det.check(res[k].Value().([][]float32)[0])
		k++
	}
	var maps [][][]float32
	if len(explain) > 0 {
		maps = res[k].Value().([][][]float32)
	}
	switch {
	case shared:
		rows, err := m.headsMean(res[0].Value().([][]float32), res[len(res)-len(net.feats):])
		if err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
		a.Probs = rows[0]
	case len(m.more) > 0:
		if a.Probs, maps, err = m.meanAnalysis(a.Probs, maps, xt, sel); err != nil {
			return nil, err
		}
	}
	for i, c := range explain {
		a.Heatmaps = append(a.Heatmaps, m.heatmap(m.meta.Genres[c], maps[i]))
	}
	return a, nil
}

// camSelection is the one-hot rows that pick each explained genre's
// Grad-CAM map, one row per fed copy of the image.
func camSelection(explain []int, genres int) (*tf.Tensor, error) {
	sel := make([][]float32, len(explain))
	for i, c := range explain {
		sel[i] = make([]float32, genres)
		sel[i][c] = 1
	}
	return tf.NewTensor(sel)
}

// meanAnalysis averages member 1's probabilities and raw maps with the
// other members' on the same feeds.
func (m *Model) meanAnalysis(probs []float32, maps [][][]float32, xt, sel *tf.Tensor) ([]float32, [][][]float32, error) {
	ps, ms, err := m.memberAnalysis(xt, sel)
	if err != nil {
		return nil, nil, err
	}
	probs = mean32(append([][]float32{probs}, ps...))
	if maps == nil {
		return probs, nil, nil
	}
	out := make([][][]float32, len(maps))
	for i := range maps {
		all := [][][]float32{maps[i]}
		for _, mm := range ms {
			all = append(all, mm[i])
		}
		out[i] = meanRows(all)
	}
	return probs, out, nil
}

// feedRaw adds the raw pixels (n copies of pix) to feeds when the graph
// has a detector backbone.
func (m *Model) feedRaw(feeds map[tf.Output]*tf.Tensor, pix []byte, n int) error {
	if m.net.rawImages.Op == nil {
		return nil
	}
	raw := make([]float32, 0, n*len(pix))
	for range n {
		raw = rawScaler.convert(raw, pix)
	}
	t, err := tf.NewTensor(raw)
	if err != nil {
		return err
	}
	feeds[m.net.rawImages] = t
	return nil
}

// rawScaler maps pixels to 0..255 floats (the detector backbone's input).
var rawScaler = newScaler(Preprocessing{Input: InputRaw})

// heatmap scales a raw map to 0..1 (min-max, as Grad-CAM maps are shown:
// a constant floor, the evidence every part of an image gives alike, says
// nothing about where) and records its geometry.
func (m *Model) heatmap(genre string, raw [][]float32) Heatmap {
	h := Heatmap{Genre: genre, Rows: len(raw), InputWidth: m.meta.Width, InputHeight: m.meta.Height}
	if h.Rows > 0 {
		h.Cols = len(raw[0])
	}
	h.Min = float32(math.Inf(1))
	for _, row := range raw {
		for _, v := range row {
			h.Values = append(h.Values, v)
			h.Max = max(h.Max, v)
			h.Min = min(h.Min, v)
		}
	}
	for i, v := range h.Values {
		h.Values[i] = 0
		if h.Max > h.Min {
			h.Values[i] = (v - h.Min) / (h.Max - h.Min)
		}
	}
	h.OriginX, h.OriginY, h.Stride = m.net.camGeometry(h.Rows, h.Cols)
	return h
}

// camGeometry returns where the feature map's cells are centred on the
// input and their spacing. The paper's stack, from the Grad-CAM layer down:
// each 3×3 valid convolution shifts the centre by one pixel, each 2×2
// pooling doubles the spacing and centres between its two inputs. EfficientNet ("SAME" padding) spaces its
// cells evenly, one per stride² block.
func (g *netGraph) camGeometry(rows, cols int) (ox, oy, stride float64) {
	if g.spec.hasBackbone() {
		const stride = 32 // five stride-2 layers
		c := (stride - 1) / 2.0
		return c, c, stride
	}
	c, st := 0.0, 1.0
	for i := g.spec.GradCAMConv; i >= 0; i-- {
		c++ // the 3×3 valid convolution of layer i
		if i > 0 {
			c, st = 2*c+0.5, 2*st // the pooling of layer i-1
		}
	}
	return c, c, st
}
