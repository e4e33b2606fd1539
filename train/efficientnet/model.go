package efficientnet

import (
	"fmt"
	"math"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Options says how Build adds the network.
type Options struct {
	// FineTune is how many layers, counted from the top (the head
	// convolution, then the last block, the one before, … down to the stem;
	// Variant.Layers in all),
	// become resource variables to train: convolution kernels and batch-norm
	// γ/β. Batch norm stays in inference mode (the pretrained moving
	// statistics, constants) either way. 0 freezes everything: all weights
	// are constants, batch norm folded into the convolutions.
	FineTune int
	// Prefix starts every variable's name (default "efficientnet"); names
	// look like "efficientnet/blocks_15/expand_conv/kernel".
	Prefix string
	// Logits adds the 1000-way ImageNet classifier (constants).
	Logits bool
	// Reuse holds variables of an earlier Build in the same graph (a
	// second pass on other inputs, e.g. mirrored images): a trainable
	// layer whose variable is there reads it instead of creating its own,
	// and the Model lists only the variables it created.
	Reuse []Variable
}

// Variable is a trainable weight created by Build. The caller initialises it
// (AssignVariableOp(Handle, Init)), saves it and trains it; gradients are
// taken with respect to Read.
type Variable struct {
	Name   string
	Shape  []int64
	Handle tf.Output
	Read   tf.Output
	Init   tf.Output // the pretrained value, a constant
}

// Model is what Build adds to the graph.
type Model struct {
	// Features is [B,1280]: the global average of the head's activations.
	Features tf.Output
	// FeatureMap is the head's activations [B,h,w,1280] (h, w = the input's
	// size / 32, rounded up): the last convolutional feature map, which
	// Grad-CAM weighs.
	FeatureMap tf.Output
	// StageMaps are the outputs of the seven block stages, bottom to top
	// (Lite0: 16, 24, 40, 80, 112, 192 and 320 channels).
	StageMaps []tf.Output
	// Logits is [B,1000] (ImageNet-1k, standard class order) when
	// Options.Logits is set.
	Logits tf.Output
	// Variables are the fine-tuned weights, bottom to top (none when
	// FineTune is 0).
	Variables []Variable
}

// Build adds the weights' variant to s. images is [B,H,W,3] float32, RGB in
// 0..255 (not normalised: Build applies the (x−127)/128 the network was
// trained with). Any H and W work; Variant.ImageSize is the training
// resolution.
func (w *Weights) Build(s *op.Scope, images tf.Output, o Options) (*Model, error) {
	return w.BuildFrom(s, images, 0, o)
}

// BuildPrefix adds the layers below cut, frozen (constants, batch norm
// folded), and returns the activation entering layer cut: [B,h,w,c] as
// Variant.LayerInput gives it. Layers count as in Options.FineTune: 0 the
// stem, 1..n the blocks, n+1 the head convolution; cut is in 1..n+1.
// BuildFrom on its output with the same cut completes the network:
// Build(x) = BuildFrom(BuildPrefix(x, cut), cut), to the float.
func (w *Weights) BuildPrefix(s *op.Scope, images tf.Output, cut int) (tf.Output, error) {
	if w == nil || w.tensors == nil {
		return images, fmt.Errorf("efficientnet: no weights (use Load)")
	}
	if layers := w.Variant.Layers(); cut < 1 || cut >= layers {
		return images, fmt.Errorf("efficientnet: cut %d of %s: must be in 1..%d", cut, w.Variant.Title, layers-1)
	}
	b := &builder{w: w, prefix: "efficientnet"}
	s = s.SubScope("efficientnet")
	x := images
	for l := range cut {
		x = b.layer(s, x, l, false, nil)
	}
	if err := s.Err(); err != nil {
		return images, fmt.Errorf("efficientnet: building the graph: %w", err)
	}
	return x, nil
}

// BuildFrom adds the layers from cut up to the head and the pooling (and
// the classifier with o.Logits) to x, the activation entering layer cut
// (cut 0: the images, as Build). Its trainable layers (o.FineTune from the
// top) must all lie at or above the cut. StageMaps holds the stages that
// end at or above the cut.
func (w *Weights) BuildFrom(s *op.Scope, x tf.Output, cut int, o Options) (*Model, error) {
	if w == nil || w.tensors == nil {
		return nil, fmt.Errorf("efficientnet: no weights (use Load)")
	}
	layers := w.Variant.Layers()
	if o.FineTune < 0 || o.FineTune > layers {
		return nil, fmt.Errorf("efficientnet: fine-tune %d layers of %s: must be 0..%d", o.FineTune, w.Variant.Title, layers)
	}
	if cut < 0 || cut >= layers {
		return nil, fmt.Errorf("efficientnet: cut %d of %s: must be in 0..%d", cut, w.Variant.Title, layers-1)
	}
	if cut > layers-o.FineTune {
		return nil, fmt.Errorf("efficientnet: fine-tune %d layers of %s from cut %d: the layers below the cut are frozen constants (cut at most %d)",
			o.FineTune, w.Variant.Title, cut, layers-o.FineTune)
	}
	if o.Prefix == "" {
		o.Prefix = "efficientnet"
	}
	b := &builder{w: w, prefix: o.Prefix, reuse: map[string]Variable{}}
	for _, v := range o.Reuse {
		b.reuse[v.Name] = v
	}
	s = s.SubScope("efficientnet")
	var stageMaps []tf.Output
	for l := cut; l < layers; l++ {
		x = b.layer(s, x, l, l >= layers-o.FineTune, &stageMaps)
	}
	m := &Model{Variables: b.vars, FeatureMap: x, StageMaps: stageMaps}
	m.Features = op.Mean(s.SubScope("pool"), x, op.Const(s.SubScope("pool"), []int32{1, 2}))
	if o.Logits {
		fs := s.SubScope("classifier")
		m.Logits = op.BiasAdd(fs, op.MatMul(fs, m.Features, b.constant(fs, "_fc.weight")), b.constant(fs, "_fc.bias"))
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("efficientnet: building the graph: %w", err)
	}
	return m, nil
}

// layer adds layer l (0 the stem with the input's normalisation, 1..n the
// blocks, n+1 the head convolution) to x; train makes its weights
// variables. A block that ends a stage appends its output to stageMaps
// (when not nil).
func (b *builder) layer(s *op.Scope, x tf.Output, l int, train bool, stageMaps *[]tf.Output) tf.Output {
	bs := b.w.Variant.blocks()
	switch {
	case l == 0:
		x = op.Div(s.SubScope("normalise"),
			op.Sub(s.SubScope("normalise"), x, b.scalar(s, inputMean)), b.scalar(s, inputStd))
		return b.convBN(s.SubScope("stem"), x, "_conv_stem.weight", "_bn0", 2, true, train, "stem")
	case l <= len(bs):
		i := l - 1
		blk := bs[i]
		x = b.mbconv(s.SubScope(fmt.Sprintf("blocks_%d", blk.index)), x, blk, train)
		if stageMaps != nil && (i == len(bs)-1 || bs[i+1].out != blk.out) {
			*stageMaps = append(*stageMaps, x)
		}
		return x
	default:
		return b.convBN(s.SubScope("head"), x, "_conv_head.weight", "_bn1", 1, true, train, "head")
	}
}

type builder struct {
	w      *Weights
	prefix string
	vars   []Variable
	reuse  map[string]Variable // Options.Reuse by name
}

// mbconv is one inverted-residual block: expand, depthwise, project,
// shortcut.
func (b *builder) mbconv(s *op.Scope, x tf.Output, blk block, train bool) tf.Output {
	in := x
	name := fmt.Sprintf("blocks_%d", blk.index)
	if blk.expand != 1 {
		x = b.convBN(s.SubScope("expand"), x, blk.key("_expand_conv.weight"), blk.key("_bn0"), 1, true, train, name+"/expand_conv")
	}
	x = b.depthwiseBN(s.SubScope("depthwise"), x, blk, train, name+"/depthwise_conv")
	x = b.convBN(s.SubScope("project"), x, blk.key("_project_conv.weight"), blk.key("_bn2"), 1, false, train, name+"/project_conv")
	if blk.residual() {
		x = op.AddV2(s.SubScope("shortcut"), x, in)
	}
	return x
}

// convBN is Conv2D, batch norm, and ReLU6 when relu6.
func (b *builder) convBN(s *op.Scope, x tf.Output, kernel, bn string, stride int64, relu6 bool, train bool, name string) tf.Output {
	strides := []int64{1, stride, stride, 1}
	if train {
		k := b.variable(s, name+"/kernel", kernel)
		x = op.Conv2D(s.SubScope("conv"), x, k, strides, "SAME")
		x = b.batchNorm(s, x, bn, name)
	} else {
		k, bias := b.folded(kernel, bn, 3)
		x = op.Conv2D(s.SubScope("conv"), x, op.Const(s.SubScope("kernel"), k), strides, "SAME")
		x = op.BiasAdd(s.SubScope("bn"), x, op.Const(s.SubScope("shift"), bias))
	}
	if relu6 {
		x = op.Relu6(s.SubScope("relu6"), x)
	}
	return x
}

// depthwiseBN is DepthwiseConv2dNative, batch norm and ReLU6.
func (b *builder) depthwiseBN(s *op.Scope, x tf.Output, blk block, train bool, name string) tf.Output {
	kernel, bn := blk.key("_depthwise_conv.weight"), blk.key("_bn1")
	strides := []int64{1, int64(blk.stride), int64(blk.stride), 1}
	if train {
		k := b.variable(s, name+"/kernel", kernel)
		x = op.DepthwiseConv2dNative(s.SubScope("conv"), x, k, strides, "SAME")
		x = b.batchNorm(s, x, bn, name)
	} else {
		// [h,w,c,1]: the output channel is dimension 2.
		k, bias := b.folded(kernel, bn, 2)
		x = op.DepthwiseConv2dNative(s.SubScope("conv"), x, op.Const(s.SubScope("kernel"), k), strides, "SAME")
		x = op.BiasAdd(s.SubScope("bn"), x, op.Const(s.SubScope("shift"), bias))
	}
	return op.Relu6(s.SubScope("relu6"), x)
}

// batchNorm in inference mode with trainable γ, β and constant moving
// statistics: x·γ/√(var+ε) + (β − mean·γ/√(var+ε)). Mul, Sub and AddV2 all
// have registered gradients.
func (b *builder) batchNorm(s *op.Scope, x tf.Output, bn, name string) tf.Output {
	s = s.SubScope("bn")
	gamma := b.variable(s, name+"/bn/gamma", bn+".weight")
	beta := b.variable(s, name+"/bn/beta", bn+".bias")
	mean, vr := b.t(bn+".running_mean"), b.t(bn+".running_var")
	inv := make([]float32, len(vr.Data))
	for i, v := range vr.Data {
		inv[i] = float32(1 / math.Sqrt(float64(v)+bnEpsilon))
	}
	scale := op.Mul(s.SubScope("scale"), gamma, op.Const(s.SubScope("inv_std"), inv))
	shift := op.Sub(s.SubScope("shift"), beta, op.Mul(s.SubScope("shift"), scale, op.Const(s.SubScope("mean"), mean.Data)))
	return op.AddV2(s.SubScope("add"), op.Mul(s.SubScope("mul"), x, scale), shift)
}

// folded returns the kernel with batch norm's scale folded into its output
// channels (dimension outDim, which is the fastest-varying one after it is
// reshaped as [..., c, m]) and the shift as a bias, computed in float64.
func (b *builder) folded(kernel, bn string, outDim int) (*tf.Tensor, []float32) {
	k := b.t(kernel)
	g, beta := b.t(bn+".weight"), b.t(bn+".bias")
	mean, vr := b.t(bn+".running_mean"), b.t(bn+".running_var")
	c := len(g.Data)
	scale := make([]float64, c)
	bias := make([]float32, c)
	for i := range c {
		scale[i] = float64(g.Data[i]) / math.Sqrt(float64(vr.Data[i])+bnEpsilon)
		bias[i] = float32(float64(beta.Data[i]) - float64(mean.Data[i])*scale[i])
	}
	// Elements of dimension outDim repeat every `inner` values.
	inner := 1
	for _, d := range k.Shape[outDim+1:] {
		inner *= int(d)
	}
	data := make([]float32, len(k.Data))
	for i, v := range k.Data {
		data[i] = float32(float64(v) * scale[(i/inner)%c])
	}
	return tensor(k.Shape, data), bias
}

// variable creates a resource variable initialised with the pretrained
// tensor key, and returns its read.
func (b *builder) variable(s *op.Scope, name, key string) tf.Output {
	t := b.t(key)
	full := b.prefix + "/" + name
	if v, ok := b.reuse[full]; ok {
		return v.Read
	}
	vs := s.SubScope(strings.ReplaceAll(name[strings.LastIndex(name, "/")+1:], ".", "_"))
	h := op.VarHandleOp(vs, tf.Float, tf.MakeShape(t.Shape...), op.VarHandleOpSharedName(full))
	read := op.ReadVariableOp(vs.SubScope("read"), h, tf.Float)
	init := op.Const(vs.SubScope("init"), tensor(t.Shape, t.Data))
	b.vars = append(b.vars, Variable{Name: full, Shape: t.Shape, Handle: h, Read: read, Init: init})
	return read
}

func (b *builder) constant(s *op.Scope, key string) tf.Output {
	t := b.t(key)
	return op.Const(s.SubScope("const"), tensor(t.Shape, t.Data))
}

func (b *builder) scalar(s *op.Scope, v float32) tf.Output {
	return op.Const(s.SubScope("const"), v)
}

// t returns a tensor Load has checked to exist.
func (b *builder) t(key string) Tensor {
	t, ok := b.w.tensors[key]
	if !ok {
		panic("efficientnet: no tensor " + key) // Load guarantees every key of expectedShapes
	}
	return t
}

// tensor makes a TF tensor from a flat slice with one copy (see
// shared/notes: a nested slice costs a reflective copy per row).
func tensor(shape []int64, data []float32) *tf.Tensor {
	t, err := tf.NewTensor(data)
	if err != nil {
		panic(err) // a []float32 always converts
	}
	if err := t.Reshape(shape); err != nil {
		panic(fmt.Sprintf("efficientnet: reshape %d values to %v: %v", len(data), shape, err))
	}
	return t
}
