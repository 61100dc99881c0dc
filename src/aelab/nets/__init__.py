"""Architectures: each builds an encoder and a decoder from the data's shape."""

from aelab.nets.base import Net
from aelab.nets.conv import Conv
from aelab.nets.mlp import MLP

__all__ = ["Conv", "MLP", "Net"]
