"""A small ONNX interpreter in numpy (float64), written from the operators'
specifications (onnx.ai/onnx/operators) and independent of the package: it
reads the serialised graph and knows nothing of shardml's layers. Debian 12
has no ONNX runtime and onnx 1.12 has no reference evaluator, so the tests
evaluate exported graphs with this. Only what the exporter may emit is
implemented; anything else is an error, not a guess."""

import numpy as np
from onnx import numpy_helper

_CAST = {1: np.float64, 2: np.uint8, 7: np.int64, 11: np.float64}  # FLOAT computed as double


def _attrs(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        else:
            raise NotImplementedError(f"{node.op_type}: attribute {a.name} of type {a.type}")
    return out


def _conv(x, w, b, a):
    """Direct definition: out[n,f,y,x] = b[f] + sum_{c,i,j} w[f,c,i,j] * xpad[n,c,y*s+i,x*s+j]."""
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("Conv with groups or dilation")
    kh, kw = w.shape[2:]
    sh, sw = a.get("strides", [1, 1])
    top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(kh):  # one kernel tap at a time: a product over channels for every output position
        for j in range(kw):
            patch = xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]  # [N, C, OH, OW]
            out += np.einsum("ncyx,fc->nfyx", patch, w[:, :, i, j])
    return out + b.reshape(1, -1, 1, 1)


def _pool(x, a, reduce):
    if any(p != 0 for p in a.get("pads", [0, 0, 0, 0])) or a.get("ceil_mode", 0):
        raise NotImplementedError("pooling with padding or ceil_mode")
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    taps = [x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] for i in range(kh) for j in range(kw)]
    return reduce(np.stack(taps), axis=0)


def _softmax(x, axis):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _gemm(a_, b_, c_, attrs):
    if attrs.get("transA", 0):
        a_ = a_.T
    if attrs.get("transB", 0):
        b_ = b_.T
    return attrs.get("alpha", 1.0) * (a_ @ b_) + attrs.get("beta", 1.0) * c_


def run(model, feeds):
    """Evaluates model (onnx.ModelProto) on feeds {input name: array}; returns {output name: array}."""
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:  # ONNX requires the nodes in topological order
        a = _attrs(node)
        x = [env[name] for name in node.input]
        op = node.op_type
        if op == "Cast":
            y = x[0].astype(_CAST[a["to"]])
        elif op in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](x[0], x[1])
        elif op == "Transpose":
            y = np.transpose(x[0], a["perm"])
        elif op == "Flatten":
            axis = a.get("axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif op == "Gemm":
            y = _gemm(x[0], x[1], x[2] if len(x) > 2 else 0.0, a)
        elif op == "Conv":
            y = _conv(x[0], x[1], x[2] if len(x) > 2 else np.zeros(x[1].shape[0]), a)
        elif op == "MaxPool":
            y = _pool(x[0], a, np.max)
        elif op == "AveragePool":
            y = _pool(x[0], a, np.mean)
        elif op == "BatchNormalization":  # inference: Y = (X - mean) / sqrt(var + epsilon) * scale + B, per axis 1
            shape = (1, -1) + (1,) * (x[0].ndim - 2)
            scale, bias, mean, var = (v.reshape(shape) for v in x[1:5])
            y = (x[0] - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * scale + bias
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "Identity":
            y = x[0]
        elif op == "Softmax":
            y = _softmax(x[0], a.get("axis", -1))
        else:
            raise NotImplementedError(f"operator {op}")
        env[node.output[0]] = y
    return {o.name: env[o.name] for o in model.graph.output}
