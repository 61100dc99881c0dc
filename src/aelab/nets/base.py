"""The interface every architecture implements: it knows shapes, not objectives."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from aelab.utils.errors import require

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """Return a fresh activation module by name."""
    require(name in ACTIVATIONS, f"Unknown activation {name!r}: choose one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]()


class Net:
    """Builds an encoder (input to a flat code) and a decoder (flat code to decoder logits)."""

    # `seeds=[...]` may train its modules as vectorised replicas (torch.func.vmap runs them: no recurrent layers,
    # no state updated in place; dropout and batch norm are refused by their settings).
    vectorisable = False

    def __init__(self, input_shape: Sequence[int]) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        require(
            len(self.input_shape) > 0 and all(s > 0 for s in self.input_shape),
            f"data.shape must be a list of positive sizes, not {list(input_shape)}.",
        )

    @property
    def input_dim(self) -> int:
        """Number of values in one sample."""
        return math.prod(self.input_shape)

    def encoder(self, out_dim: int) -> nn.Module:
        """Return a module mapping a batch of inputs to [batch, out_dim]."""
        raise NotImplementedError

    def decoder(self, in_dim: int) -> nn.Module:
        """Return a module mapping [batch, in_dim] to decoder logits of the input's shape."""
        raise NotImplementedError
