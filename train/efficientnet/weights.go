package efficientnet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/postergenre/postergenre/internal/regular"
)

// Tensor is one weight in TensorFlow's layout, row-major.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// Weights is the converted state dict of one EfficientNet-Lite variant:
// every tensor in TensorFlow's layout, keyed by its PyTorch name (see
// expectedShapes).
type Weights struct {
	// Variant is the architecture the file was read as (and Build builds).
	Variant Variant
	// SHA256 of the .pth file, to record beside a trained model.
	SHA256 string
	// Values counts the float32 values: 4,694,024 in Lite0's 247 float tensors
	// (the file's 296 less 49 batch-norm num_batches_tracked counters).
	Values int

	tensors map[string]Tensor
}

// Tensor returns the weight with the given PyTorch name.
func (w *Weights) Tensor(name string) (Tensor, bool) {
	t, ok := w.tensors[name]
	return t, ok
}

// Load reads the state dict of variant v saved by torch.save (legacy or
// zip format) and converts every tensor to TensorFlow's layout:
//
//	convolution   OIHW [out,in,h,w]  → HWIO [h,w,in,out]
//	depthwise     [c,1,h,w]          → [h,w,c,1]
//	linear        [out,in]           → [in,out]
//	batch norm    [c]                  unchanged
//
// Storage strides are honoured (this file's tensors are permuted views of
// storages kept in TensorFlow's order, as converted from the original
// checkpoint). Every tensor v expects must be present with its shape, and no
// other float tensor may be: a different architecture (another variant's
// file) fails here, not in the graph. The num_batches_tracked counters are
// ignored.
func Load(path string, v Variant) (w *Weights, err error) {
	sum, head, err := fileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("efficientnet: %w", err)
	}
	// gopickle loops forever on an empty file and panics on a tar or on
	// storage views: only hand it the two formats it reads, and recover.
	if !bytes.HasPrefix(head, legacyMagic) && !bytes.HasPrefix(head, zipMagic) {
		return nil, fmt.Errorf("efficientnet: %s: not a PyTorch state dict (neither the legacy pickle format nor zip)", path)
	}
	defer func() {
		if r := recover(); r != nil {
			w, err = nil, fmt.Errorf("efficientnet: %s: unreadable: %v", path, r)
		}
	}()
	obj, err := pytorch.Load(path)
	if err != nil {
		return nil, fmt.Errorf("efficientnet: %s: %w", path, err)
	}
	dict, ok := obj.(*types.OrderedDict)
	if !ok {
		return nil, fmt.Errorf("efficientnet: %s: top-level object is %T, want a state dict (OrderedDict)", path, obj)
	}
	want := v.expectedShapes()
	w = &Weights{Variant: v, SHA256: sum, tensors: make(map[string]Tensor, len(want))}
	for e := dict.List.Front(); e != nil; e = e.Next() {
		entry := e.Value.(*types.OrderedDictEntry)
		name, ok := entry.Key.(string)
		if !ok {
			return nil, fmt.Errorf("efficientnet: %s: key %v is %T, want a string", path, entry.Key, entry.Key)
		}
		if strings.HasSuffix(name, ".num_batches_tracked") {
			continue
		}
		shape, ok := want[name]
		if !ok {
			return nil, fmt.Errorf("efficientnet: %s: unexpected tensor %q (not %s)", path, name, v.Title)
		}
		t, ok := entry.Value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("efficientnet: %s: %s is %T, want a tensor", path, name, entry.Value)
		}
		conv, err := convert(t, shape)
		if err != nil {
			return nil, fmt.Errorf("efficientnet: %s: %s: %w", path, name, err)
		}
		w.tensors[name] = conv
		w.Values += len(conv.Data)
	}
	for name := range want {
		if _, ok := w.tensors[name]; !ok {
			return nil, fmt.Errorf("efficientnet: %s: missing tensor %q", path, name)
		}
	}
	return w, nil
}

// The legacy format starts with pickle protocol 2 and the LONG1 magic
// number 0x1950a86a20f9469cfc6c (little-endian); the zip format is a zip.
var (
	legacyMagic = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")
	zipMagic    = []byte("PK\x03\x04")
)

// fileSHA256 returns the file's sha256 and its first bytes.
func fileSHA256(path string) (sum string, head []byte, err error) {
	b, err := regular.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), b[:min(len(b), len(legacyMagic))], nil
}

// convert checks t's PyTorch shape and gathers it into TensorFlow's layout.
func convert(t *pytorch.Tensor, want []int) (Tensor, error) {
	st, ok := t.Source.(*pytorch.FloatStorage)
	if !ok {
		return Tensor{}, fmt.Errorf("storage %T, want float32", t.Source)
	}
	if !slices.Equal(t.Size, want) {
		return Tensor{}, fmt.Errorf("shape %v, want %v", t.Size, want)
	}
	if len(t.Stride) != len(t.Size) {
		return Tensor{}, fmt.Errorf("%d strides for %d dimensions", len(t.Stride), len(t.Size))
	}
	var perm []int
	switch len(want) {
	case 1:
		perm = []int{0}
	case 2: // linear [out,in] → [in,out]
		perm = []int{1, 0}
	case 4:
		if want[1] == 1 && want[0] != 1 { // depthwise [c,1,h,w] → [h,w,c,1]
			perm = []int{2, 3, 0, 1}
		} else { // OIHW → HWIO
			perm = []int{2, 3, 1, 0}
		}
	default:
		return Tensor{}, fmt.Errorf("%d dimensions", len(want))
	}
	return gather(st.Data, t.StorageOffset, t.Size, t.Stride, perm)
}

// gather copies the strided view (offset, size, stride) of src into a dense
// row-major tensor whose dimension i is the view's dimension perm[i].
func gather(src []float32, offset int, size, stride, perm []int) (Tensor, error) {
	n := len(size)
	shape := make([]int64, n)
	total := 1
	for i, p := range perm {
		shape[i] = int64(size[p])
		total *= size[p]
	}
	// The last element read must lie inside the storage.
	last := offset
	for i := range size {
		if size[i] > 0 {
			last += (size[i] - 1) * stride[i]
		}
	}
	if offset < 0 || (total > 0 && last >= len(src)) {
		return Tensor{}, fmt.Errorf("view (offset %d, size %v, stride %v) outside a storage of %d values", offset, size, stride, len(src))
	}
	data := make([]float32, total)
	idx := make([]int, n) // index in the output's dimensions
	for k := range data {
		off := offset
		for i, p := range perm {
			off += idx[i] * stride[p]
		}
		data[k] = src[off]
		for i := n - 1; i >= 0; i-- { // odometer increment
			idx[i]++
			if idx[i] < int(shape[i]) {
				break
			}
			idx[i] = 0
		}
	}
	return Tensor{Shape: shape, Data: data}, nil
}
