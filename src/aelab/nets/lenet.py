"""The LeNet-type convolutional net of Ruff et al. (2018): 5x5 convolutions with max-pooling, no bias terms."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aelab.nets.base import Net, activation
from aelab.utils.errors import require

INITS = ("glorot", "torch")
BATCH_NORM_EPS = 1e-4  # as in the authors' code


def init_glorot(module: nn.Module, gain: float) -> None:
    """Draw the weights of the module's convolutions from Glorot's uniform with `gain`, its linear maps with gain 1."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight, gain=gain)
        elif isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)


class LeNet(Net):
    """Per stage a `kernel_size` convolution, batch norm without affine parameters, the activation and 2x2 max-pooling;
    then a linear code. No layer has a bias (Deep SVDD needs none: Ruff et al. 2018, Sec. 3.3).

    The decoder mirrors it, with upsampling in place of max-pooling (the paper's "symmetric" decoder): a linear map to
    the deepest feature map, batch norm and the activation, then per stage nearest-neighbour upsampling to the size the
    encoder had there, a (transposed, stride 1) convolution, batch norm and the activation; the last gives the logits.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (8, 4),
        kernel_size: int = 5,
        activation: str = "leaky_relu",
        batch_norm: bool = True,
        bias: bool = False,
        init: str = "glorot",
    ) -> None:
        super().__init__(input_shape)
        require(
            len(self.input_shape) == 3,
            f"net=lenet needs images shaped [channels, height, width], not {list(input_shape)}; use net=mlp, "
            "or net=lstm/gru/conv1d for series.",
        )
        require(len(channels) > 0 and all(c > 0 for c in channels), "net.channels must be positive sizes.")
        require(kernel_size > 0 and kernel_size % 2 == 1, f"net.kernel_size must be odd, not {kernel_size}.")
        require(init in INITS, f"net.init must be one of {INITS}, not {init!r}.")
        self.kernel_size, self.activation, self.batch_norm, self.bias = kernel_size, activation, batch_norm, bias
        self.init = init
        self.sizes = [tuple(self.input_shape[1:])]
        for _ in channels:
            h, w = self.sizes[-1]
            require(
                min(h, w) >= 2,
                f"net=lenet halves the image once per entry of net.channels={list(channels)}, and "
                f"{self.input_shape[1]}x{self.input_shape[2]} images cannot be halved that often: use fewer channels.",
            )
            self.sizes.append((h // 2, w // 2))
        self.channels = [self.input_shape[0], *[int(c) for c in channels]]

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """Shape [channels, height, width] of the deepest feature map."""
        return (self.channels[-1], *self.sizes[-1])

    def _conv(self, c_in: int, c_out: int, transposed: bool = False) -> nn.Module:
        # The decoder's are transposed convolutions of stride 1 (a convolution with a flipped kernel, as the authors'
        # decoder has them): each one's weight has the shape of its mirror in the encoder, so the two can be tied.
        kind = nn.ConvTranspose2d if transposed else nn.Conv2d
        return kind(c_in, c_out, self.kernel_size, padding=self.kernel_size // 2, bias=self.bias)

    def _norm_and_activation(self, channels: int) -> list[nn.Module]:
        norm = [nn.BatchNorm2d(channels, eps=BATCH_NORM_EPS, affine=False)] if self.batch_norm else []
        return [*norm, activation(self.activation)]

    def _initialised(self, module: nn.Module) -> nn.Module:
        if self.init == "glorot":
            # The authors' init: Glorot's uniform with the activation's gain on convolutions, gain 1 on linear maps.
            gains = {"leaky_relu": nn.init.calculate_gain("leaky_relu", 0.01), "relu": 2**0.5, "tanh": 5 / 3}
            init_glorot(module, gains.get(self.activation, 1.0))
        return module

    def feature_encoder(self) -> nn.Sequential:
        """Return the convolutional stages mapping images to the deepest feature map."""
        layers: list[nn.Module] = []
        for c_in, c_out in zip(self.channels[:-1], self.channels[1:]):
            layers += [self._conv(c_in, c_out), *self._norm_and_activation(c_out), nn.MaxPool2d(2)]
        return self._initialised(nn.Sequential(*layers))

    def feature_decoder(self) -> nn.Sequential:
        """Return the upsampling stages mapping the deepest feature map back to logits of the input's shape."""
        layers: list[nn.Module] = []
        stages = list(zip(self.channels[1:], self.channels[:-1], self.sizes[:-1]))
        for i, (c_in, c_out, size) in enumerate(reversed(stages)):
            layers += [nn.Upsample(size=size, mode="nearest"), self._conv(c_in, c_out, transposed=True)]
            if i < len(stages) - 1:
                layers += self._norm_and_activation(c_out)
        return self._initialised(nn.Sequential(*layers))

    def encoder(self, out_dim: int) -> nn.Module:
        c, h, w = self.feature_shape
        linear = self._initialised(nn.Linear(c * h * w, out_dim, bias=self.bias))
        return nn.Sequential(self.feature_encoder(), nn.Flatten(), linear)

    def decoder(self, in_dim: int) -> nn.Module:
        c, h, w = self.feature_shape
        linear = self._initialised(nn.Linear(in_dim, c * h * w, bias=self.bias))
        return nn.Sequential(linear, nn.Unflatten(1, (c, h, w)), *self._norm_and_activation(c), self.feature_decoder())
