"""Independent NumPy EfficientNet-Lite0/1/2, the cross-check of the Go graph.

    python reference.py VARIANT WEIGHTS.pth IMAGES.f32 N H W OUT_PREFIX

VARIANT is efficientnet_lite0, efficientnet_lite1 or efficientnet_lite2.
IMAGES.f32 holds N×H×W×3 little-endian float32 RGB values in 0..255. Writes
OUT_PREFIX.features.f32 (N×1280) and OUT_PREFIX.logits.f32 (N×1000), computed
in float64 and stored as float32.

Nothing here is shared with the Go side: the .pth is read with this file's
own unpickler (no torch), the weights are used in PyTorch's logical layouts
(OIHW, [out,in]) with strides honoured, batch norm is applied unfolded, and
the block table and its scaling are written out again below from the
TensorFlow reference (efficientnet/lite/efficientnet_lite_builder.py,
efficientnet_model.py's round_filters and round_repeats).
"""
import collections
import math
import pickle
import struct
import sys

import numpy as np

# --- the legacy PyTorch format: magic, protocol, sys info, the state dict
# (tensors refer to storages by key), the storage keys, then each storage as
# an int64 element count followed by its raw little-endian data.

DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64}


class _Storage:
    def __init__(self, kind, key, n):
        self.kind, self.key, self.n, self.data = kind, key, n, None


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self):
        a = self.storage.data
        item = a.itemsize
        return np.lib.stride_tricks.as_strided(
            a[self.offset:], shape=self.size, strides=[s * item for s in self.stride]).copy()


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda st, off, size, stride, *rest: _Tensor(st, off, size, stride)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        kind, dtype, key, _location, n, view = pid
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(dtype, key, n)
        return self.storages[key]


def load_state_dict(path):
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != 0x1950A86A20F9469CFC6C:
            raise ValueError(f"{path}: not a legacy PyTorch file")
        pickle.load(f)  # protocol version
        pickle.load(f)  # sys info
        storages = {}
        sd = _Unpickler(f, storages).load()
        for key in pickle.load(f):
            st = storages[key]
            (n,) = struct.unpack("<q", f.read(8))
            dt = np.dtype(DTYPES[st.kind]).newbyteorder("<")
            st.data = np.frombuffer(f.read(n * dt.itemsize), dtype=dt)
    return {k: v.array() for k, v in sd.items()}


# --- the network (TensorFlow's EfficientNet-Lite).

EPS = 1e-3  # batch_norm_epsilon of the TensorFlow builder
# (kernel, stride, expand ratio, output channels, repeats) per stage: the
# B0 table, which the Lite variants scale.
STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]
# (width_coefficient, depth_coefficient) of efficientnet_lite_builder.py.
PARAMS = {"efficientnet_lite0": (1.0, 1.0), "efficientnet_lite1": (1.0, 1.1),
          "efficientnet_lite2": (1.1, 1.2)}


def round_filters(filters, width, divisor=8):
    """efficientnet_model.round_filters with depth_divisor 8, min_depth None."""
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new < 0.9 * filters:
        new += divisor
    return int(new)


def stages(variant):
    """The variant's stage table. fix_head_stem (Lite): the stem (32) and
    head (1280) are not scaled, nor are the first and last stages' repeats."""
    width, depth = PARAMS[variant]
    out = []
    for i, (k, s, e, c, r) in enumerate(STAGES):
        if 0 < i < len(STAGES) - 1:
            r = int(math.ceil(depth * r))
        out.append((k, s, e, round_filters(c, width), r))
    return out


def same_pad(x, k, s):
    """TensorFlow 'SAME': output ceil(in/s), the odd pixel of padding after."""
    pads = [(0, 0)]
    for n in x.shape[1:3]:
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads + [(0, 0)])


def conv(x, w, s):
    """x NHWC, w OIHW (PyTorch layout)."""
    o, i, k, _ = w.shape
    xp = same_pad(x, k, s)
    n, hp, wp, _ = xp.shape
    oh, ow = -(-x.shape[1] // s), -(-x.shape[2] // s)
    out = np.zeros((n, oh, ow, o))
    for dh in range(k):
        for dw in range(k):
            patch = xp[:, dh:dh + s * (oh - 1) + 1:s, dw:dw + s * (ow - 1) + 1:s, :]
            out += patch @ w[:, :, dh, dw].T
    return out


def depthwise(x, w, s):
    """x NHWC, w [C,1,k,k] (PyTorch grouped-conv layout)."""
    k = w.shape[2]
    xp = same_pad(x, k, s)
    oh, ow = -(-x.shape[1] // s), -(-x.shape[2] // s)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for dh in range(k):
        for dw in range(k):
            out += xp[:, dh:dh + s * (oh - 1) + 1:s, dw:dw + s * (ow - 1) + 1:s, :] * w[:, 0, dh, dw]
    return out


def bn(x, sd, name):
    g, b = sd[name + ".weight"], sd[name + ".bias"]
    m, v = sd[name + ".running_mean"], sd[name + ".running_var"]
    return (x - m) / np.sqrt(v + EPS) * g + b


def relu6(x):
    return np.clip(x, 0, 6)


def forward(variant, sd, images):
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    x = (images.astype(np.float64) - 127.0) / 128.0
    x = relu6(bn(conv(x, sd["_conv_stem.weight"], 2), sd, "_bn0"))
    b, cin = 0, 32
    for k, s, e, cout, r in stages(variant):
        for j in range(r):
            stride = s if j == 0 else 1
            p = f"_blocks.{b}."
            h = x
            if e != 1:
                h = relu6(bn(conv(h, sd[p + "_expand_conv.weight"], 1), sd, p + "_bn0"))
            h = relu6(bn(depthwise(h, sd[p + "_depthwise_conv.weight"], stride), sd, p + "_bn1"))
            h = bn(conv(h, sd[p + "_project_conv.weight"], 1), sd, p + "_bn2")
            if stride == 1 and cin == cout:
                h = h + x
            x, cin, b = h, cout, b + 1
    if f"_blocks.{b}._project_conv.weight" in sd:
        raise ValueError(f"{variant}: the file has more than {b} blocks")
    x = relu6(bn(conv(x, sd["_conv_head.weight"], 1), sd, "_bn1"))
    features = x.mean(axis=(1, 2))
    logits = features @ sd["_fc.weight"].T + sd["_fc.bias"]
    return features, logits


def main():
    variant, path, images, n, h, w, out = sys.argv[1:8]
    n, h, w = int(n), int(h), int(w)
    sd = load_state_dict(path)
    x = np.fromfile(images, dtype="<f4").reshape(n, h, w, 3)
    features, logits = forward(variant, sd, x)
    features.astype("<f4").tofile(out + ".features.f32")
    logits.astype("<f4").tofile(out + ".logits.f32")
    print(f"{len(sd)} tensors, {sum(v.size for v in sd.values())} values")


if __name__ == "__main__":
    main()
