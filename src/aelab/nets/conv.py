"""2-D convolutional encoder and transposed-convolution decoder derived from the input shape."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aelab.nets.base import Net, activation
from aelab.utils.errors import require


class Conv(Net):
    """Stride-2 convolutions until the feature map is at most `min_size` wide, then a linear code."""

    vectorisable = True

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 64, 128),
        activation: str = "relu",
        batch_norm: bool = False,
        min_size: int = 4,
    ) -> None:
        super().__init__(input_shape)
        require(
            len(self.input_shape) == 3,
            f"net=conv needs images shaped [channels, height, width], not {list(input_shape)}; "
            "use net=mlp, or net=lstm/gru/conv1d for series.",
        )
        require(len(channels) > 0 and all(c > 0 for c in channels), "net.channels must be positive sizes.")
        self.activation, self.batch_norm = activation, batch_norm
        # Sizes of the feature maps after each stride-2 convolution (kernel 3, padding 1: ceil(h/2)).
        sizes = [self.input_shape[1:]]
        for _ in channels:
            h, w = sizes[-1]
            if min(h, w) <= min_size:
                break
            sizes.append(((h + 1) // 2, (w + 1) // 2))
        require(len(sizes) > 1, f"net=conv needs images wider than net.min_size={min_size}.")
        self.sizes = sizes
        self.channels = [self.input_shape[0], *[int(c) for c in channels[: len(sizes) - 1]]]

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """Shape [channels, height, width] of the deepest feature map."""
        return (self.channels[-1], *self.sizes[-1])

    def _block(self, layer: nn.Module, channels: int) -> list[nn.Module]:
        norm = [nn.BatchNorm2d(channels)] if self.batch_norm else []
        return [layer, *norm, activation(self.activation)]

    def feature_encoder(self) -> nn.Sequential:
        """Return the convolutional stack mapping images to the deepest feature map."""
        layers: list[nn.Module] = []
        for c_in, c_out in zip(self.channels[:-1], self.channels[1:]):
            layers += self._block(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), c_out)
        return nn.Sequential(*layers)

    def feature_decoder(self) -> nn.Sequential:
        """Return the transposed-convolution stack mapping the deepest feature map back to logits."""
        layers: list[nn.Module] = []
        steps = list(zip(self.channels[1:], self.channels[:-1], self.sizes[1:], self.sizes[:-1]))
        for i, (c_in, c_out, (h, w), (h_out, w_out)) in enumerate(reversed(steps)):
            padding = (h_out - (2 * h - 1), w_out - (2 * w - 1))
            conv = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=padding)
            layers += [conv] if i == len(steps) - 1 else self._block(conv, c_out)
        return nn.Sequential(*layers)

    def encoder(self, out_dim: int) -> nn.Module:
        c, h, w = self.feature_shape
        return nn.Sequential(self.feature_encoder(), nn.Flatten(), nn.Linear(c * h * w, out_dim))

    def decoder(self, in_dim: int) -> nn.Module:
        c, h, w = self.feature_shape
        return nn.Sequential(
            nn.Linear(in_dim, c * h * w),
            activation(self.activation),
            nn.Unflatten(1, (c, h, w)),
            self.feature_decoder(),
        )
