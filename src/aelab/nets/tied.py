"""Tied weights: a decoder whose layers reuse the encoder's weights, mirrored (as in Rifai et al. 2011).

A decoder Linear layer takes the transpose of its mirror's weight; a transposed convolution takes the
mirrored convolution's weight as it is (the two have the same shape and are each other's adjoint).
Each tied layer keeps a bias of its own; the encoder owns every shared weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aelab.utils.errors import require

TRANSPOSED = {nn.ConvTranspose1d: F.conv_transpose1d, nn.ConvTranspose2d: F.conv_transpose2d}


class TiedLinear(nn.Module):
    """A Linear layer whose weight is the transpose of another's; the bias is its own."""

    def __init__(self, source: nn.Linear, bias: bool = True) -> None:
        super().__init__()
        self._source = [source]  # a list, so the weight is registered once, by the encoder
        self.bias = nn.Parameter(torch.zeros(source.in_features)) if bias else None

    @property
    def weight(self) -> torch.Tensor:
        """The transposed weight of the source layer."""
        return self._source[0].weight.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class TiedConvTranspose(nn.Module):
    """A transposed convolution (its stride, padding and output padding) on the weight of a mirrored convolution."""

    def __init__(self, layer: nn.modules.conv._ConvTransposeNd, source: nn.modules.conv._ConvNd) -> None:
        super().__init__()
        self._source = [source]
        self.transpose = TRANSPOSED[type(layer)]
        self.options = dict(
            stride=layer.stride,
            padding=layer.padding,
            output_padding=layer.output_padding,
            groups=layer.groups,
            dilation=layer.dilation,
        )
        self.bias = nn.Parameter(torch.zeros(layer.out_channels)) if layer.bias is not None else None

    @property
    def weight(self) -> torch.Tensor:
        """The weight of the source convolution."""
        return self._source[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transpose(x, self.weight, self.bias, **self.options)


def weighted_layers(module: nn.Module, kinds: tuple[type, ...]) -> list[tuple[nn.Module, str, nn.Module]]:
    """The layers of the given kinds in a module, in the order they run, each with its parent and attribute name."""
    found = []
    for path, child in module.named_modules():  # depth first: nested blocks in place
        if isinstance(child, kinds):
            parent, _, name = path.rpartition(".")
            found.append((module.get_submodule(parent), name, child))
    return found


def mirrors(layer: nn.Module, source: nn.Module) -> bool:
    """Whether a decoder layer can take the weight of an encoder layer."""
    if isinstance(layer, nn.Linear) and isinstance(source, nn.Linear):
        return layer.weight.shape == source.weight.T.shape
    return (
        type(layer) in TRANSPOSED
        and isinstance(source, nn.modules.conv._ConvNd)
        and (layer.weight.shape == source.weight.shape)
    )


def tie_decoder(encoder: nn.Module, decoder: nn.Module) -> None:
    """Make each decoder layer reuse the weight of its mirror in the encoder (refused when the layers do not mirror)."""
    sources = [layer for _, _, layer in weighted_layers(encoder, (nn.Linear, nn.modules.conv._ConvNd))]
    targets = weighted_layers(decoder, (nn.Linear, nn.modules.conv._ConvTransposeNd))
    others = [m for m in encoder.modules() if isinstance(m, nn.RNNBase)]
    require(
        not others
        and len(sources) == len(targets)
        and all(mirrors(layer, source) for (_, _, layer), source in zip(targets, reversed(sources))),
        "model.tied_weights=true needs a decoder that mirrors the encoder's layers (net=mlp, linear, conv or conv1d): "
        "use one of those nets, or model.tied_weights=false.",
    )
    for (parent, name, layer), source in zip(targets, reversed(sources)):
        tied = (
            TiedLinear(source, layer.bias is not None)
            if isinstance(layer, nn.Linear)
            else TiedConvTranspose(layer, source)
        )
        setattr(parent, name, tied)
