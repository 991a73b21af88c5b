"""A shardml model as a PyTorch module (torch.nn), with its state_dict.

The module takes images as shardml reads them, [N, H, W, C] pixels 0-255
(uint8 or float), and returns the class scores; the mean image is a buffer
("prep.mean"), so the state_dict holds everything the model needs.
"""

from collections import OrderedDict

import torch
from torch import nn


class Preprocess(nn.Module):
    """pixels [N, H, W, C] -> pixels / 255 - mean, as [N, C, H, W] for a cnn
    or flattened channels last [N, H*W*C] for the others (shardml's order)."""

    def __init__(self, mean, channels_first: bool):
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(mean.copy()))
        self.channels_first = channels_first
        self.height, self.width, self.channels = (int(v) for v in mean.shape)

    def forward(self, images):
        x = images.reshape(images.shape[0], self.height, self.width, self.channels).float() * (1.0 / 255.0) - self.mean
        return x.permute(0, 3, 1, 2) if self.channels_first else x.flatten(1)


def _layer(layer, flat):
    if layer.kind == "bn":  # after a fully connected layer the values are [N, C]
        m = (nn.BatchNorm1d if flat else nn.BatchNorm2d)(layer.in_shape[0], eps=1e-5)
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(layer.W))
            m.bias.copy_(torch.from_numpy(layer.b))
            m.running_mean.copy_(torch.from_numpy(layer.run_mean))
            m.running_var.copy_(torch.from_numpy(layer.run_var))
        return m
    if layer.kind == "fc":
        m = nn.Linear(layer.W.shape[1], layer.W.shape[0])
    elif layer.kind == "conv":
        m = nn.Conv2d(layer.in_shape[0], layer.out_shape[0], layer.k, stride=layer.stride, padding=layer.pad)
    elif layer.kind == "maxpool":
        return nn.MaxPool2d(layer.k)
    elif layer.kind == "dropout":
        return nn.Dropout(layer.drop)  # the module is in eval mode: it passes values on
    else:
        return nn.AvgPool2d(layer.k)
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(layer.W))
        m.bias.copy_(torch.from_numpy(layer.b))
    return m


def to_torch(model):
    """nn.Sequential(prep, layers...) computing model.scores(); eval mode."""
    parts = [("prep", Preprocess(model.mean, model.channels_first))]
    flat = not model.channels_first
    for i, layer in enumerate(model.layers):
        if layer.kind == "fc" and len(layer.in_shape) == 3:
            parts.append((f"flatten{i}", nn.Flatten()))  # NCHW order, as shardml's fc after a conv
        parts.append((f"layer{i}", _layer(layer, flat)))
        flat = flat or layer.kind == "fc"
        if layer.relu:
            parts.append((f"relu{i}", nn.ReLU()))
    return nn.Sequential(OrderedDict(parts)).eval()
