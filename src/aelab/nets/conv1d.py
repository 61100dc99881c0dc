"""Temporal (1-D) convolutional encoder and transposed-convolution decoder derived from the window."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aelab.nets.base import activation
from aelab.nets.recurrent import SeriesNet
from aelab.utils.errors import require


class SwapTime(nn.Module):
    """Swaps [batch, window, channels] and [batch, channels, window]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).contiguous()  # metrics and losses may .view() the outputs


class TemporalConv(SeriesNet):
    """Stride-2 1-D convolutions until the series is at most `min_length` steps long, then a linear code."""

    vectorisable = True
    name = "conv1d"

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 64, 128),
        kernel_size: int = 5,
        activation: str = "relu",
        batch_norm: bool = False,
        min_length: int = 4,
    ) -> None:
        super().__init__(input_shape)
        require(len(channels) > 0 and all(c > 0 for c in channels), "net.channels must be positive sizes.")
        require(kernel_size % 2 == 1, f"net.kernel_size must be odd, not {kernel_size}.")
        self.kernel_size, self.activation, self.batch_norm = kernel_size, activation, batch_norm
        # Lengths after each stride-2 convolution (odd kernel, padding kernel // 2: ceil(length / 2)).
        lengths = [self.window]
        for _ in channels:
            if lengths[-1] <= min_length:
                break
            lengths.append((lengths[-1] + 1) // 2)
        require(len(lengths) > 1, f"net=conv1d needs windows longer than net.min_length={min_length}.")
        self.lengths = lengths
        self.widths = [self.channels, *[int(c) for c in channels[: len(lengths) - 1]]]

    @property
    def feature_shape(self) -> tuple[int, int]:
        """Shape [channels, length] of the deepest feature map."""
        return (self.widths[-1], self.lengths[-1])

    def _block(self, layer: nn.Module, width: int) -> list[nn.Module]:
        norm = [nn.BatchNorm1d(width)] if self.batch_norm else []
        return [layer, *norm, activation(self.activation)]

    def feature_encoder(self) -> nn.Sequential:
        """Return the convolutional stack mapping series [B, window, channels] to the deepest feature map."""
        k = self.kernel_size
        layers: list[nn.Module] = [SwapTime()]
        for c_in, c_out in zip(self.widths[:-1], self.widths[1:]):
            layers += self._block(nn.Conv1d(c_in, c_out, k, stride=2, padding=k // 2), c_out)
        return nn.Sequential(*layers)

    def feature_decoder(self) -> nn.Sequential:
        """Return the transposed convolutions mapping the deepest feature map back to logits [B, window, channels]."""
        k, layers = self.kernel_size, []
        steps = list(zip(self.widths[1:], self.widths[:-1], self.lengths[1:], self.lengths[:-1]))
        for i, (c_in, c_out, length, length_out) in enumerate(reversed(steps)):
            extra = length_out - (2 * length - 1)
            conv = nn.ConvTranspose1d(c_in, c_out, k, stride=2, padding=k // 2, output_padding=extra)
            layers += [conv] if i == len(steps) - 1 else self._block(conv, c_out)
        return nn.Sequential(*layers, SwapTime())

    def encoder(self, out_dim: int) -> nn.Module:
        width, length = self.feature_shape
        return nn.Sequential(self.feature_encoder(), nn.Flatten(), nn.Linear(width * length, out_dim))

    def decoder(self, in_dim: int) -> nn.Module:
        width, length = self.feature_shape
        return nn.Sequential(
            nn.Linear(in_dim, width * length),
            activation(self.activation),
            nn.Unflatten(1, (width, length)),
            self.feature_decoder(),
        )
