package train

import (
	"errors"
	"fmt"
	"math"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/train/efficientnet"
)

// netSpec is everything the graph builder needs. The same spec with
// training=false rebuilds the inference graph with identical variable names,
// so a checkpoint written by training restores into it.
type netSpec struct {
	Height, Width, Channels int
	Genres                  int
	ConvFilters             []int
	Dense                   []int
	Dropout                 float64
	BatchNorm               bool
	Loss                    string // softmax_ce | sigmoid_bce
	Seed                    int64
	Optimizer               Optimizer
	// Backbone replaces the conv stack when set (backbone.go): Weights are
	// its pretrained weights, FineTune its top layers trained. With
	// FeatureInput the graph is the head alone, fed the frozen backbone's
	// features as Channels values per row (Height = Width = 1). With
	// Cut > 0 the feed holds the activation entering the backbone's layer
	// Cut (Height×Width×Channels per row, the frozen prefix's output cached
	// by features.go) and the graph runs the backbone from there.
	// BackboneLRScale (0 = 1) multiplies the fine-tuned layers' learning
	// rate.
	Backbone        string
	FineTune        int
	Weights         *efficientnet.Weights
	FeatureInput    bool
	Cut             int
	BackboneLRScale float64
	// ConcatBackbone, ConcatWeights: a second frozen backbone on the same
	// input, its pooled features concatenated after Backbone's
	// (train.concat_backbone).
	ConcatBackbone string
	ConcatWeights  *efficientnet.Weights
	// LabelSmoothing, WeightDecay and EMADecay act on training only (see
	// trainconfig); TTAFlip changes the inference probabilities, so model.json
	// records it and LoadModel rebuilds with it.
	LabelSmoothing float64
	WeightDecay    float64
	EMADecay       float64
	TTAFlip        bool
	// GradCAMConv is the conv layer whose ReLU map (before its pooling)
	// Grad-CAM weighs, an index of ConvFilters (gradCAMConv gives the
	// default; model.json records it as gradcam_layer). A backbone's
	// Grad-CAM uses its own head activations.
	GradCAMConv int
	// DetectorWeights, for an inference graph of a network without a
	// pretrained backbone, adds EfficientNet-Lite0 beside it, fed the raw
	// pixels (rawImages): the poster detector's features (explain.go).
	DetectorWeights *efficientnet.Weights
	// Training adds the training forward pass (dropout, batch statistics),
	// the loss gradients, Adam and the full checkpoint ops.
	Training bool
	// reluBeforePool builds a training graph's conv layers in the order an
	// inference graph has (ReLU, then max-pool) instead of pooling first:
	// the tests check both orders train identically.
	reluBeforePool bool
}

// Batch-norm constants, as Keras' defaults.
const (
	bnMomentum = 0.99
	bnEpsilon  = 1e-3
)

// variable is one resource variable with its checkpoint name.
type variable struct {
	name   string
	handle tf.Output
	read   tf.Output // ReadVariableOp feeding the forward pass
	dtype  tf.DataType
	init   tf.Output // initial value
	model  bool      // part of the model (saved into model/), not optimizer state
	train  bool      // trained by Adam
	// backbone marks a fine-tuned pretrained weight: Adam moves it at the
	// learning rate times netSpec.BackboneLRScale.
	backbone bool
}

// netGraph is a built graph and the handles the trainer and Model use.
type netGraph struct {
	graph *tf.Graph
	spec  netSpec

	// Feeds.
	images       tf.Output // flat float32 [N*H*W*C], already scaled
	labels       tf.Output // flat float32 [N*G]
	classWeights tf.Output // [G], defaults to ones
	lr           tf.Output // scalar float32 (training only)
	prefix       tf.Output // checkpoint prefix, scalar string

	// Fetches.
	probs     tf.Output // inference probabilities [N,G]
	evalLoss  tf.Output // inference loss (mean over the batch)
	trainLoss tf.Output // training-mode loss (dropout, batch statistics)
	trainProb tf.Output // training-mode probabilities, for training accuracy
	step      tf.Output // global step (int64)
	// Explanations and the poster detector (inference graphs only, see
	// explain.go): camSel [N,G] weighs each row's logits whose gradient
	// Grad-CAM takes, cam [N,h,w] is the map, embed [N,D] the features the
	// poster detector measures.
	camSel, cam, embed tf.Output
	rawImages          tf.Output // flat float32 0..255 [N*H*W*3], fed only with DetectorWeights
	// feats, in an inference graph on a pretrained backbone, are the
	// features [N,dim] the head reads: the images' and, with tta_flip,
	// their mirrors' (a frozen ensemble's other members read them,
	// ensemble.go).
	feats     []tf.Output
	camMap    tf.Output // the feature map Grad-CAM weighs [N,h,w,K]
	embedDims []int     // embed's blocks, one per layer (detector.go)

	// Targets.
	initOp, trainOp         *tf.Operation
	saveAll, restoreAll     *tf.Operation
	saveModel, restoreModel *tf.Operation
	// EMA weight swaps (EMADecay > 0): emaBackup copies the live trainable
	// weights aside, emaSwapIn loads the averages into them, emaRestore
	// puts the live ones back.
	emaBackup, emaSwapIn, emaRestore *tf.Operation
	vars                             []*variable
	flatDim                          int
	featureH, featureW, featC        int
}

// featureSize returns the spatial size after the conv/pool stack, or an
// error when the input is too small for it.
func featureSize(h, w int, convs []int) (int, int, error) {
	for i := range convs {
		h, w = h-2, w-2 // 3×3 valid conv
		if h < 2 || w < 2 {
			return 0, 0, fmt.Errorf("input too small: conv layer %d leaves %d×%d, need at least 2×2 before pooling", i+1, max(h, 0), max(w, 0))
		}
		h, w = h/2, w/2 // 2×2 valid pool, stride 2
	}
	return h, w, nil
}

// builder carries the scope and the variables while the graph is assembled.
type builder struct {
	s    *op.Scope
	spec netSpec
	vars []*variable
	seq  int64 // initialiser seed counter
}

func (b *builder) f32(v float64) tf.Output { return op.Const(uniq(b.s), float32(v)) }

// newVar declares a variable with the given initial value tensor.
func (b *builder) newVar(name string, dtype tf.DataType, shape []int64, init tf.Output, model, train bool) *variable {
	s := b.s.SubScope(name)
	h := op.VarHandleOp(uniq(s), dtype, tf.MakeShape(shape...), op.VarHandleOpSharedName(name))
	v := &variable{name: name, handle: h, dtype: dtype, init: init, model: model, train: train}
	v.read = op.ReadVariableOp(uniq(s), h, dtype)
	b.vars = append(b.vars, v)
	return v
}

// glorot makes a Glorot-uniform initial value with a fixed op seed.
func (b *builder) glorot(shape []int64, fanIn, fanOut int64) tf.Output {
	b.seq++
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	u := op.RandomUniform(uniq(b.s), op.Const(uniq(b.s), shape), tf.Float,
		op.RandomUniformSeed(b.spec.Seed), op.RandomUniformSeed2(b.seq))
	return op.Sub(uniq(b.s), op.Mul(uniq(b.s), u, b.f32(2*limit)), b.f32(limit))
}

func (b *builder) fill(shape []int64, v float64) tf.Output {
	return op.Fill(uniq(b.s), op.Const(uniq(b.s), shape), b.f32(v))
}

// layer variables of the network, shared by the training and inference passes.
type convLayer struct {
	kernel, bias             *variable
	gamma, beta, mmean, mvar *variable
}

type denseLayer struct{ kernel, bias *variable }

// bnUpdate is a batch-norm moving statistic and the batch value it moves towards.
type bnUpdate struct {
	v     *variable
	batch tf.Output
}

// backbone maps the input images [N,H,W,C] to flat features [N,dim()] for
// the dense head. training selects batch statistics, and a training pass
// returns the batch-norm updates it needs. The paper's conv stack is the one
// backbone today; a pretrained one (its variables declared on the builder,
// model=true, train as fine-tuning wants) plugs in here without touching the
// head, the loss, Adam or the checkpoints.
type backbone interface {
	features(s *op.Scope, x tf.Output, training bool) (tf.Output, []bnUpdate)
	dim() int
	// featureMaps are the convolutional feature maps [N,h,w,K] of the
	// latest features call, bottom to top; the last is Grad-CAM's input.
	// None for a head fed features, nor for a training graph's conv stack
	// (it pools before the ReLU).
	featureMaps() []tf.Output
}

// convStack is the paper's backbone: 3×3 valid convs, each with optional
// batch norm, ReLU and 2×2 max-pool, then flattened.
type convStack struct {
	layers    []convLayer
	batchNorm bool
	flat      int64
	maps      []tf.Output
	// poolFirst max-pools before the ReLU. The two commute exactly (the
	// ReLU is monotone, so the max of the rectified values is the
	// rectified max, and the gradient reaches the same element), and
	// pooling first runs the ReLU and its gradient on a quarter of the
	// values. The unfused ReLU is the point: TensorFlow's C++ gradient of
	// Relu reads the ReLU's input, which keeps grappler from fusing the
	// ReLU into the convolution as it does for Keras (whose Python
	// gradient reads the output); measured in bench/opprofile, the ReLU
	// and its gradient were 11% of a training step at 73×107. Training
	// graphs only: Grad-CAM (inference graphs) weighs a ReLU map before
	// its pooling, which a pooled-first stack does not have.
	poolFirst bool
}

func (c *convStack) dim() int { return int(c.flat) }

func (c *convStack) featureMaps() []tf.Output { return c.maps }

// declareConvStack declares the conv variables for spec (fh×fw = the
// spatial size left by the stack).
func (b *builder) declareConvStack(fh, fw int) *convStack {
	spec := b.spec
	c := &convStack{batchNorm: spec.BatchNorm, poolFirst: spec.Training && !spec.reluBeforePool}
	in := int64(spec.Channels)
	for i, f := range spec.ConvFilters {
		out := int64(f)
		name := fmt.Sprintf("conv%d", i)
		var l convLayer
		l.kernel = b.newVar(name+"/kernel", tf.Float, []int64{3, 3, in, out}, b.glorot([]int64{3, 3, in, out}, 9*in, 9*out), true, true)
		l.bias = b.newVar(name+"/bias", tf.Float, []int64{out}, b.fill([]int64{out}, 0), true, true)
		if spec.BatchNorm {
			bn := fmt.Sprintf("bn%d", i)
			l.gamma = b.newVar(bn+"/gamma", tf.Float, []int64{out}, b.fill([]int64{out}, 1), true, true)
			l.beta = b.newVar(bn+"/beta", tf.Float, []int64{out}, b.fill([]int64{out}, 0), true, true)
			l.mmean = b.newVar(bn+"/moving_mean", tf.Float, []int64{out}, b.fill([]int64{out}, 0), true, false)
			l.mvar = b.newVar(bn+"/moving_variance", tf.Float, []int64{out}, b.fill([]int64{out}, 1), true, false)
		}
		c.layers = append(c.layers, l)
		in = out
	}
	c.flat = int64(fh*fw) * in
	return c
}

func (c *convStack) features(s *op.Scope, x tf.Output, training bool) (tf.Output, []bnUpdate) {
	h := x
	var ups []bnUpdate
	c.maps = nil
	for _, l := range c.layers {
		h = op.Conv2D(uniq(s), h, l.kernel.read, []int64{1, 1, 1, 1}, "VALID")
		h = op.BiasAdd(uniq(s), h, l.bias.read)
		if c.batchNorm {
			var u []bnUpdate
			h, u = batchNorm(s, h, l, training)
			ups = append(ups, u...)
		}
		if c.poolFirst {
			h = op.MaxPool(uniq(s), h, []int64{1, 2, 2, 1}, []int64{1, 2, 2, 1}, "VALID")
			h = op.Relu(uniq(s), h)
			continue
		}
		h = op.Relu(uniq(s), h)
		// Grad-CAM reads a ReLU before its pooling: twice the resolution
		// of the pooled map.
		c.maps = append(c.maps, h)
		h = op.MaxPool(uniq(s), h, []int64{1, 2, 2, 1}, []int64{1, 2, 2, 1}, "VALID")
	}
	return op.Reshape(uniq(s), h, op.Const(uniq(s), []int64{-1, c.flat})), ups
}

// batchNorm normalises with the batch's statistics when training (returning
// the moving-average updates) and with the moving ones otherwise.
func batchNorm(s *op.Scope, h tf.Output, l convLayer, training bool) (tf.Output, []bnUpdate) {
	if training {
		empty := op.Const(uniq(s), []float32{})
		y, bm, bv, _, _, _ := op.FusedBatchNormV3(uniq(s), h, l.gamma.read, l.beta.read, empty, empty,
			op.FusedBatchNormV3IsTraining(true), op.FusedBatchNormV3Epsilon(bnEpsilon))
		return y, []bnUpdate{{l.mmean, bm}, {l.mvar, bv}}
	}
	y, _, _, _, _, _ := op.FusedBatchNormV3(uniq(s), h, l.gamma.read, l.beta.read, l.mmean.read, l.mvar.read,
		op.FusedBatchNormV3IsTraining(false), op.FusedBatchNormV3Epsilon(bnEpsilon))
	return y, nil
}

// network is a backbone followed by the dense head (hidden layers with ReLU
// and dropout, then the output logits).
type network struct {
	spec     netSpec
	backbone backbone
	head     []denseLayer
	step     *variable // global step (training only): seeds dropout
	// hidden is the last hidden layer's activations of the latest
	// inference pass (zero without hidden layers): part of the poster
	// detector's features.
	hidden tf.Output
	// features is the backbone's output in the latest inference pass.
	features tf.Output
}

// declareHead declares the dense layers after a backbone of dim features.
func (b *builder) declareHead(dim int) []denseLayer {
	var head []denseLayer
	in := int64(dim)
	outs := append(append([]int(nil), b.spec.Dense...), b.spec.Genres)
	for i, d := range outs {
		out := int64(d)
		name := fmt.Sprintf("dense%d", i)
		if i == len(outs)-1 {
			name = "output"
		}
		head = append(head, denseLayer{
			kernel: b.newVar(name+"/kernel", tf.Float, []int64{in, out}, b.glorot([]int64{in, out}, in, out), true, true),
			bias:   b.newVar(name+"/bias", tf.Float, []int64{out}, b.fill([]int64{out}, 0), true, true),
		})
		in = out
	}
	return head
}

// logits builds one forward pass; training selects dropout and batch statistics.
func (n *network) logits(s *op.Scope, x tf.Output, training bool) (tf.Output, []bnUpdate) {
	h, ups := n.backbone.features(s, x, training)
	if !training {
		n.features = h
	}
	for i, l := range n.head {
		h = op.BiasAdd(uniq(s), op.MatMul(uniq(s), h, l.kernel.read), l.bias.read)
		if i == len(n.head)-1 {
			break
		}
		h = op.Relu(uniq(s), h)
		if !training {
			n.hidden = h
		}
		if training && n.spec.Dropout > 0 {
			h = dropout(s, h, n.spec.Dropout, n.spec.Seed, int64(i), n.step.read)
		}
	}
	return h, ups
}

// checkSpec fills defaults and returns the spatial size the conv stack leaves.
func checkSpec(spec *netSpec) (fh, fw int, err error) {
	if spec.Channels == 0 {
		spec.Channels = 3
	}
	fh, fw, err = featureSize(spec.Height, spec.Width, spec.ConvFilters)
	if err != nil {
		return 0, 0, err
	}
	if spec.Genres < 1 {
		return 0, 0, errors.New("no genres to predict")
	}
	if spec.Loss != "softmax_ce" && spec.Loss != "sigmoid_bce" {
		return 0, 0, fmt.Errorf("unknown loss %q", spec.Loss)
	}
	return fh, fw, nil
}

// buildGraph assembles the network for spec: variables, feeds, the
// inference pass, (when training) the training pass and Adam, the
// initialiser and the checkpoint ops.
func buildGraph(spec netSpec) (*netGraph, error) {
	fh, fw, err := checkSpec(&spec)
	if err != nil {
		return nil, err
	}
	root := op.NewScope()
	b := &builder{s: root, spec: spec}
	g := &netGraph{spec: spec, featureH: fh, featureW: fw}
	var bb backbone
	switch {
	case spec.FeatureInput:
		bb = featureInput{n: spec.Channels}
	case spec.hasBackbone():
		if spec.Weights == nil {
			return nil, fmt.Errorf("backbone %s: no weights", spec.Backbone)
		}
		if spec.Cut > 0 && spec.TTAFlip {
			return nil, errors.New("tta_flip needs the images: a graph fed the backbone's cut activation cannot mirror them")
		}
		bb = &effNet{b: b, w: spec.Weights, fineTune: spec.FineTune, cut: spec.Cut}
		if spec.ConcatBackbone != "" {
			if spec.ConcatWeights == nil {
				return nil, fmt.Errorf("concat backbone %s: no weights", spec.ConcatBackbone)
			}
			if spec.FineTune != 0 || spec.Cut != 0 {
				return nil, errors.New("concat backbone: both backbones must be frozen")
			}
			bb = concatNet{bb.(*effNet), &effNet{b: b, w: spec.ConcatWeights}}
		}
	default:
		bb = b.declareConvStack(fh, fw)
		g.featC = spec.Channels
		if len(spec.ConvFilters) > 0 {
			g.featC = spec.ConvFilters[len(spec.ConvFilters)-1]
		}
	}
	g.flatDim = bb.dim()
	net := &network{spec: spec, backbone: bb, head: b.declareHead(bb.dim())}
	if spec.Training {
		net.step = b.newVar("global_step", tf.Int64, nil, op.Const(uniq(root), int64(0)), false, false)
		g.step = net.step.read
	}
	x, y := g.addFeeds(root)

	es := root.SubScope("eval")
	evalLogits, _ := net.logits(es, x, false)
	g.probs = probabilities(es, evalLogits, spec.Loss)
	shareFeatures := !spec.Training && !spec.FeatureInput && spec.hasBackbone()
	if shareFeatures {
		g.feats = append(g.feats, net.features)
	}
	if !spec.Training && !spec.FeatureInput {
		if err := g.addExplain(root, evalLogits, bb.featureMaps(), net.hidden); err != nil {
			return nil, err
		}
		if spec.DetectorWeights != nil && !spec.hasBackbone() {
			if err := g.addDetectorBackbone(root, spec.DetectorWeights); err != nil {
				return nil, err
			}
		}
	}
	if spec.TTAFlip {
		// Width is axis 2 of NHWC; per-channel standardisation commutes with the flip.
		flipped, _ := net.logits(es, op.ReverseV2(uniq(es), x, op.Const(uniq(es), []int32{2})), false)
		g.probs = op.Mul(uniq(es), op.Add(uniq(es), g.probs, probabilities(es, flipped, spec.Loss)), b.f32(0.5))
		if shareFeatures {
			g.feats = append(g.feats, net.features)
		}
	}
	g.evalLoss = lossFn(es, evalLogits, y, g.classWeights, spec.Loss)

	if spec.Training {
		if err := b.addTraining(g, net, x, y); err != nil {
			return nil, err
		}
	}
	g.initOp = b.initOp()
	b.addCheckpoints(g)
	graph, err := root.Finalize()
	if err != nil {
		return nil, fmt.Errorf("build graph: %w", err)
	}
	g.graph = graph
	return g, nil
}

// addFeeds declares the placeholders and returns the images as [N,H,W,C]
// and the labels as [N,G].
func (g *netGraph) addFeeds(root *op.Scope) (x, y tf.Output) {
	spec := g.spec
	G := int64(spec.Genres)
	g.images = op.Placeholder(root.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1)))
	g.labels = op.Placeholder(root.SubScope("labels"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1)))
	ones := make([]float32, G)
	for i := range ones {
		ones[i] = 1
	}
	g.classWeights = op.PlaceholderWithDefault(root.SubScope("class_weights"), op.Const(uniq(root), ones), tf.MakeShape(G))
	x = op.Reshape(uniq(root), g.images, op.Const(uniq(root), []int64{-1, int64(spec.Height), int64(spec.Width), int64(spec.Channels)}))
	y = op.Reshape(uniq(root), g.labels, op.Const(uniq(root), []int64{-1, G}))
	return x, y
}

// addTraining adds the training pass, its gradients, Adam (with its slot
// variables) and the batch-norm moving-average updates; g.trainOp runs one
// step and increments the global step.
func (b *builder) addTraining(g *netGraph, net *network, x, y tf.Output) error {
	root := b.s
	ts := root.SubScope("train")
	trainLogits, bnUpdates := net.logits(ts, x, true)
	g.trainProb = probabilities(ts, trainLogits, b.spec.Loss)
	g.trainLoss = lossFn(ts, trainLogits, smoothLabels(ts, y, b.spec.Loss, b.spec.LabelSmoothing), g.classWeights, b.spec.Loss)
	var trainable []*variable
	var xs []tf.Output
	for _, v := range b.vars {
		if v.train {
			trainable = append(trainable, v)
			xs = append(xs, v.read)
		}
	}
	grads := op.Gradients(root.SubScope("gradients"), []tf.Output{g.trainLoss}, xs)
	if err := root.Err(); err != nil {
		return fmt.Errorf("gradients: %w", err)
	}
	// Adam slots, created after the gradients (their init ops are not on
	// any gradient path anyway).
	as := root.SubScope("adam")
	g.lr = op.Placeholder(as.SubScope("lr"), tf.Float, op.PlaceholderShape(tf.ScalarShape()))
	updates, err := b.adamUpdates(as, g.lr, net.step, trainable, grads)
	if err != nil {
		return err
	}
	if b.spec.EMADecay > 0 {
		if updates, err = b.addEMA(g, as, net.step, trainable, updates); err != nil {
			return err
		}
	}
	for _, u := range bnUpdates {
		// moving = moving*momentum + batch*(1-momentum)
		nv := op.Add(uniq(as), op.Mul(uniq(as), u.v.read, b.f32(bnMomentum)), op.Mul(uniq(as), u.batch, b.f32(1-bnMomentum)))
		updates = append(updates, op.AssignVariableOp(uniq(as), u.v.handle, nv))
	}
	g.trainOp = op.AssignAddVariableOp(as.WithControlDependencies(updates...), net.step.handle, op.Const(uniq(as), int64(1)))
	return nil
}

// adamUpdates declares Adam's m and v slots for each trainable variable and
// returns the ops applying one step of the gradients.
func (b *builder) adamUpdates(as *op.Scope, lr tf.Output, step *variable, trainable []*variable, grads []tf.Output) ([]*tf.Operation, error) {
	o := b.spec.Optimizer
	t := op.Cast(uniq(as), op.Add(uniq(as), step.read, op.Const(uniq(as), int64(1))), tf.Float)
	b1p := op.Pow(uniq(as), b.f32(o.Beta1), t)
	b2p := op.Pow(uniq(as), b.f32(o.Beta2), t)
	backboneLR := lr
	if sc := b.spec.BackboneLRScale; sc != 0 && sc != 1 {
		backboneLR = op.Mul(uniq(as), lr, b.f32(sc))
	}
	var updates []*tf.Operation
	for i, v := range trainable {
		lr := lr
		if v.backbone {
			lr = backboneLR
		}
		shape, err := constShape(v)
		if err != nil {
			return nil, err
		}
		m := b.newVar(v.name+"/adam_m", tf.Float, shape, b.fill(shape, 0), false, false)
		vv := b.newVar(v.name+"/adam_v", tf.Float, shape, b.fill(shape, 0), false, false)
		us := as
		if wd := b.spec.WeightDecay; wd > 0 && strings.HasSuffix(v.name, "/kernel") {
			// Decoupled decay w -= lr·λ·w, before Adam's update. It waits
			// for the variable's gradient, which needs the forward pass's
			// read of w, so the forward pass sees the undecayed weights.
			ds := as.WithControlDependencies(grads[i].Op)
			w := op.ReadVariableOp(uniq(ds), v.handle, tf.Float)
			decay := op.AssignSubVariableOp(uniq(ds), v.handle, op.Mul(uniq(ds), w, op.Mul(uniq(ds), lr, b.f32(wd))))
			us = as.WithControlDependencies(decay)
		}
		updates = append(updates, op.ResourceApplyAdam(uniq(us), v.handle, m.handle, vv.handle, b1p, b2p, lr,
			b.f32(o.Beta1), b.f32(o.Beta2), b.f32(o.Epsilon), grads[i]))
	}
	return updates, nil
}

// addEMA declares an average and a backup slot per trainable variable,
// returns updates extended by the averaging (run after Adam's update of the
// step) and sets the swap ops on g.
func (b *builder) addEMA(g *netGraph, as *op.Scope, step *variable, trainable []*variable, updates []*tf.Operation) ([]*tf.Operation, error) {
	es := as.SubScope("ema").WithControlDependencies(updates...)
	// d' = min(d, (1+step)/(10+step)): early steps average over few weights.
	t := op.Cast(uniq(es), step.read, tf.Float)
	d := op.Minimum(uniq(es), b.f32(b.spec.EMADecay), op.Div(uniq(es), op.Add(uniq(es), t, b.f32(1)), op.Add(uniq(es), t, b.f32(10))))
	var emaOps, backup, swapIn, restore []*tf.Operation
	for _, v := range trainable {
		shape, err := constShape(v)
		if err != nil {
			return nil, err
		}
		// The average starts at the same initial value: initOp runs the
		// initialiser once for both assigns.
		avg := b.newVar(v.name+"/ema", tf.Float, shape, v.init, false, false)
		bk := b.newVar(v.name+"/ema_backup", tf.Float, shape, v.init, false, false)
		w := op.ReadVariableOp(uniq(es), v.handle, tf.Float)
		a := op.ReadVariableOp(uniq(es), avg.handle, tf.Float)
		nv := op.Add(uniq(es), op.Mul(uniq(es), a, d), op.Mul(uniq(es), w, op.Sub(uniq(es), b.f32(1), d)))
		emaOps = append(emaOps, op.AssignVariableOp(uniq(es), avg.handle, nv))
		ss := b.s.SubScope("ema_swap")
		backup = append(backup, op.AssignVariableOp(uniq(ss), bk.handle, op.ReadVariableOp(uniq(ss), v.handle, tf.Float)))
		swapIn = append(swapIn, op.AssignVariableOp(uniq(ss), v.handle, op.ReadVariableOp(uniq(ss), avg.handle, tf.Float)))
		restore = append(restore, op.AssignVariableOp(uniq(ss), v.handle, op.ReadVariableOp(uniq(ss), bk.handle, tf.Float)))
	}
	ss := b.s.SubScope("ema_swap")
	g.emaBackup = op.NoOp(ss.SubScope("backup").WithControlDependencies(backup...))
	g.emaSwapIn = op.NoOp(ss.SubScope("swap_in").WithControlDependencies(swapIn...))
	g.emaRestore = op.NoOp(ss.SubScope("restore").WithControlDependencies(restore...))
	return append(updates, emaOps...), nil
}

// smoothLabels mixes the targets with the uniform one (Keras'
// label_smoothing): y·(1-ε) + ε/G for softmax_ce, y·(1-ε) + ε/2 for
// sigmoid_bce. ε = 0 returns y.
func smoothLabels(s *op.Scope, y tf.Output, kind string, eps float64) tf.Output {
	if eps == 0 {
		return y
	}
	s = s.SubScope("smooth")
	add := op.Const(uniq(s), float32(eps/2))
	if kind != "sigmoid_bce" {
		g := op.Cast(uniq(s), op.Slice(uniq(s), op.Shape(uniq(s), y), op.Const(uniq(s), []int32{1}), op.Const(uniq(s), []int32{1})), tf.Float)
		add = op.Div(uniq(s), op.Const(uniq(s), float32(eps)), op.Reshape(uniq(s), g, op.Const(uniq(s), []int32{})))
	}
	return op.Add(uniq(s), op.Mul(uniq(s), y, op.Const(uniq(s), float32(1-eps))), add)
}

// initOp assigns every variable its initial value.
func (b *builder) initOp() *tf.Operation {
	is := b.s.SubScope("init")
	var inits []*tf.Operation
	for _, v := range b.vars {
		inits = append(inits, op.AssignVariableOp(uniq(is), v.handle, v.init))
	}
	return op.NoOp(is.WithControlDependencies(inits...))
}

// addCheckpoints adds the prefix feed and the save/restore ops: every
// variable (training only, for resume) and the model's alone (model/).
func (b *builder) addCheckpoints(g *netGraph) {
	root := b.s
	g.prefix = op.Placeholder(root.SubScope("ckpt_prefix"), tf.String, op.PlaceholderShape(tf.ScalarShape()))
	var model []*variable
	for _, v := range b.vars {
		if v.model {
			model = append(model, v)
		}
	}
	if b.spec.Training {
		g.saveAll, g.restoreAll = saveRestore(root.SubScope("ckpt_all"), g.prefix, b.vars)
	}
	g.saveModel, g.restoreModel = saveRestore(root.SubScope("ckpt_model"), g.prefix, model)
	g.vars = b.vars
}

// constShape recovers a variable's static shape from its read op.
func constShape(v *variable) ([]int64, error) {
	s, err := v.read.Shape().ToSlice()
	if err != nil {
		return nil, fmt.Errorf("variable %s: %w", v.name, err)
	}
	return s, nil
}

// dropout zeroes units with probability rate and rescales the rest. The mask
// comes from a stateless generator seeded by (seed, layer, step), so a run
// resumed from a checkpoint draws the same masks as an uninterrupted one.
func dropout(s *op.Scope, h tf.Output, rate float64, seed, layer int64, step tf.Output) tf.Output {
	s = s.SubScope("dropout")
	sd := op.Add(uniq(s), op.Const(uniq(s), []int64{seed, layer << 40}), op.Pack(uniq(s), []tf.Output{op.Const(uniq(s), int64(0)), step}))
	u := op.StatelessRandomUniform(uniq(s), op.Shape(uniq(s), h), sd, op.StatelessRandomUniformDtype(tf.Float))
	keep := op.Cast(uniq(s), op.GreaterEqual(uniq(s), u, op.Const(uniq(s), float32(rate))), tf.Float)
	return op.Mul(uniq(s), h, op.Mul(uniq(s), keep, op.Const(uniq(s), float32(1/(1-rate)))))
}

// probabilities turns logits into Predict's output.
func probabilities(s *op.Scope, logits tf.Output, loss string) tf.Output {
	if loss == "sigmoid_bce" {
		return op.Sigmoid(uniq(s), logits)
	}
	return op.Softmax(uniq(s), logits)
}

// lossFn is the mean weighted loss of a batch, in the dtype of logits.
//
// softmax_ce: -Σ y·log softmax(x) per example (the multi-hot label as is, as
// Keras' categorical cross-entropy, gradient included), weighted by the mean class weight of the
// example's true genres. sigmoid_bce: softplus(x) - x·z per element, positives
// weighted by their class weight, mean over examples and genres.
func lossFn(s *op.Scope, logits, labels, classWeights tf.Output, kind string) tf.Output {
	s = s.SubScope("loss")
	dt := logits.DataType()
	cw := classWeights
	if cw.DataType() != dt {
		cw = op.Cast(uniq(s), cw, dt)
	}
	one := op.Cast(uniq(s), op.Const(uniq(s), float32(1)), dt)
	axes0 := op.Const(uniq(s), []int32{0})
	switch kind {
	case "sigmoid_bce":
		el := op.Sub(uniq(s), softplus(s, logits), op.Mul(uniq(s), logits, labels))
		w := op.Add(uniq(s), one, op.Mul(uniq(s), labels, op.Sub(uniq(s), cw, one)))
		return op.Mean(uniq(s), op.Mul(uniq(s), el, w), op.Const(uniq(s), []int32{0, 1}))
	default:
		// Not SoftmaxCrossEntropyWithLogits: its gradient is softmax-labels,
		// right only for labels summing to 1. For a multi-hot label the
		// gradient of -Σ y·log softmax(x) is Σy·softmax - y (as Keras).
		per := op.Neg(uniq(s), op.Sum(uniq(s), op.Mul(uniq(s), labels, op.LogSoftmax(uniq(s), logits)), op.Const(uniq(s), []int32{1})))
		tiny := op.Cast(uniq(s), op.Const(uniq(s), float32(1e-12)), dt)
		axis1 := op.Const(uniq(s), []int32{1})
		w := op.Div(uniq(s), op.Sum(uniq(s), op.Mul(uniq(s), labels, cw), axis1), op.Maximum(uniq(s), op.Sum(uniq(s), labels, axis1), tiny))
		return op.Mean(uniq(s), op.Mul(uniq(s), per, w), axes0)
	}
}

// saveRestore builds SaveV2/RestoreV2 over vars under the given prefix feed.
func saveRestore(s *op.Scope, prefix tf.Output, vars []*variable) (save, restore *tf.Operation) {
	names := make([]string, len(vars))
	slices := make([]string, len(vars))
	dtypes := make([]tf.DataType, len(vars))
	reads := make([]tf.Output, len(vars))
	for i, v := range vars {
		names[i] = v.name
		dtypes[i] = v.dtype
		reads[i] = op.ReadVariableOp(uniq(s), v.handle, v.dtype)
	}
	nameT := op.Const(uniq(s), names)
	sliceT := op.Const(uniq(s), slices)
	save = op.SaveV2(uniq(s), prefix, nameT, sliceT, reads)
	vals := op.RestoreV2(uniq(s), prefix, nameT, sliceT, dtypes)
	assigns := make([]*tf.Operation, len(vars))
	for i, v := range vars {
		assigns[i] = op.AssignVariableOp(uniq(s), v.handle, vals[i])
	}
	restore = op.NoOp(s.WithControlDependencies(assigns...))
	return save, restore
}

// softplus is log(1+exp(x)); graft's op package has no wrapper for it but
// the op and its gradient are registered.
func softplus(s *op.Scope, x tf.Output) tf.Output {
	return s.AddOperation(tf.OpSpec{Type: "Softplus", Input: []tf.Input{x}}).Output(0)
}

// uniq gives each op its own name scope: graft's op wrappers name an op
// after its type, so two ops of one type in one scope would collide.
func uniq(s *op.Scope) *op.Scope { return s.SubScope("op") }
