"""A shardml model as an ONNX graph (opset 13), built from its layers.

Input "images": uint8 [N, H, W, C] (N free). Outputs "scores" [N, classes]
and, for the softmax loss, "probabilities" (what `shardml predict` writes).
Written with onnx.helper only, so it needs neither PyTorch nor a runtime.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def to_onnx(model, producer_version=""):
    """The model as an onnx.ModelProto (checked by onnx.checker)."""
    H, W, C = model.image_shape
    nodes, inits = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    nodes.append(helper.make_node("Cast", ["images"], ["pixels"], to=TensorProto.FLOAT))
    nodes.append(helper.make_node("Mul", ["pixels", const("inv255", np.float32(1.0 / 255.0))], ["scaled"]))
    nodes.append(helper.make_node("Sub", ["scaled", const("mean", model.mean)], ["x"]))
    if model.channels_first:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]))
        x = "x_nchw"
    else:
        nodes.append(helper.make_node("Flatten", ["x"], ["x_flat"], axis=1))
        x = "x_flat"
    for i, layer in enumerate(model.layers):
        out = f"layer{i}"
        if layer.kind == "fc":
            if len(layer.in_shape) == 3:
                nodes.append(helper.make_node("Flatten", [x], [f"flat{i}"], axis=1))
                x = f"flat{i}"
            nodes.append(helper.make_node("Gemm", [x, const(f"W{i}", layer.W), const(f"b{i}", layer.b)], [out], transB=1))
        elif layer.kind == "conv":
            p = layer.pad
            nodes.append(
                helper.make_node("Conv", [x, const(f"W{i}", layer.W), const(f"b{i}", layer.b)], [out],
                                 kernel_shape=[layer.k, layer.k], strides=[layer.stride] * 2, pads=[p, p, p, p]))
        elif layer.kind == "bn":  # inference: the running statistics
            nodes.append(
                helper.make_node("BatchNormalization", [x, const(f"gamma{i}", layer.W), const(f"beta{i}", layer.b),
                                                        const(f"mean{i}", layer.run_mean),
                                                        const(f"var{i}", layer.run_var)], [out], epsilon=1e-5))
        elif layer.kind == "dropout":  # inference: values pass on
            nodes.append(helper.make_node("Identity", [x], [out]))
        else:
            op = "MaxPool" if layer.kind == "maxpool" else "AveragePool"
            nodes.append(helper.make_node(op, [x], [out], kernel_shape=[layer.k, layer.k], strides=[layer.k] * 2))
        x = out
        if layer.relu:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"]))
            x = f"relu{i}"
    nodes.append(helper.make_node("Identity", [x], ["scores"]))
    classes = model.num_classes
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", classes])]
    if model.loss == "softmax":
        nodes.append(helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1))
        outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes]))
    graph = helper.make_graph(nodes, f"shardml_{model.kind}",
                              [helper.make_tensor_value_info("images", TensorProto.UINT8, ["N", H, W, C])], outputs,
                              initializer=inits)
    proto = helper.make_model(graph, producer_name="shardml", producer_version=producer_version,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    helper.set_model_props(proto, {"class_names": ",".join(model.class_names), "net": model.net, "model": model.kind})
    onnx.checker.check_model(proto, full_check=True)
    return proto
