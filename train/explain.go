package train

import (
	"errors"
	"fmt"
	"image"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Why a genre, and is it a poster: Grad-CAM heatmaps (Selvaraju et al.
// 2017) and the features the poster detector (detector.go) measures, both
// computed in the inference session, in the same run as the probabilities.
//
// Grad-CAM for genre c: A is the last convolutional feature map [h,w,K]
// (the paper network's last ReLU before its pooling; EfficientNet's head
// activations), α_k = mean over h,w of ∂logit_c/∂A_k, and the map is
// ReLU(Σ_k α_k A_k). The gradient is TensorFlow's (op.Gradients), from the
// logit — the score before softmax or sigmoid, as the paper defines it.

// ErrNoExplain is returned by Analyze for a model whose graph has no
// convolutional feature map to explain.
var ErrNoExplain = errors.New("this model has no convolutional feature map to explain")

// addExplain adds the Grad-CAM map and the detector features to an
// inference graph. fmap is the backbone's feature map (zero when it has
// none), hidden the last hidden layer's activations (zero without one).
func (g *netGraph) addExplain(root *op.Scope, logits, fmap, hidden tf.Output) error {
	if fmap.Op == nil {
		return nil
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
	g.embed = op.Mean(uniq(s), fmap, spatial)
	if hidden.Op != nil {
		g.embed = op.ConcatV2(uniq(s), []tf.Output{g.embed, hidden}, op.Const(uniq(s), int32(1)))
	}
	return root.Err()
}

// Heatmap is one genre's Grad-CAM map over the model's input.
type Heatmap struct {
	Genre string `json:"genre"`
	// Rows × Cols cells, row-major, scaled so the largest is 1 (all 0 when
	// nothing in the poster speaks for the genre).
	Rows   int       `json:"rows"`
	Cols   int       `json:"cols"`
	Values []float32 `json:"values"`
	// Max is the largest cell before scaling (comparable between genres of
	// one poster).
	Max float32 `json:"max"`
	// Where the cells lie on the model's input (InputWidth × InputHeight
	// pixels): cell (i, j)'s receptive field is centred at
	// (OriginX + j·Stride, OriginY + i·Stride).
	InputWidth  int     `json:"input_width"`
	InputHeight int     `json:"input_height"`
	OriginX     float64 `json:"origin_x"`
	OriginY     float64 `json:"origin_y"`
	Stride      float64 `json:"stride"`
}

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

func (m *Model) analyzePixels(pix []byte, explain []int) (*Analysis, error) {
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
	if net.embed.Op != nil && m.det != nil {
		fetches = append(fetches, net.embed)
	}
	if len(explain) > 0 {
		sel := make([][]float32, n)
		for i, c := range explain {
			sel[i] = make([]float32, G)
			sel[i][c] = 1
		}
		st, err := tf.NewTensor(sel)
		if err != nil {
			return nil, err
		}
		feeds[net.camSel] = st
		fetches = append(fetches, net.cam)
	}
	res, err := m.sess.Run(feeds, fetches, nil)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	a := &Analysis{Probs: res[0].Value().([][]float32)[0]}
	k := 1
	if net.embed.Op != nil && m.det != nil {
		a.Poster = m.det.check(res[k].Value().([][]float32)[0])
		k++
	}
	if len(explain) > 0 {
		maps := res[k].Value().([][][]float32)
		for i, c := range explain {
			a.Heatmaps = append(a.Heatmaps, m.heatmap(m.meta.Genres[c], maps[i]))
		}
	}
	return a, nil
}

// heatmap scales a raw map and records its geometry.
func (m *Model) heatmap(genre string, raw [][]float32) Heatmap {
	h := Heatmap{Genre: genre, Rows: len(raw), InputWidth: m.meta.Width, InputHeight: m.meta.Height}
	if h.Rows > 0 {
		h.Cols = len(raw[0])
	}
	for _, row := range raw {
		for _, v := range row {
			h.Values = append(h.Values, v)
			h.Max = max(h.Max, v)
		}
	}
	if h.Max > 0 {
		for i := range h.Values {
			h.Values[i] /= h.Max
		}
	}
	h.OriginX, h.OriginY, h.Stride = m.net.camGeometry(h.Rows, h.Cols)
	return h
}

// camGeometry returns where the feature map's cells are centred on the
// input and their spacing. The paper's stack: each 3×3 valid convolution
// shifts the centre by one pixel, each 2×2 pooling doubles the spacing and
// centres between its two inputs. EfficientNet ("SAME" padding) spaces its
// cells evenly, one per stride² block.
func (g *netGraph) camGeometry(rows, cols int) (ox, oy, stride float64) {
	if g.spec.hasBackbone() {
		const stride = 32 // five stride-2 layers
		c := (stride - 1) / 2.0
		return c, c, stride
	}
	c, st := 0.0, 1.0
	for i := len(g.spec.ConvFilters) - 1; i >= 0; i-- {
		c++ // the 3×3 valid convolution of layer i
		if i > 0 {
			c, st = 2*c+0.5, 2*st // the pooling of layer i-1
		}
	}
	return c, c, st
}
