"""shardml's models in Python: load, predict with numpy, PyTorch, ONNX.

Pure Python on numpy and h5py (PyTorch and onnx only for those forms).
From the source tree: PYTHONPATH=src/python; installed by `cmake --install`
under share/shardml/python (see docs/guide.md, "Using a model in Python").

    import shardml
    model = shardml.load("run/model.h5")        # or best.h5, ckpt-*.h5
    probs = model.outputs(images)               # uint8 [N, H, W, C]: what `shardml predict` writes
    labels = model.predict(images)
    net = shardml.to_torch(model)               # torch.nn.Sequential; net.state_dict()
    onnx_model = shardml.to_onnx(model)         # onnx.ModelProto; input "images" uint8 NHWC

or from the shell: python3 -m shardml export run/model.h5 --onnx m.onnx --torch m.pt
"""

from .model import Layer, Model, ShardmlFileError, load, softmax

__version__ = "0.1.0"  # shardml's version (tests/python/test_package.py checks they agree)
__all__ = ["Layer", "Model", "ShardmlFileError", "load", "softmax", "to_torch", "to_onnx", "__version__"]


def to_torch(model):
    """The model as a torch.nn.Sequential in eval mode (scores from NHWC pixels)."""
    from .torch_module import to_torch as convert

    return convert(model)


def to_onnx(model):
    """The model as an onnx.ModelProto (opset 13)."""
    from .onnx_export import to_onnx as convert

    return convert(model, producer_version=__version__)
