"""Grad-CAM reference for TestGradCAMMatchesReference: the paper network's
forward pass in float64 NumPy from the weights the test read out of
TensorFlow, and the gradient of each genre's logit with respect to the
feature map Grad-CAM weighs (conv layer "cam_layer"'s ReLU before its
pooling; the last one when absent), independent of TensorFlow's gradient
registry: by central finite differences with respect to the pooled map
(through the layers above it: convolutions, pools, the dense layers), then
routed through the 2x2 max-pool to the first maximum of each window in
row-major order. Finite differences straight on the map would
split a gradient between tied maxima, and ReLU makes ties of zeros common;
TensorFlow's MaxPoolGrad gives it to the first one.

usage: gradcam_reference.py IN.json OUT.json
"""
import json
import sys

import numpy as np


def conv_valid(x, k, b):
    kh, kw, _, o = k.shape
    h, w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((h, w, o))
    for i in range(kh):
        for j in range(kw):
            out += np.tensordot(x[i:i + h, j:j + w, :], k[i, j], axes=([2], [0]))
    return out + b


def maxpool(x):
    h, w = x.shape[0] // 2, x.shape[1] // 2
    x = x[:2 * h, :2 * w].reshape(h, 2, w, 2, -1)
    return x.max(axis=(1, 3))


def main():
    spec = json.load(open(sys.argv[1]))
    W = {k: np.array(v["data"], dtype=np.float64).reshape(v["shape"]) for k, v in spec["weights"].items()}
    x = np.array(spec["image"], dtype=np.float64).reshape(spec["height"], spec["width"], 3)
    convs, dense, genres = len(spec["conv_filters"]), len(spec["dense"] or []), spec["genres"]
    cam = spec.get("cam_layer", convs - 1)

    def conv(i, h):
        return np.maximum(conv_valid(h, W["conv%d/kernel" % i], W["conv%d/bias" % i]), 0)

    h = x
    for i in range(cam):
        h = maxpool(conv(i, h))
    A = conv(cam, h)

    def head(p):
        for i in range(cam + 1, convs):
            p = maxpool(conv(i, p))
        z = p.reshape(-1)
        for i in range(dense):
            z = np.maximum(z @ W["dense%d/kernel" % i] + W["dense%d/bias" % i], 0)
        return z @ W["output/kernel"] + W["output/bias"]

    P = maxpool(A)
    eps = 1e-6
    cams = []
    for c in range(genres):
        gp = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            pp, pm = P.copy(), P.copy()
            pp[idx] += eps
            pm[idx] -= eps
            gp[idx] = (head(pp)[c] - head(pm)[c]) / (2 * eps)
        grad = np.zeros_like(A)
        for i, j, k in np.ndindex(P.shape):
            win = A[2 * i:2 * i + 2, 2 * j:2 * j + 2, k].reshape(-1)
            a = int(np.argmax(win))  # the first maximum
            grad[2 * i + a // 2, 2 * j + a % 2, k] += gp[i, j, k]
        alpha = grad.mean(axis=(0, 1))
        cams.append(np.maximum((A * alpha).sum(axis=2), 0).tolist())
    json.dump({"cams": cams, "logits": head(P).tolist()}, open(sys.argv[2], "w"))


main()
