"""Fully connected encoder and decoder for inputs of any shape."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aelab.nets.base import Net, activation
from aelab.utils.errors import require

NORMS = {"none": None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


class MLP(Net):
    """A stack of Linear layers; with no hidden layers and no activation it is a linear map.

    `init_std` draws every weight and bias from N(0, init_std^2) (Kingma & Welling 2014); `init=glorot` draws the
    weights from Glorot's uniform times `init_gain` and zeroes the biases (the Theano and UFLDL tutorials); neither
    keeps torch's default.
    """

    vectorisable = True

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden_dims: Sequence[int] = (512, 256),
        activation: str = "relu",
        norm: str | None = "none",
        dropout: float = 0.0,
        bias: bool = True,
        init_std: float | None = None,
        init: str | None = None,
        init_gain: float = 1.0,
    ) -> None:
        super().__init__(input_shape)
        self.hidden_dims = [int(h) for h in hidden_dims]
        require(all(h > 0 for h in self.hidden_dims), f"net.hidden_dims must be positive, not {list(hidden_dims)}.")
        norm = norm or "none"
        require(norm in NORMS, f"Unknown net.norm {norm!r}: choose one of {sorted(NORMS)}.")
        require(0 <= dropout < 1, f"net.dropout must be in [0, 1), not {dropout}.")
        require(init_std is None or init_std > 0, f"net.init_std must be positive or null, not {init_std}.")
        require(init in (None, "glorot"), f"net.init must be glorot or null (torch's default), not {init!r}.")
        require(not (init and init_std), "net.init and net.init_std are two initialisations: set one of them.")
        self.activation, self.norm, self.dropout, self.bias = activation, norm, dropout, bias
        self.init_std, self.init, self.init_gain = init_std, init, init_gain

    def _stack(self, sizes: list[int]) -> list[nn.Module]:
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=self.bias))
            if self.init_std:
                for parameter in layers[-1].parameters():
                    nn.init.normal_(parameter, 0.0, self.init_std)
            elif self.init == "glorot":
                nn.init.xavier_uniform_(layers[-1].weight, gain=self.init_gain)
                if layers[-1].bias is not None:
                    nn.init.zeros_(layers[-1].bias)
            if i < len(sizes) - 2:
                if NORMS[self.norm] is not None:
                    layers.append(NORMS[self.norm](sizes[i + 1]))
                layers.append(activation(self.activation))
                if self.dropout:
                    layers.append(nn.Dropout(self.dropout))
        return layers

    def encoder(self, out_dim: int) -> nn.Module:
        return nn.Sequential(nn.Flatten(), *self._stack([self.input_dim, *self.hidden_dims, out_dim]))

    def decoder(self, in_dim: int) -> nn.Module:
        sizes = [in_dim, *reversed(self.hidden_dims), self.input_dim]
        return nn.Sequential(*self._stack(sizes), nn.Unflatten(1, self.input_shape))
