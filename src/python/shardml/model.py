"""Reading a shardml model or checkpoint file, and predicting with numpy.

A file written by `shardml train` (model.h5, best.h5, ckpt-*.h5) holds the
parameters under /params (W<l>, b<l>: weights [out, in] and biases of layer
l), the training mean image under /prep/mean ([H*W*C], channels last) and
the hyperparameters as attributes: "model" (softmax, svm, mlp or cnn),
"widths" (the layer widths of softmax/svm/mlp), "net" (a cnn's layer spec),
"image_shape" ([H, W, C]) and "class_names". shardml's forward pass is:

    x = pixels * (1/255) - mean           (float32, the image flattened HWC)
    softmax, svm, mlp: fc layers on x, ReLU between them (none after the last)
    cnn: x as [C, H, W], then the layers of the spec in order

and `shardml predict` writes softmax(scores) for the softmax loss (softmax,
mlp, cnn) and the raw scores for svm. This module reads the file into a
Model whose layers say all of that explicitly, so that the numpy, PyTorch
and ONNX forms below are three readings of the same list of layers.
"""

import re
from dataclasses import dataclass, field

import numpy as np

FORMATS = (1, 2, 3)  # the model file format versions this reader knows


class ShardmlFileError(ValueError):
    """The file is not a shardml model or checkpoint this package can read."""


@dataclass
class Layer:
    """One layer as shardml computes it; `relu` applies after it.

    kind: "fc" (W [out, in], b [out]), "conv" (W [F, C, K, K], b [F]; stride,
    zero padding), "maxpool" or "avgpool" (window k, stride k, floor),
    "dropout" (probability drop while training; passes values on otherwise),
    "bn" (batch normalization with its running statistics: W = gamma,
    b = beta, run_mean, run_var; epsilon 1e-5).
    in_shape/out_shape: (C, H, W) for a cnn's layers, (features,) otherwise.
    """

    kind: str
    in_shape: tuple
    out_shape: tuple
    relu: bool = False
    W: np.ndarray = None
    b: np.ndarray = None
    k: int = 0
    drop: float = 0.0
    stride: int = 1
    pad: int = 0
    run_mean: np.ndarray = None
    run_var: np.ndarray = None


@dataclass
class Model:
    """A trained shardml classifier (see load())."""

    kind: str  # softmax, svm, mlp, cnn
    loss: str  # softmax or svm: what `shardml predict` outputs (probabilities or scores)
    image_shape: tuple  # (H, W, C)
    mean: np.ndarray  # float32 [H, W, C]: subtracted from pixels / 255
    layers: list
    class_names: list
    net: str = ""  # a cnn's spec, as given to `shardml train --net`
    attrs: dict = field(default_factory=dict)  # every attribute of the file

    @property
    def channels_first(self):
        """True when the layers read the image as [C, H, W] (a cnn)."""
        return self.kind == "cnn"

    @property
    def num_classes(self):
        return self.layers[-1].out_shape[0]

    def preprocess(self, images):
        """uint8 (or float 0-255) images [N, H, W, C], [N, H, W] or [N, H*W*C] ->
        float32 [N, C, H, W] for a cnn, [N, H*W*C] otherwise."""
        H, W, C = self.image_shape
        x = np.asarray(images)
        if x.ndim < 1 or x.size != x.shape[0] * H * W * C:
            raise ValueError(f"images of shape {x.shape}: expected [N, {H}, {W}, {C}] (or [N, {H}, {W}] / [N, {H * W * C}])")
        x = x.reshape(x.shape[0], H, W, C).astype(np.float32) * np.float32(1.0 / 255.0) - self.mean
        return x.transpose(0, 3, 1, 2) if self.channels_first else x.reshape(x.shape[0], -1)

    def scores(self, images, batch=512):
        """The class scores [N, classes] (float32), in batches of `batch` images."""
        n = np.asarray(images).shape[0]
        out = np.empty((n, self.num_classes), np.float32)
        for start in range(0, n, batch):
            x = self.preprocess(images[start:start + batch])
            for layer in self.layers:
                x = _FORWARD[layer.kind](layer, x)
                if layer.relu:
                    x = np.maximum(x, 0)
            out[start:start + batch] = x
        return out

    def outputs(self, images):
        """What `shardml predict` writes: probabilities (softmax loss) or scores (svm)."""
        s = self.scores(images)
        return softmax(s) if self.loss == "softmax" else s

    def predict(self, images):
        """The predicted class of each image."""
        return np.argmax(self.scores(images), axis=1)


def softmax(scores):
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fc(layer, x):
    return x.reshape(x.shape[0], -1) @ layer.W.T + layer.b


def _conv(layer, x):
    n, (f, oh, ow), k, s, p = x.shape[0], layer.out_shape, layer.k, layer.stride, layer.pad
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    # windows [N, C, OH, OW, K, K]: a view, no copy until the product
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :oh, :ow]
    out = np.tensordot(win, layer.W, axes=([1, 4, 5], [1, 2, 3]))  # [N, OH, OW, F]
    return out.transpose(0, 3, 1, 2) + layer.b.reshape(1, f, 1, 1)


def _pool(layer, x):
    n, c, oh, ow, k = x.shape[0], layer.out_shape[0], layer.out_shape[1], layer.out_shape[2], layer.k
    win = x[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k)
    return win.max(axis=(3, 5)) if layer.kind == "maxpool" else win.mean(axis=(3, 5), dtype=np.float32)


def _batchnorm(layer, x):
    # as shardml: 1/sqrt in double, then float32 (x - mean) * invstd * gamma + beta
    shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    invstd = (1.0 / np.sqrt(layer.run_var.astype(np.float64) + 1e-5)).astype(np.float32)
    xhat = (x - layer.run_mean.reshape(shape)) * invstd.reshape(shape)
    return layer.W.reshape(shape) * xhat + layer.b.reshape(shape)


def _identity(layer, x):
    return x  # dropout: only while training


_FORWARD = {"fc": _fc, "conv": _conv, "maxpool": _pool, "avgpool": _pool, "dropout": _identity, "bn": _batchnorm}

_ELEMENT = re.compile(r"^(?:conv(\d+)x(\d+)(?:s(\d+))?(?:p(\d+))?|(max|avg)?pool(\d+)|fc(\d+)|(relu)"
                      r"|dropout(\d[0-9.e+-]*)|(bn))$")


def parse_net(spec, image_shape):
    """A cnn spec ("conv32x3,relu,pool2,fc10") -> layers without parameters,
    with shardml's shape rules (default padding (K-1)/2, floor pooling)."""
    H, W, C = image_shape
    shape, layers = (C, H, W), []
    for i, elem in enumerate(spec.split(","), 1):
        m = _ELEMENT.match(elem)
        if not m:
            raise ShardmlFileError(f"network {spec}: element {i} '{elem}' is not a layer this package knows")
        if m.group(8):
            layers[-1].relu = True
            continue
        c, h, w = shape
        if m.group(1):
            f, k = int(m.group(1)), int(m.group(2))
            s = int(m.group(3) or 1)
            p = int(m.group(4)) if m.group(4) is not None else (k - 1) // 2
            out = (f, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            layers.append(Layer("conv", shape, out, k=k, stride=s, pad=p))
        elif m.group(10):
            layers.append(Layer("bn", shape, shape))
        elif m.group(9):
            layers.append(Layer("dropout", shape, shape, drop=float(m.group(9))))
        elif m.group(6):
            k = int(m.group(6))
            kind = "avgpool" if m.group(5) == "avg" else "maxpool"
            layers.append(Layer(kind, shape, (c, h // k, w // k), k=k, stride=k))
        else:
            layers.append(Layer("fc", shape, (int(m.group(7)), 1, 1)))
        shape = layers[-1].out_shape
    return layers


def _attr(attrs, name, path):
    if name not in attrs:
        raise ShardmlFileError(f"{path}: no attribute '{name}' (not a shardml model or checkpoint)")
    v = attrs[name]
    return v.decode() if isinstance(v, bytes) else v


def load(path):
    """Reads a model.h5, best.h5 or ckpt-*.h5 written by `shardml train`."""
    import h5py  # imported here so that the numpy parts work without it

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ShardmlFileError(f"{path}: cannot be read as HDF5 ({e})") from None
    with f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        version = int(_attr(attrs, "format_version", path))
        if version not in FORMATS:
            raise ShardmlFileError(f"{path}: format version {version}; this package reads {FORMATS}")
        kind = str(_attr(attrs, "model", path))
        image_shape = tuple(int(v) for v in _attr(attrs, "image_shape", path))
        if "params" not in f or "prep/mean" not in f:
            raise ShardmlFileError(f"{path}: no /params or /prep/mean (not a shardml model or checkpoint)")
        params = {name: np.asarray(f["params"][name], dtype=np.float32) for name in f["params"]}
        mean = np.asarray(f["prep/mean"], dtype=np.float32)
    H, W, C = image_shape
    if mean.size != H * W * C:
        raise ShardmlFileError(f"{path}: /prep/mean has {mean.size} values, the images {H}x{W}x{C}")
    net = ""
    if kind == "cnn":
        net = str(_attr(attrs, "net", path))
        layers = parse_net(net, image_shape)
    elif kind in ("softmax", "svm", "mlp"):
        widths = [int(v) for v in _attr(attrs, "widths", path)]
        layers = [Layer("fc", (widths[l],), (widths[l + 1],), relu=l + 2 < len(widths)) for l in range(len(widths) - 1)]
    else:
        raise ShardmlFileError(f"{path}: model '{kind}' is not one this package knows (softmax, svm, mlp, cnn)")
    for i, layer in enumerate(layers):
        if layer.kind == "bn":
            names = [f"{n}{i}" for n in ("gamma", "beta", "mean", "var")]
            for name in names:
                if name not in params or params[name].shape != layer.in_shape[:1]:
                    raise ShardmlFileError(f"{path}: no /params/{name} of {layer.in_shape[0]} values for layer {i} (bn)")
            layer.W, layer.b, layer.run_mean, layer.run_var = (params[n] for n in names)
            continue
        if layer.kind not in ("fc", "conv"):
            continue
        for name in (f"W{i}", f"b{i}"):
            if name not in params:
                raise ShardmlFileError(f"{path}: no /params/{name} for layer {i} ({layer.kind})")
        fan_in = int(np.prod(layer.in_shape)) if layer.kind == "fc" else layer.in_shape[0] * layer.k * layer.k
        want = (layer.out_shape[0], fan_in)
        if params[f"W{i}"].shape != want or params[f"b{i}"].shape != want[:1]:
            raise ShardmlFileError(f"{path}: /params/W{i} is {params[f'W{i}'].shape}, layer {i} needs {want}")
        layer.W = params[f"W{i}"]
        if layer.kind == "conv":
            layer.W = layer.W.reshape(layer.out_shape[0], layer.in_shape[0], layer.k, layer.k)
        layer.b = params[f"b{i}"]
    names = attrs.get("class_names")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names is not None else []
    loss = "svm" if kind == "svm" else "softmax"
    return Model(kind, loss, image_shape, mean.reshape(H, W, C), layers, names, net, attrs)
